import ArgumentParser

/// `avp serve entropy`: one endpoint per VM.
public struct EntropyServeOptions: EndpointServeOptions {
    public static let command = "entropy"
    @OptionGroup public var endpoints: ServeEndpoints

    @Option(help: SandboxMode.help) public var sandbox: SandboxMode = .namespace

    public init() {}

    public init(endpoints: ServeEndpoints) {
        self = .with {
            $0.sandbox = .namespace
            $0.endpoints = endpoints
        }
    }

    public var arguments: [String] { endpoints.arguments + sandbox.arguments }

    public func validate() throws { try endpoints.requireSome() }
}
