import AVPTestSupport
import Devices
import Foundation
import Logging
import SystemCalls
import Testing
import Virtio

/// `avp conformance --probe SOCKET --kind gpu` against AVP's GPU and QEMU's C vhost-user-gpu.
@Suite(.serialized) struct ProbeOfGpuBackEnds {
    @Test func avps17to22AVPsGpuServer() throws {
        let server = try ProbeServer { _ in GpuDevice(modes: [.standard], logger: Logger(label: "test.probe.gpu")) }
        let report = try ProbeRunner.run(socket: server.socketPath, kind: "gpu")
        #expect(report.finding(17)?.verdict == .notDecidable)
        for id in [18, 19, 20, 21, 22] { #expect(report.finding(id)?.verdict == .met, "\(report.text)") }
        // AVP makes its EDID itself, for its own display mode.
        #expect(report.finding(20)?.evidence.contains { $0.hasPrefix("the back end made it itself") } == true, "\(report.text)")
        #expect(report.finding(22)?.evidence.contains { $0.contains("GET_DISPLAY_INFO (enabled: scanout 0 1920×1080)") } == true,
                "\(report.text)")
    }

    /// A GPU that offers VIRGL: {AVPS-v2.0-19} is not met (the probe still drives it in 2D).
    @Test func avps19VirglOfferedIsNotMet() throws {
        let server = try ProbeServer { _ in
            FeatureEditedDevice(GpuDevice(modes: [.standard], logger: Logger(label: "test.probe.gpu")), adding: VirtioFeatures(bit: 0))
        }
        let report = try ProbeRunner.run(socket: server.socketPath, kind: "gpu")
        #expect(report.finding(19)?.verdict == .notMet)
        #expect(report.finding(22)?.verdict == .met, "\(report.text)")
    }

    @Test func avps17to22QemusVhostUserGpu() throws {
        let executable = "/usr/lib/qemu/vhost-user-gpu"
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            print("skipped: \(executable) is not installed (qemu-system-gui; scripts/host-setup installs it)")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-vugpu-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--socket-path=\(directory)/gpu.sock"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            // It serves one connection and exits when it closes; make sure.
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            while process.isRunning { MonotonicClock.sleep(milliseconds: 10) }
        }
        let report = try ProbeRunner.run(socket: "\(directory)/gpu.sock", kind: "gpu")
        // Whatever this QEMU's version offers, the 2D flow must work through the probe's display socket.
        #expect(report.finding(19)?.verdict == .met, "\(report.text)")
        // QEMU's C back end leaves num_scanouts to QEMU's front end (0 in its own configuration space).
        #expect(report.finding(21)?.verdict != .notMet, "\(report.text)")
        #expect(report.finding(22)?.verdict == .met, "\(report.text)")
        #expect(report.finding(18)?.verdict == .met, "\(report.text)")
        #expect(report.finding(22)?.evidence.contains { $0.contains("GET_DISPLAY_INFO (enabled: scanout 0 1024×768)") } == true,
                "the display info comes from the probe's display socket: \(report.text)")
    }
}
