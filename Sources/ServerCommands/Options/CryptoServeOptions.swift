import ArgumentParser

/// `avp serve crypto`: one endpoint per VM, each VM with its own session table, each table
/// limited to `maxSessions`.
public struct CryptoServeOptions: EndpointServeOptions {
    public static let command = "crypto"
    /// Sessions a VM may hold open unless told otherwise: the Linux driver opens two per key
    /// (encrypt and decrypt), and its self-tests a handful at a time.
    public static let defaultMaxSessions = 64

    @OptionGroup public var endpoints: ServeEndpoints
    @Option(help: ArgumentHelp("Sessions each VM may hold open (\(PlatformLimits.cryptoSessions.lowerBound)-\(PlatformLimits.cryptoSessions.upperBound)).",
                               valueName: "n"))
    public var maxSessions: Int = CryptoServeOptions.defaultMaxSessions

    @Option(help: SandboxMode.help) public var sandbox: SandboxMode = .namespace

    public init() {}

    public init(endpoints: ServeEndpoints, maxSessions: Int = CryptoServeOptions.defaultMaxSessions) {
        self = .with {
            $0.sandbox = .namespace
            $0.endpoints = endpoints
            $0.maxSessions = maxSessions
        }
    }

    public var arguments: [String] {
        endpoints.arguments
            + (maxSessions == Self.defaultMaxSessions ? [] : ["--max-sessions", String(maxSessions)]) + sandbox.arguments
    }

    public func validate() throws {
        try endpoints.requireSome()
        guard PlatformLimits.cryptoSessions.contains(maxSessions) else {
            throw ValidationError("--max-sessions \(maxSessions) is outside \(PlatformLimits.cryptoSessions)")
        }
    }
}
