import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import Devices
import SystemCalls
import VhostUser

struct ServeGpu: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: GpuServeOptions.command,
        abstract: "virtio-gpu 2D back end (VIRTIO 1.2 §5.7) with EDID, for QEMU's vhost-user-gpu; AVPS-v2.0-17 to 22.",
        discussion: """
            Every VM gets the outputs given with --output; each output's EDID carries its mode and physical size. Scanouts are shown in QEMU's own display through the socket QEMU hands over (vhost-user-gpu.rst).

            QEMU example (q35; on microvm use -device vhost-user-gpu and -global virtio-mmio.force-legacy=false):
              -object memory-backend-memfd,id=mem,size=512M,share=on
              -machine q35,memory-backend=mem -vga none
              -chardev socket,id=gpu,path=PATH
              -device vhost-user-gpu-pci,chardev=gpu
            """)

    @OptionGroup var options: GpuServeOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let snapshots = options.snapshots { try OutputFile.checkDirectory(of: snapshots + "/x.png") }
        // The statistics are written in the background, where a failure would go unnoticed.
        if let stats = options.stats { try OutputFile.checkDirectory(of: stats) }
        if let file = options.webURLFile { try OutputFile.checkDirectory(of: file) }
    }

    func run() throws {
        try ServeLifecycle.run("gpu", logging: logging, sandbox: activeSandbox) { logger in
            // Composition first, so every VM's device can hand it its scanouts from the start.
            let policies = try options.displayPolicies
            let compositor = policies.isEmpty ? nil : try Compositor(displays: policies, logger: logger)
            var snapshots: [ScanoutSnapshots] = []
            if let directory = options.snapshots, let compositor {
                let displays = try ScanoutSnapshots(directory: directory, name: "display", logger: logger)
                compositor.addOutput(displays)
                snapshots.append(displays)
            }
            for policy in policies {
                logger.info("display \(policy.name): \(policy.width)x\(policy.height), layers \(policy.layers.map(\.source.description).joined(separator: ", "))")
            }
            // One device per VM: resources and scanouts are each VM's own.
            let servers = try options.servedVMs.map { vm in
                logger.info("\(vm.name): outputs \(vm.modes.map(\.description).joined(separator: ", "))")
                let device = GpuDevice(modes: vm.modes, name: "AVP \(vm.name)", logger: logger)
                if let compositor { device.addSink(compositor.sink(for: vm.name)) }
                if let directory = options.snapshots {
                    let sink = try ScanoutSnapshots(directory: directory, name: vm.name, logger: logger)
                    device.addSink(sink)
                    snapshots.append(sink)
                }
                return try VhostUserServer(endpoint: vm.endpoint, device: device, logger: logger)
            }
            let stats = compositor.flatMap { compositor in options.stats.map { StatisticsFile(path: $0) { compositor.statistics.json } } }
            stats?.start()
            let web = try compositor.flatMap { try webView(of: $0, policies: policies, logger: logger) }
            let control = try compositor.flatMap { compositor in
                try options.control.map { try DisplayControlServer(path: $0, compositor: compositor, logger: logger) }
            }
            return .init(servers: servers) {
                control?.stop()
                web?.stop()
                stats?.write()
                compositor?.stop()
                for sink in snapshots { sink.stop() }
                if let statistics = compositor?.statistics { logger.notice("composition: \(statistics)") }
            }
        }
    }

    /// The live web view of the displays, when asked for; its address is logged and written
    /// to `--web-url-file` (replaced atomically: `avp up` and `avp status` read it).
    private func webView(of compositor: Compositor, policies: [DisplayPolicy], logger: Logger) throws -> WebView? {
        guard let port = options.webPort else { return nil }
        let displays = policies.compactMap { p in compositor.outputs[p.name].map { (name: p.name, frame: $0) } }
        let targets = Dictionary(options.touch.map { ($0.vm, TouchEventsClient(path: $0.events, logger: logger) as TouchTarget) },
                                 uniquingKeysWith: { first, _ in first })
        let touches = targets.isEmpty ? nil : TouchRouter(compositor: compositor, targets: targets)
        let web = try WebView(port: port, title: "AVP displays", displays: displays,
                              statistics: { compositor.statistics }, touches: touches, logger: logger)
        logger.notice("web view of the displays: \(web.url)")
        if let file = options.webURLFile {
            try Data((web.url + "\n").utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
        }
        return web
    }
}
