import Foundation
import Platform
import Testing

/// Two VMs of one platform draw; the GPU server composes them onto one display under the
/// platform file's policy, and `avp screenshot` writes what the display shows.
@Suite(.serialized) struct CompositionInRealGuests {
    @Test("AVPS-v2.0-27/28/29: two VMs composed onto one display: placement, z-order, opacity within ±1; a covered safety region is reported")
    func twoVMsOnOneDisplay() throws {
        try GuestHarness.checkPrerequisites()
        try GuestImage.backports.ensureBuilt()
        let dir = try GuestHarness.workDirectory("composition")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let platform = try RunningPlatform(name: "cockpit", yaml: """
            profile: development
            displays:
              - name: cockpit
                mode: 640x480@60
                size: 160x120
                layers:
                  - {vm: cluster, safety: [[0, 0, 64, 64], [300, 220, 64, 64]]}
                  - {vm: ivi, at: [320, 240, 320, 240], opacity: 128}
            vms:
              - {name: ivi, memory: 512M, devices: [{type: entropy}, {type: gpu}, {type: console}]}
              - {name: cluster, machine: microvm, memory: 512M, devices: [{type: entropy}, {type: gpu}, {type: console}]}
            """, directory: dir)
        defer { platform.stop() }
        // Each guest fills its whole scanout with one grey: cluster 0x40 (640x480), ivi 0xC0 (320x240).
        for (vm, grey) in [("cluster", "100"), ("ivi", "300")] {
            let out = try platform.consoleRun(vm, """
                echo 0 > /sys/class/graphics/fbcon/cursor_blink; s=$(cat /sys/class/graphics/fb0/virtual_size); \
                head -c $((${s%,*}*${s#*,}*4)) /dev/zero | tr '\\000' '\\\(grey)' > /tmp/f; cat /tmp/f > /dev/fb0; echo drawn-$((6*7)) $s
                """, expect: "drawn-42", attempts: 30)
            #expect(out.contains("drawn-42"), "\(vm):\n\(out.suffix(1500))")
        }
        let composed = platform.stateDirectory + "/cockpit/logs/display-cockpit.png"
        let points = [(10, 10), (639, 239), (319, 479), (320, 240), (639, 479), (480, 360)]
        let expected = [[0x40], [0x40], [0x40], [0x80], [0x80], [0x80]]
        func matches(_ seen: [[Int]]) -> Bool {
            seen.count == points.count && zip(seen, expected).allSatisfy { px, want in px.count == 3 && px.allSatisfy { abs($0 - want[0]) <= 1 } }
        }
        var seen: [[Int]] = []
        _ = platform.wait(60) {
            seen = (try? GpuInRealGuest.pixels(of: composed, at: points)) ?? []
            return matches(seen)
        }
        #expect(matches(seen),
                "composed pixels \(seen); gpu server log:\n\(platform.logs("server-gpu.log").suffix(2000))")
        // The screenshot command writes the same picture.
        let shot = dir + "/shot.png"
        let (status, output) = try platform.avp(["screenshot", platform.file, "cockpit", shot])
        #expect(status == 0, "\(output)")
        #expect(try GpuInRealGuest.pixels(of: shot, at: [(10, 10), (480, 360)]).map { $0.first ?? -1 }.map { abs($0 - 0x40) <= 1 || abs($0 - 0x80) <= 1 } == [true, true])
        // AVPS 2.8.4: once both VMs have drawn, every composed frame fails the check of the cluster's
        // safety region under ivi's translucent layer, and passes the uncovered one's.
        func counts() -> [[Int]] {
            struct Entry: Decodable { var region: Int; var checks: Int; var mismatches: Int }
            struct File: Decodable { var safety: [Entry] }
            let data = FileManager.default.contents(atPath: platform.stateDirectory + "/cockpit/logs/gpu.json") ?? Data()
            return ((try? JSONDecoder().decode(File.self, from: data))?.safety ?? []).sorted { $0.region < $1.region }.map { [$0.checks, $0.mismatches] }
        }
        let before = counts()
        // The compositor composes when a scanout changes: both guests draw their frames again.
        for vm in ["cluster", "ivi"] {
            let again = try platform.consoleRun(vm, "cat /tmp/f > /dev/fb0; sleep 1; cat /tmp/f > /dev/fb0; echo again-$((5*5))", expect: "again-25")
            #expect(again.contains("again-25"), "\(vm):\n\(again.suffix(1000))")
        }
        #expect(platform.wait(20) { let now = counts(); return now.count == 2 && before.count == 2 && now[0][0] > before[0][0] + 1 })
        let after = counts()
        try #require(before.count == 2 && after.count == 2, "gpu.json: \(before) then \(after)")
        #expect(after[0][1] == before[0][1], "uncovered region: \(before[0]) then \(after[0])")
        #expect(after[1][1] - before[1][1] == after[1][0] - before[1][0], "covered region: \(before[1]) then \(after[1])")
        // avp status shows the same counts.
        let (code, statusText) = try platform.avp(["status", platform.file])
        #expect(code == 0 && statusText.contains("display cockpit: ") && statusText.contains("safety layer 0 region 1: "), "\(statusText)")
    }
}
