import AVPTestSupport
import Foundation
import Platform
import Testing

/// `avp serve gpu` against the Linux virtio_gpu driver (Debian's 6.12 kernel) under a
/// hand-written QEMU device line, on both transports.
@Suite(.serialized) struct GpuInRealGuest {
    static let mode = "mode=1280x720@60,size=200x113"

    static let script = """
        c=/sys/class/drm/card0-Virtual-1
        i=0; until [ -e $c/edid ] || [ $i -gt 50 ]; do sleep 0.1; i=$((i+1)); done
        echo "features=$(dmesg | grep -o 'features: [-+a-z_ ]*virgl[-+a-z_ ]*' | head -n 1)"
        echo "status=$(cat $c/status)"
        echo "modes=$(tr '\\n' ' ' < $c/modes)"
        cat $c/edid > /tmp/edid
        echo "edid-bytes=$(wc -c < /tmp/edid)"
        edid-decode -c /tmp/edid > /tmp/edid.txt 2>&1; echo "edid-decode=$?"
        echo "edid-conformity=$(grep -m1 'EDID conformity' /tmp/edid.txt | sed 's/.*: //')"
        echo "edid-size=$(grep -m1 'Maximum image size' /tmp/edid.txt | sed 's/.*: //')"
        echo "edid-dtd=$(grep -m1 'DTD 1:' /tmp/edid.txt | tr -s ' ')"
        size=$(cat /sys/class/graphics/fb0/virtual_size); echo "fb=$size"
        w=${size%,*}; h=${size#*,}
        # The text console's cursor stops blinking (it would redraw a cell), then two known halves:
        # grey 0x40 above, 0xC0 below.
        echo 0 > /sys/class/graphics/fbcon/cursor_blink
        # One write of the whole frame: under 6.12's fbdev, the damage of dd's last short
        # (pipe) or fsync'd writes was left unflushed, which is the guest's business, not the device's.
        head -c $((w*4*h/2)) /dev/zero | tr '\\000' '\\100' > /tmp/frame
        head -c $((w*4*h/2)) /dev/zero | tr '\\000' '\\300' >> /tmp/frame
        cat /tmp/frame > /dev/fb0
        sleep 3
        echo drawn=1
        """

    @Test("AVPS-v2.0-17/18/19/20/21/22: virtio_gpu binds (-virgl +edid), its EDID decodes to the configured mode and size, and what it draws reaches the server",
          arguments: [QemuCommandLine.Machine.q35, .microvm])
    func linuxDriverDraws(machine: QemuCommandLine.Machine) throws {
        try GuestHarness.checkPrerequisites()
        let image = GuestImage.backports
        try image.ensureBuilt()
        let dir = try GuestHarness.workDirectory("gpu-\(machine.rawValue)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let socket = dir + "/gpu.sock"
        let server = try ServerProcess(arguments: ["serve", "gpu", "--socket", socket, "--output", Self.mode, "--snapshots", dir],
                                       logPath: dir + "/server.log")
        defer { server.stop() }
        try server.waitForSocket(socket)

        var boot = GuestBoot()
        boot.image = image
        boot.machine = machine
        boot.devices = [.init(model: .gpu, socketPath: socket, id: "gpu0")]
        let console = try boot.run(script: Self.script, in: dir)

        #expect(console.value("features") == "features: -virgl +edid -resource_blob -host_visible", "\(console.text.suffix(2000))")
        #expect(console.value("status") == "connected")
        #expect(console.value("modes")?.hasPrefix("1280x720") == true, "\(console.value("modes") ?? "none")")
        #expect(console.value("edid-bytes") == "128" && console.value("edid-decode") == "0" && console.value("edid-conformity") == "PASS")
        #expect(console.value("edid-size") == "20 cm x 11 cm")
        #expect(console.value("edid-dtd")?.contains("1280x720") == true && console.value("edid-dtd")?.contains("(200 mm x 113 mm)") == true,
                "\(console.value("edid-dtd") ?? "none")")
        #expect(console.value("fb") == "1280,720" && console.value("drawn") == "1")
        let png = dir + "/gpu-0.png"
        #expect(FileManager.default.fileExists(atPath: png), "server log:\n\(server.log.suffix(2000))")
        let seen = try PNGPixels.pixels(of: png, at: [(5, 5), (1279, 359), (640, 360), (0, 719)])
        #expect(seen == [[0x40, 0x40, 0x40], [0x40, 0x40, 0x40], [0xC0, 0xC0, 0xC0], [0xC0, 0xC0, 0xC0]], "\(seen)")
    }
}
