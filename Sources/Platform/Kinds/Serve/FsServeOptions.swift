import ArgumentParser
import Devices

/// `avp serve fs`: a shared directory as virtio-fs (VIRTIO 1.2 §5.11) for one VM per endpoint,
/// read-only or read-write.
public struct FsServeOptions: EndpointServeOptions {
    public static let command = "fs"

    @OptionGroup public var endpoints: ServeEndpoints
    @Option(help: ArgumentHelp("The host directory the guests see (every name resolved inside it).", valueName: "directory"))
    public var sharedDir: String
    @Flag(help: "Refuse every change with EROFS.")
    public var readOnly = false
    @Option(help: "Request queues, as QEMU's num-request-queues (1 to 16; default 1).")
    public var requestQueues = 1

    public init() {}

    public init(endpoints: ServeEndpoints, sharedDir: String, readOnly: Bool, requestQueues: Int = 1) {
        self = .with {
            $0.endpoints = endpoints
            $0.sharedDir = sharedDir
            $0.readOnly = readOnly
            $0.requestQueues = requestQueues
        }
    }

    public var arguments: [String] {
        endpoints.arguments + ["--shared-dir", sharedDir] + (readOnly ? ["--read-only"] : []) + ["--request-queues", String(requestQueues)]
    }

    public func validate() throws {
        try endpoints.requireSome()
        if !(1...16).contains(requestQueues) { throw ValidationError("--request-queues is 1 to 16") }
        if sharedDir.isEmpty { throw ValidationError("--shared-dir names the directory to share") }
    }
}
