import Foundation
import Platform
import Testing

/// Two guests on AVP's switch: the Linux virtio_net driver, real TCP, the port policies.
@Suite(.serialized) struct NetInRealGuests {
    static let macA = "02:00:00:00:00:0a", macB = "02:00:00:00:00:0b", mtu = 1400

    @Test("AVPS-v2.0-8/10/11/12/14/15: two VMs on one switch ping and copy 64 MiB; MAC/MTU as configured; MAC change allowed on one port, denied on the other")
    func twoVMsOnOneSwitch() throws {
        try GuestHarness.checkPrerequisites()
        let dir = try GuestHarness.workDirectory("net")
        defer { GuestHarness.removeUnlessKept(dir) }
        let stats = dir + "/stats.json"
        let server = try ServerProcess(arguments: [
            "serve", "switch", "--stats", stats,
            "--port", "name=a,listen=\(dir)/a.sock,mac=\(Self.macA),mtu=\(Self.mtu),mac-change=allow",
            "--port", "name=b,listen=\(dir)/b.sock,mac=\(Self.macB),mtu=\(Self.mtu),mac-change=deny",
        ], logPath: dir + "/switch.log")
        defer { server.stop() }
        try server.waitForSocket(dir + "/b.sock")

        let common = #"""
            ip link set eth0 up
            ip addr add 10.0.0.$ME/24 dev eth0
            echo "mac=$(cat /sys/class/net/eth0/address)"
            echo "mtu=$(cat /sys/class/net/eth0/mtu)"
            i=0; until ping -c 1 -W 1 10.0.0.$PEER > /dev/null 2>&1; do i=$((i+1)); [ $i -gt 60 ] && { echo ping-failed; exit 1; }; done
            echo ping=ok
            """#
        let a = "ME=1; PEER=2\n" + common + "\n" + #"""
            head -c 67108864 /dev/urandom > /tmp/f
            echo "sent=$(md5sum < /tmp/f | cut -d' ' -f1)"
            i=0; until socat -u OPEN:/tmp/f TCP:10.0.0.2:5000 2>/dev/null; do i=$((i+1)); [ $i -gt 60 ] && { echo send-failed; exit 2; }; sleep 1; done
            echo SENT
            # Allowed: a MAC of the guest's own choosing keeps working (gratuitous ARP tells the peer).
            ip link set eth0 address 02:aa:00:00:00:01
            sleep 1
            ping -c 3 -W 2 10.0.0.2 > /dev/null 2>&1; echo "allow-ping=$?"
            sleep 25
            """#
        let b = "ME=2; PEER=1\n" + common + "\n" + #"""
            socat -u TCP-LISTEN:5000,reuseaddr OPEN:/tmp/f,creat,trunc || exit 3
            echo "received=$(md5sum < /tmp/f | cut -d' ' -f1)"
            sleep 12
            # Denied: after a MAC change the switch drops everything this guest sends.
            ip link set eth0 address 02:bb:00:00:00:02
            ping -c 3 -W 2 10.0.0.1 > /dev/null 2>&1; echo "deny-ping=$?"
            """#
        var bootA = GuestBoot(), bootB = GuestBoot(machine: .microvm)
        bootA.cpus = 1
        bootB.cpus = 1
        bootA.tools = ["socat"]
        bootB.tools = ["socat"]
        bootA.devices = [.init(model: .net(mac: Self.macA, mtu: Self.mtu), socketPath: dir + "/a.sock", id: "net0")]
        bootB.devices = [.init(model: .net(mac: Self.macB, mtu: Self.mtu), socketPath: dir + "/b.sock", id: "net0")]
        let dirA = dir + "/a", dirB = dir + "/b"
        try FileManager.default.createDirectory(atPath: dirA, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dirB, withIntermediateDirectories: true)
        let (qa, ca) = try bootA.start(script: a, in: dirA)
        let (qb, cb) = try bootB.start(script: b, in: dirB)
        _ = qa.wait(timeoutSeconds: 300)
        _ = qb.wait(timeoutSeconds: 60)
        #expect(ca.testExitStatus == 0, "A:\n\(ca.text.suffix(2000))")
        #expect(cb.testExitStatus == 0, "B:\n\(cb.text.suffix(2000))")
        #expect(ca.value("mac") == Self.macA && cb.value("mac") == Self.macB)
        #expect(ca.value("mtu") == "\(Self.mtu)" && cb.value("mtu") == "\(Self.mtu)")
        #expect(ca.value("ping") == "ok" && cb.value("ping") == "ok")
        #expect(ca.value("sent") != nil && ca.value("sent") == cb.value("received"))
        #expect(ca.value("allow-ping") == "0")
        #expect(cb.value("deny-ping") != nil && cb.value("deny-ping") != "0")
        server.stop()
        let counters = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stats))) as? [String: [String: Any]]
        #expect((counters?["b"]?["droppedSourceMAC"] as? Int ?? 0) > 0, "\(counters ?? [:])")
        #expect(counters?["a"]?["droppedSourceMAC"] as? Int == 0)
        #expect(counters?["a"]?["currentMAC"] as? String == "02:aa:00:00:00:01")
        #expect((counters?["a"]?["bytesFromGuest"] as? Int ?? 0) > 64 << 20)
    }
}
