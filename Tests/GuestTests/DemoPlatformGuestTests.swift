import AVPTestSupport
import Foundation
import Platform
import Testing

/// The demo platform as shipped (`make demo`: examples/two-vms.yaml): both VMs come up and
/// are shown on the one cockpit display, in the web view `avp up` announces.
@Suite(.serialized) struct DemoPlatformInRealGuests {
    @Test("examples/two-vms.yaml: both VMs on the cockpit display, in the web view: cluster left, ivi right over it, ivi's masked corners showing what is below; a touch there reaches ivi")
    func bothVMsOnOneDisplayInTheWebView() throws {
        try GuestHarness.checkPrerequisites()
        try #require(HeadlessBrowser.executable != nil, "chromium is missing: scripts/host-setup installs it")
        try GuestImage.backports.ensureBuilt()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = try GuestHarness.workDirectory("demo")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: root.appendingPathComponent("examples/ivi-mask.pbm").path, toPath: dir + "/ivi-mask.pbm")
        try FileManager.default.copyItem(atPath: root.appendingPathComponent("examples/shared").path, toPath: dir + "/shared")
        let yaml = try String(contentsOf: root.appendingPathComponent("examples/two-vms.yaml"), encoding: .utf8)
        let platform = try RunningPlatform(name: "demo", yaml: yaml, directory: dir)
        defer { platform.stop() }

        var url = ""
        #expect(platform.wait(60) {
            url = platform.upLog.components(separatedBy: "web view of the displays: ").dropFirst().first?.prefix { !$0.isNewline }.description ?? ""
            return !url.isEmpty
        }, "avp up did not announce its web view:\n\(platform.upLog.suffix(2000))")
        try #require(url.hasPrefix("http://127.0.0.1:"))

        // Layers (examples/two-vms.yaml): cluster at [0, 0, 720, 480]; ivi at [560, 0, 720, 480],
        // opacity 215, rounded corners (radius 48) masked. Each guest fills its screen with a colour of its own.
        let clusterOnly = (200, 300), iviOnly = (1000, 300), overlap = (640, 300)
        let iviMaskedCornerOverCluster = (561, 1), iviMaskedCornerOverNothing = (1279, 0)
        let points = [clusterOnly, iviOnly, overlap, iviMaskedCornerOverCluster, iviMaskedCornerOverNothing]
        let shot = dir + "/web.png"
        var seen: [[Int]] = []
        func bothShown() -> Bool {
            guard (try? HeadlessBrowser.screenshot(url + "view/cockpit", width: 1280, height: 480, to: shot)) != nil,
                  let pixels = try? PNGPixels.pixels(of: shot, at: points), pixels.allSatisfy({ $0.count == 3 }) else { return false }
            seen = pixels
            let black = [0, 0, 0]
            // Both VMs drew (not black), in colours of their own; the overlap is neither alone;
            // the mask shows the cluster in one corner of ivi and nothing in the other.
            return pixels[0] != black && pixels[1] != black && pixels[0] != pixels[1]
                && pixels[2] != pixels[0] && pixels[2] != pixels[1]
                && pixels[3] == pixels[0] && pixels[4] == black
        }
        #expect(platform.wait(120, bothShown),
                "web view pixels \(seen) at \(points); gpu server log:\n\(platform.logs("server-gpu.log").suffix(1500))\nup log:\n\(platform.upLog.suffix(1500))")
        // The web view shows what the compositor composed.
        let composed = try PNGPixels.pixels(of: platform.stateDirectory + "/demo/logs/display-cockpit.png", at: points)
        #expect(zip(composed, seen).allSatisfy { a, b in a.count == 3 && zip(a, b).allSatisfy { abs($0 - $1) <= 2 } } && composed.count == seen.count,
                "composed \(composed), web view \(seen)")
        let (code, status) = try platform.avp(["status", platform.file])
        #expect(code == 0 && status.contains("web view of the displays: \(url)") && status.contains("display cockpit: "), "\(status)")
        try touchReachesTheVMUnderIt(platform, url: url)
        try promptsDuckMedia(platform)
        try sharedFolderInBothVMs(platform)
    }

    /// The demo's read-only folder (AVPS-v2.0-50), one virtio-fs server for both VMs: each mounts
    /// it (q35: vhost-user-fs-pci; microvm: vhost-user-fs-device), reads the host's file, and
    /// cannot write.
    func sharedFolderInBothVMs(_ platform: RunningPlatform) throws {
        for vm in ["ivi", "cluster"] {
            let out = try platform.consoleRun(vm, """
                mkdir -p /mnt/shared; mountpoint -q /mnt/shared || mount -t virtiofs shared /mnt/shared; \
                echo "text=$(head -n 1 /mnt/shared/README.txt)"; touch /mnt/shared/x 2>&1; echo shared-$((6*7))
                """, expect: "shared-42")
            #expect(out.contains("text=This folder is shared read-only with both VMs") && out.contains("Read-only file system"),
                    "\(vm):\n\(out.suffix(6000))\nfs server:\n\(platform.logs("server-shared.log").suffix(1000))")
        }
    }

    /// The demo's audio (AVPS 2.9): ivi plays media, the cluster a navigation prompt every 8 s;
    /// while one plays, `avp audio` shows media ducked by the platform file's 12 dB, and the mix
    /// in logs/audio.wav is heard.
    func promptsDuckMedia(_ platform: RunningPlatform) throws {
        var shown = ""
        #expect(platform.wait(60) {
            shown = (try? platform.avp(["audio", platform.file]))?.1 ?? ""
            return shown.contains("media  10  ducked 12.0 dB  playing 1") && shown.contains("navigation  50  playing 1")
        }, "avp audio never showed a prompt ducking media:\n\(shown)\nsound server:\n\(platform.logs("server-sound.log").suffix(1500))")
        #expect(shown.contains("ivi  volume 0 dB  playback: hw:N,0 media") && shown.contains("cluster  volume 0 dB  playback: hw:N,0 navigation, hw:N,1 chime"),
                "\(shown)")
        let (code, changed) = try platform.avp(["audio", platform.file, "ivi", "--volume", "-6"])
        #expect(code == 0 && changed.contains("ivi  volume -6 dB"), "\(changed)")
        let mix = try [UInt8](Data(contentsOf: URL(fileURLWithPath: platform.stateDirectory + "/demo/logs/audio.wav")))
        #expect(mix.count > 44 + 48000 * 4 && mix.dropFirst(44).contains { $0 != 0 }, "the mix is \(mix.count) bytes, or silent")
    }

    /// A touch on the web view at a point of ivi's layer (560, 0 on the display) reaches ivi's
    /// touchscreen in its own pixels: the guest's evdev reader sees ABS_X 440, ABS_Y 300.
    func touchReachesTheVMUnderIt(_ platform: RunningPlatform, url: String) throws {
        let armed = try platform.consoleRun("ivi", """
            modprobe evdev 2>/dev/null; for d in /sys/class/input/input*; do [ "$(cat $d/name)" = "AVP touch" ] && n=$(ls -d $d/event* | head -n 1); done; \
            rm -f /tmp/ev; (timeout 60 dd if=/dev/input/${n##*/} of=/tmp/ev bs=24 count=8 2>/dev/null &); sleep 1; echo armed-$((3*11)) ${n##*/}
            """, expect: "armed-33", attempts: 10)
        #expect(armed.contains("armed-33 event"), "\(armed.suffix(1000))")
        let port = try #require(UInt16(url.split(separator: ":").last!.filter(\.isNumber)))
        let page = try LoopbackHTTP.get(port: port, "/view/cockpit").text
        let token = try #require(page.components(separatedBy: "data-token=\"").dropFirst().first?.prefix(32)).description
        for line in ["touch 1000 300 0", "release 0"] {
            let request = "POST /touch/cockpit HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nX-AVP-Token: \(token)\r\nContent-Length: \(line.count)\r\n\r\n\(line)"
            let response = try LoopbackHTTP.send(port: port, Array(request.utf8))
            #expect(response.status == 200 && response.text.hasPrefix("ivi: touch 440 300") || line.hasPrefix("release"), "\(line): \(response.text)")
        }
        var seen = ""
        #expect(platform.wait(30) {
            seen = (try? platform.consoleRun("ivi", "od -An -v -t d4 -w24 /tmp/ev | while read a b c d t v; do echo \"ev=$((t & 65535)),$((t >> 16)),$v\"; done; echo read-$((4*4))",
                                             expect: "read-16")) ?? ""
            return seen.contains("ev=3,0,440") && seen.contains("ev=3,1,300")
        }, "guest events:\n\(seen.suffix(1500))\ninput server:\n\(platform.logs("server-ivi-input5.log").suffix(1000))")
    }
}
