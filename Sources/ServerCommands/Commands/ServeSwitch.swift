import ArgumentParser
import Devices
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemCalls
import VhostUser

/// `avp serve switch`: one virtual Ethernet switch, one vhost-user-net port per VM interface.
struct ServeSwitch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: SwitchServeOptions.command,
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

    @OptionGroup var options: SwitchServeOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        // The statistics are written in the background, where a failure would go unnoticed.
        if let stats = options.stats { try OutputFile.checkDirectory(of: stats) }
    }

    func run() throws {
        try ServeLifecycle.run("switch", logging: logging, sandbox: activeSandbox) { logger in
            let fabric = EthernetSwitch()
            let servers = try options.port.map { port in
                let device = try SwitchPort(policy: port.policy, switch: fabric, logger: logger)
                let policy = port.policy
                logger.info("port \(policy.name): \(policy.mac), MTU \(policy.mtu), MAC change \(policy.macChange.rawValue)")
                return try VhostUserServer(endpoint: port.endpoint, device: device, logger: logger)
            }
            let stats = options.stats.map { path in
                StatisticsFile(path: path) {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    return (try? encoder.encode(fabric.counters)).map { [UInt8]($0) }
                }
            }
            stats?.start()
            return .init(servers: servers) {
                stats?.write()
                for (name, c) in fabric.counters.sorted(by: { $0.key < $1.key }) {
                    logger.notice("port \(name): from guest \(c.framesFromGuest), to guest \(c.framesToGuest), dropped source MAC \(c.droppedSourceMAC), oversize \(c.droppedOversize), malformed \(c.droppedMalformed), backlog \(c.droppedBacklog)")
                }
            }
        }
    }
}
