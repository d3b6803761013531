import ArgumentParser

/// The options of one `avp serve <command>` server: the plan writes them as arguments
/// and the command reads those arguments back with `parse`, so the two never drift
/// (round-trip tests in ServeOptionsTests).
public protocol ServeOptions: ParsableArguments, Sendable {
    /// The `avp serve` subcommand: "entropy", "switch".
    static var command: String { get }
    /// Arguments that `Self.parse` reads back into the same options.
    var arguments: [String] { get }
}

extension ServeOptions {
    /// The server's whole command line after the `avp` executable.
    public var commandLine: [String] { ["serve", Self.command] + arguments }
}

extension ParsableArguments {
    /// Options made from values rather than parsed: the plan's way of making them. Set
    /// inside `body`, never in an initializer: there, assigning a property whose
    /// ArgumentParser wrapper has a default value reads the unparsed wrapper first and traps.
    static func with(_ body: (inout Self) -> Void) -> Self {
        var options = Self()
        body(&options)
        return options
    }
}
