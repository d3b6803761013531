import ArgumentParser
import Foundation
import Devices
import Platform
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
    }

    func run() throws {
        try ServeLifecycle.run("gpu", logging: logging) { logger in
            let modes = options.modes
            logger.info("outputs: \(modes.map(\.description).joined(separator: ", "))")
            var snapshots: [ScanoutSnapshots] = []
            // One device per front end: resources and scanouts are each VM's own.
            let servers = try options.endpoints.all.map { endpoint in
                let device = GpuDevice(modes: modes, logger: logger)
                if let directory = options.snapshots {
                    let name = URL(fileURLWithPath: endpoint.path).deletingPathExtension().lastPathComponent
                    let sink = try ScanoutSnapshots(directory: directory, name: name, logger: logger)
                    device.addSink(sink)
                    snapshots.append(sink)
                }
                return try VhostUserServer(endpoint: endpoint, device: device, logger: logger)
            }
            return .init(servers: servers) { for sink in snapshots { sink.stop() } }
        }
    }
}
