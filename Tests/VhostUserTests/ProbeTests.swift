import AVPTestSupport
import Devices
import Foundation
import SystemCalls
import Testing
import Virtio

/// `avp conformance --probe`: the Swift front end judging back ends it did not build.
@Suite(.serialized) struct ProbeOfBackEnds {
    @Test func avps4to7AVPsBlockServerMeetsTheBlockRequirements() throws {
        let server = try ProbeServer.block()
        // A recognisable first sector: the probe must leave it as it found it.
        let image = try FileHandle(forUpdating: URL(fileURLWithPath: server.imagePath))
        let original = (0..<8192).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        try image.write(contentsOf: Data(original))
        try image.synchronize()

        let report = try ProbeRunner.run(socket: server.socketPath, kind: "block", options: ProbeOptions(allowWrites: true))
        for id in [4, 5, 6, 7] { #expect(report.finding(id)?.verdict == .met, "\(report.text)") }
        #expect(report.finding(5)?.evidence.contains("FLUSH request: OK") == true)
        #expect(report.finding(7)?.evidence.contains { $0.hasPrefix("--allow-writes: DISCARD sectors 0-7: OK") } == true)
        #expect(report.finding(4)?.evidence.contains { $0.contains("pattern intact: yes") } == true)
        try image.seek(toOffset: 0)
        #expect(Array(try image.read(upToCount: 8192) ?? Data()) == original, "the probe changed the image")
    }

    @Test func avps7WithoutAllowWritesDiscardIsNotTriedAndNoDataChanges() throws {
        let server = try ProbeServer.block()
        let report = try ProbeRunner.run(socket: server.socketPath, kind: "blk")
        #expect(report.finding(4)?.verdict == .met, "\(report.text)")
        #expect(report.finding(7)?.verdict == .notDecidable)
        #expect(report.finding(7)?.summary.contains("--allow-writes") == true)
        #expect(report.finding(4)?.evidence.contains { $0.hasPrefix("--allow-writes") } == false)
        #expect(report.finding(4)?.evidence.contains { $0.contains("WRITE sector 0 with the bytes just read (unchanged): OK") } == true)
    }

    @Test func avps5BackEndWithoutFlushIsNotMet() throws {
        let server = try ProbeServer.block { FeatureEditedDevice($0, withdrawing: [BlockFeature.flush, BlockFeature.discard]) }
        let report = try ProbeRunner.run(socket: server.socketPath, kind: "block", options: ProbeOptions(allowWrites: true))
        #expect(report.finding(5)?.verdict == .notMet, "\(report.text)")
        #expect(report.finding(5)?.summary == "VIRTIO_BLK_F_FLUSH (bit 9) not offered")
        #expect(report.finding(7)?.verdict == .notMet)
        // The rest of the device is still fine.
        #expect(report.finding(4)?.verdict == .met)
        #expect(report.finding(6)?.verdict == .met)
    }

    @Test func avps4to7QemuStorageDaemonExport() throws {
        guard let executable = StorageDaemon.path else {
            print("skipped: qemu-storage-daemon is not installed (scripts/host-setup installs it)")
            return
        }
        let daemon = try StorageDaemon(executable: executable)
        let report = try ProbeRunner.run(socket: daemon.socketPath, kind: "block", options: ProbeOptions(allowWrites: true))
        // qemu-storage-daemon's vhost-user-blk export offers FLUSH, CONFIG_WCE and DISCARD (QEMU 7.2 and later).
        for id in [4, 5, 6, 7] { #expect(report.finding(id)?.verdict == .met, "\(report.text)") }
    }

    @Test func avps40and41AVPsEntropyServerServesRandomBytes() throws {
        let server = try ProbeServer { _ in EntropyDevice() }
        let report = try ProbeRunner.run(socket: server.socketPath, kind: "entropy")
        #expect(report.finding(40)?.verdict == .met, "\(report.text)")
        #expect(report.finding(41)?.verdict == .met, "\(report.text)")
    }

    @Test func avps40ConstantBytesAreNotAGoodSource() throws {
        let server = try ProbeServer { _ in ConstantEntropyDevice() }
        let report = try ProbeRunner.run(socket: server.socketPath, kind: "rng")
        #expect(report.finding(40)?.verdict == .notMet)
        #expect(report.finding(40)?.summary == "the bytes are constant")
        // The queue itself works as §5.4 says.
        #expect(report.finding(41)?.verdict == .met)
    }

    @Test func reportsRenderAsTextMarkdownAndJSON() throws {
        let server = try ProbeServer { _ in EntropyDevice() }
        let report = try ProbeRunner.run(socket: server.socketPath, kind: "entropy")
        #expect(report.text.contains("AVPS-v2.0-40: met: "))
        #expect(report.markdown.contains("| AVPS-v2.0-41 | met |"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        #expect(object["kind"] as? String == "entropy")
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.map { $0["id"] as? String } == ["AVPS-v2.0-40", "AVPS-v2.0-41"])
        #expect(findings.allSatisfy { $0["verdict"] as? String == "met" })
    }

    /// A probe leaves no session behind: the back end is free for the VMM (or the next probe).
    @Test func probeDisconnectsWhenDone() throws {
        let server = try ProbeServer.block()
        for _ in 0..<2 {
            _ = try ProbeRunner.run(socket: server.socketPath, kind: "block")
            let deadline = MonotonicClock.seconds() + 5
            while server.server.isConnected, MonotonicClock.seconds() < deadline { MonotonicClock.sleep(milliseconds: 5) }
            #expect(!server.server.isConnected)
        }
        #expect(server.server.connectionCount == 2)
    }

    @Test func unknownKindAndMissingSocketAreErrors() {
        #expect(throws: ProbeError.unknownKind("floppy")) { try ProbeRunner.run(socket: "/nonexistent", kind: "floppy") }
        #expect(throws: ProbeError.self) {
            try ProbeRunner.run(socket: "/nonexistent/avp.sock", kind: "block", options: ProbeOptions(connectTimeoutSeconds: 0.1))
        }
    }
}
