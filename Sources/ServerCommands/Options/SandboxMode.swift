import ArgumentParser

/// `--sandbox` of every `avp serve`: how the server is confined once it has opened what it needs
/// (issue 16; docs/sandbox.md). The plan writes it for every server it launches.
public enum SandboxMode: String, CaseIterable, Sendable, ExpressibleByArgument {
    /// Own PID, mount, network and IPC namespaces; a root holding only what the kind still needs;
    /// its capabilities only (none for most kinds); resource limits; a seccomp allow-list.
    case namespace
    /// None: for debugging, or where namespaces are not allowed (not root).
    case none

    /// The option's help, one text for every kind.
    public static let help = ArgumentHelp(
        "namespace (default): own namespaces, a root holding only what the server still needs, no capabilities, resource limits, "
            + "a seccomp allow-list (needs root); none: no sandbox, for debugging.", valueName: "mode")

    /// The option as the plan writes it.
    public var arguments: [String] { ["--sandbox", rawValue] }
}
