import ArgumentParser
import Devices
import Foundation
import Logging
import Platform
import SystemCalls
import VhostUser

/// `avp serve switch`: one virtual Ethernet switch, one vhost-user-net port per VM interface.
struct ServeSwitch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switch",
        abstract: "Virtual Ethernet switch for virtio-net ports (VIRTIO 1.2 §5.1); AVPS-v2.0-8 to 15.",
        discussion: """
            Each --port is one VM interface, given as comma-separated key=value pairs:
              name=NAME                      the port's name in logs and statistics
              listen=SOCKET|connect=SOCKET   its vhost-user socket
              mac=MAC                        the interface's stable MAC
              mtu=N                          its MTU, 68 to 65535 (default 1500)
              mac-change=allow|deny          may the guest use a MAC of its own?
              allow=MAC+MAC...               further source MACs it may use under deny

            QEMU example for a port with listen=/tmp/ivi.sock:
              -chardev socket,id=n0,path=/tmp/ivi.sock
              -netdev vhost-user,id=net0,chardev=n0
              -device virtio-net-pci,netdev=net0,mac=MAC,host_mtu=N
            """)

    @Option(help: "A VM interface: name=,listen=|connect=,mac= and optionally mtu=,mac-change=,allow= (repeat for each).")
    var port: [String]
    @Option(help: "Write every port's counters here as JSON, once a second and on exit.")
    var stats: String?
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        // The statistics are written in the background, where a failure would go unnoticed.
        if let stats { try OutputFile.checkDirectory(of: stats) }
    }

    func run() throws {
        let signals = TerminationSignals()
        _ = try logging.bootstrap()
        let logger = Logger(label: "avp.switch")
        let fabric = EthernetSwitch()
        var servers: [VhostUserServer] = []
        for text in port {
            let (policy, endpoint) = try Self.parse(text)
            let device = try SwitchPort(policy: policy, switch: fabric, logger: logger)
            servers.append(try VhostUserServer(endpoint: endpoint, device: device, logger: logger))
            logger.info("port \(policy.name): \(policy.mac), MTU \(policy.mtu), MAC change \(policy.macChange.rawValue)")
        }
        for server in servers { try server.start() }
        let writer = stats.map { path in
            try? OSThread(name: "avp-switch-stats") {
                while true {
                    Self.writeStats(fabric, to: path)
                    MonotonicClock.sleep(milliseconds: 1000)
                }
            }
        }
        _ = writer
        let signal = signals.wait()
        logger.info("signal \(signal): stopping")
        StopDeadline.arm(what: "avp serve")
        VhostUserServer.stopAll(servers)
        if let stats { Self.writeStats(fabric, to: stats) }
        for (name, c) in fabric.counters.sorted(by: { $0.key < $1.key }) {
            logger.notice("port \(name): from guest \(c.framesFromGuest), to guest \(c.framesToGuest), dropped source MAC \(c.droppedSourceMAC), oversize \(c.droppedOversize), malformed \(c.droppedMalformed), backlog \(c.droppedBacklog)")
        }
    }

    static func writeStats(_ fabric: EthernetSwitch, to path: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(fabric.counters) else { return }
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func parse(_ text: String) throws -> (NetPortPolicy, VhostUserServer.Endpoint) {
        var fields: [String: String] = [:]
        for part in text.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw ValidationError("port '\(text)': '\(part)' is not key=value") }
            fields[kv[0]] = kv[1]
        }
        guard let name = fields["name"] else { throw ValidationError("port '\(text)': name= is missing") }
        guard let macText = fields["mac"], let mac = MACAddress(macText), !mac.isMulticast else {
            throw ValidationError("port \(name): mac= must be a unicast MAC address")
        }
        let endpoint: VhostUserServer.Endpoint
        if let path = fields["listen"] { endpoint = .listen(path) } else if let path = fields["connect"] { endpoint = .connect(path) } else {
            throw ValidationError("port \(name): give listen=SOCKET or connect=SOCKET")
        }
        var policy = NetPortPolicy(name: name, mac: mac)
        if let mtu = fields["mtu"] {
            guard let n = Int(mtu), (68...65535).contains(n) else { throw ValidationError("port \(name): mtu=\(mtu) is not in 68...65535") }
            policy.mtu = n
        }
        if let change = fields["mac-change"] {
            guard let c = NetPortPolicy.MACChange(rawValue: change) else { throw ValidationError("port \(name): mac-change=allow or deny") }
            policy.macChange = c
        }
        if let allowed = fields["allow"] {
            policy.extraMACs = try allowed.split(separator: "+").map {
                guard let m = MACAddress(String($0)) else { throw ValidationError("port \(name): allow=\($0) is not a MAC address") }
                return m
            }
        }
        let known: Set = ["name", "mac", "listen", "connect", "mtu", "mac-change", "allow"]
        if let unknown = fields.keys.first(where: { !known.contains($0) }) {
            throw ValidationError("port \(name): unknown key '\(unknown)'")
        }
        return (policy, endpoint)
    }
}
