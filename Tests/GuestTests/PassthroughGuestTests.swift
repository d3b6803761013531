import Foundation
import Platform
import Testing

/// NIC dedication ({AVPS-v2.0-9}) through a macvtap, end to end: `avp up` in a network and
/// mount namespace of its own (nothing of the host's networking is touched) creates the
/// macvtap in passthru mode on one end of a veth pair, hands QEMU its tap descriptor, and the
/// guest answers on the other end. Needs root (CAP_NET_ADMIN, unshare); no VFIO (the test
/// machine has no spare PCI function).
@Suite struct PassthroughGuest {
    @Test("AVPS-v2.0-9: a host interface dedicated to a VM with macvtap: carries the guest's traffic; avp up creates and deletes the macvtap")
    func macvtapCarriesTraffic() throws {
        try GuestHarness.checkPrerequisites()
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else {
            Issue.record("needs root and unshare(1): the test makes a network namespace with a veth pair")
            return
        }
        let dir = try GuestHarness.workDirectory("macvtap")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            profile: development
            vms:
              - name: a
                machine: q35
                restart: never
                devices:
                  - type: entropy
                  - type: net
                    host-device: macvtap:v0
                    mac: 02:00:00:00:00:09
                    address: 10.9.0.2/24
                  - type: console        # keeps the guest up (avp.getty)
            """.write(toFile: dir + "/p.yaml", atomically: true, encoding: .utf8)
        // The guest's kernel answers a TCP SYN to a closed port with a RST: "refused" proves both directions.
        let script = """
            mount -t sysfs sysfs /sys; ip link set lo up
            ip link add v0 type veth peer name v1; ip addr add 10.9.0.1/24 dev v1; ip link set v1 up; ip link set v0 up
            AVP_STATE_DIR=\(dir)/state AVP_ACCEL=\(GuestHarness.accelerator.rawValue) "$1" up \(dir)/p.yaml > \(dir)/up.log 2>&1 &
            pid=$!
            for i in $(seq 1 150); do
              sleep 1
              case "$(timeout 2 bash -c 'exec 3<>/dev/tcp/10.9.0.2/9' 2>&1)" in *refused*) echo "guest answered"; break;; esac
            done
            ip -o link show | grep -o 'avp-a-1@v0'
            ip neigh show dev v1
            kill -INT $pid; wait $pid; echo "avp exited $?"
            ip -o link show | grep -q avp-a-1 && echo "macvtap left" || echo "macvtap deleted"
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["-n", "-m", "/bin/sh", "-c", script, "sh", try GuestHarness.avpBinary()]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let deadline = Date().addingTimeInterval(GuestHarness.guestTimeout + 30)
        while process.isRunning, Date() < deadline { usleep(100_000) }
        GuestHarness.stop(process)
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let upLog = (try? String(contentsOfFile: dir + "/up.log", encoding: .utf8)) ?? ""
        #expect(output.contains("guest answered"), "\(output)\n\(upLog)")
        #expect(output.contains("avp-a-1@v0"), "\(output)")
        #expect(output.contains("10.9.0.2 lladdr 02:00:00:00:00:09"), "\(output)")
        #expect(output.contains("avp exited 0") && output.contains("macvtap deleted"), "\(output)")
        let serial = (try? String(contentsOfFile: dir + "/state/p/logs/vm-a.serial.log", encoding: .utf8)) ?? ""
        #expect(serial.contains("guest-init: net eth0 (02:00:00:00:00:09) 10.9.0.2/24"), "\(serial.suffix(2000))")
    }
}
