import ArgumentParser
import Devices
import Foundation
import Logging
import Platform
import VhostUser

/// `avp serve vsock`: virtio-vsock for several VMs, host streams and VM-to-VM policy.
struct ServeVsock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vsock",
        abstract: "virtio-vsock back end (VIRTIO 1.2 §5.10) for several VMs; AVPS-v2.0-16.",
        discussion: """
            Each --vm is one guest, given as comma-separated key=value pairs:
              name=NAME,cid=N,listen=SOCKET|connect=SOCKET,uds=PATH

            Host processes reach guest port P by connecting to PATH and writing "CONNECT P\\n"; a guest's connection to CID 2 port P reaches the Unix socket PATH_P. --allow A:B lets VMs A and B connect to each other; every other VM-to-VM connection is refused (RST).

            QEMU example:
              -chardev socket,id=v0,path=SOCKET -device vhost-user-vsock-pci,chardev=v0
            """)

    @Option(help: "A VM: name=,cid=,listen=|connect=,uds= (repeat).") var vm: [String]
    @Option(help: "A pair of VM names allowed to connect to each other, NAME:NAME (repeat).") var allow: [String] = []
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let signals = TerminationSignals()
        _ = try logging.bootstrap()
        let logger = Logger(label: "avp.vsock")
        var specs: [(name: String, cid: UInt64, endpoint: VhostUserServer.Endpoint, uds: String)] = []
        for text in vm {
            var f: [String: String] = [:]
            for part in text.split(separator: ",") {
                let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { throw ValidationError("vm '\(text)': '\(part)' is not key=value") }
                f[kv[0]] = kv[1]
            }
            let cids = PlatformLimits.vsockCIDs
            guard let name = f["name"], let cidText = f["cid"], let uds = f["uds"] else {
                throw ValidationError("vm \(UserText.quoted(text)): needs name=, cid= and uds=")
            }
            guard let cid = UInt64(cidText), cid >= cids.lowerBound, cid <= cids.upperBound else {
                throw ValidationError("vm \(UserText.quoted(name)): cid=\(UserText.shortened(cidText)) is not from \(cids.lowerBound) to \(cids.upperBound)")
            }
            let endpoint: VhostUserServer.Endpoint
            if let p = f["listen"] { endpoint = .listen(p) } else if let p = f["connect"] { endpoint = .connect(p) } else {
                throw ValidationError("vm \(name): give listen=SOCKET or connect=SOCKET")
            }
            specs.append((name, cid, endpoint, uds))
        }
        let cidOf = Dictionary(specs.map { ($0.name, $0.cid) }, uniquingKeysWith: { a, _ in a })
        let pairs = try allow.map { pair -> (UInt64, UInt64) in
            let names = pair.split(separator: ":").map(String.init)
            guard names.count == 2, let a = cidOf[names[0]], let b = cidOf[names[1]] else {
                throw ValidationError("--allow \(pair): use NAME:NAME of two --vm names")
            }
            return (a, b)
        }
        let router = VsockRouter(allowedPairs: pairs)
        let servers = try specs.map { spec in
            try VhostUserServer(endpoint: spec.endpoint,
                                device: VsockDevice(cid: spec.cid, hostSocketPath: spec.uds, router: router, logger: logger),
                                logger: logger)
        }
        for server in servers { try server.start() }
        logger.info("vsock for \(specs.map { "\($0.name) (cid \($0.cid))" }.joined(separator: ", ")); allowed pairs: \(allow)")
        let signal = signals.wait()
        logger.info("signal \(signal): stopping")
        StopDeadline.arm(what: "avp serve")
        VhostUserServer.stopAll(servers)
    }
}
