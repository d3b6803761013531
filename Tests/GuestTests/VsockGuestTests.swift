import Foundation
import Platform
import SystemCalls
import Testing

/// AVP's vsock server with three guests: host to guest, guest to host, guest to guest
/// where the policy allows it, and refused where it does not.
@Suite(.serialized) struct VsockInRealGuests {
    @Test("AVPS-v2.0-16: vsock streams host↔guest and guest↔guest carry data intact; a pair the policy does not allow is refused")
    func streams() throws {
        try GuestHarness.checkPrerequisites()
        let dir = try GuestHarness.workDirectory("vsock")
        defer { GuestHarness.removeUnlessKept(dir) }
        let server = try ServerProcess(arguments: [
            "serve", "vsock", "--allow", "a:b",
            "--vm", "name=a,cid=3,listen=\(dir)/a.sock,uds=\(dir)/a.vsock",
            "--vm", "name=b,cid=4,listen=\(dir)/b.sock,uds=\(dir)/b.vsock",
            "--vm", "name=c,cid=5,listen=\(dir)/c.sock,uds=\(dir)/c.vsock",
        ], logPath: dir + "/vsock.log")
        defer { server.stop() }
        try server.waitForSocket(dir + "/c.sock")

        // Guest → host: the host listens on <uds>_5000.
        let hostListener = try UnixListener(path: dir + "/a.vsock_5000")
        let received = Mutex<[UInt8]>([])
        let receiver = try OSThread(name: "host-rx") {
            guard let peer = (try? hostListener.accept(waitingMilliseconds: -1)) ?? nil else { return }
            while let chunk = try? peer.receive(upTo: 65536), !chunk.bytes.isEmpty {
                received.withLock { $0 += chunk.bytes }
            }
        }

        let a = #"""
            echo HOST-LISTEN
            socat -u VSOCK-LISTEN:6000 OPEN:/tmp/h,creat,trunc || exit 10
            echo "hg-received=$(md5sum < /tmp/h | cut -d' ' -f1)"
            head -c 8388608 /dev/urandom > /tmp/x
            echo "gh-sent=$(md5sum < /tmp/x | cut -d' ' -f1)"
            socat -u OPEN:/tmp/x VSOCK-CONNECT:2:5000; echo "gh-status=$?"
            head -c 16777216 /dev/urandom > /tmp/y
            echo "gg-sent=$(md5sum < /tmp/y | cut -d' ' -f1)"
            i=0; until socat -u OPEN:/tmp/y VSOCK-CONNECT:4:7000 2>/dev/null; do i=$((i+1)); [ $i -gt 60 ] && exit 11; sleep 1; done
            socat -u OPEN:/tmp/x VSOCK-CONNECT:5:7000 2>/tmp/err; echo "denied-status=$?"
            echo "denied-error=$(tail -n1 /tmp/err)"
            """#
        let b = #"""
            socat -u VSOCK-LISTEN:7000 OPEN:/tmp/g,creat,trunc || exit 10
            echo "gg-received=$(md5sum < /tmp/g | cut -d' ' -f1)"
            """#
        let c = #"""
            echo C-LISTENING
            socat -u VSOCK-LISTEN:7000 OPEN:/tmp/g,creat,trunc && echo C-CONNECTED
            sleep 600
            """#
        var boots: [(GuestBoot, String, String)] = []
        for (name, script, machine) in [("a", a, QemuCommandLine.Machine.q35), ("b", b, .microvm), ("c", c, .microvm)] {
            var boot = GuestBoot(machine: machine)
            boot.cpus = 1
            boot.memoryMiB = name == "a" ? 512 : 256
            boot.tools = ["socat"]
            boot.devices = [.init(model: .vsock, socketPath: "\(dir)/\(name).sock", id: "vsock0")]
            let sub = dir + "/" + name
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            boots.append((boot, script, sub))
        }
        let guests = try boots.map { try $0.0.start(script: $0.1, in: $0.2) }
        let (qa, ca) = guests[0]

        // Host → guest: CONNECT 6000 once the guest listens.
        #expect(ca.waitFor("HOST-LISTEN", timeoutSeconds: GuestHarness.guestTimeout, while: { qa.isRunning }))
        let payload = try SystemRandom.bytes(4 << 20)
        var sent = false
        for _ in 0..<60 where !sent {
            sleep(1)
            guard let s = try? UnixSocket.connect(to: dir + "/a.vsock") else { continue }
            try s.send(Array("CONNECT 6000\n".utf8))
            guard let reply = try? s.receive(upTo: 64), String(decoding: reply.bytes, as: UTF8.self).hasPrefix("OK ") else { continue }
            try s.send(payload)
            s.shutdown()
            sent = true
        }
        #expect(sent, "the host could not connect to guest port 6000")

        _ = qa.wait(timeoutSeconds: 300)
        _ = guests[1].0.wait(timeoutSeconds: 120)
        guests[2].0.kill()   // c only listens; it must never have been reached
        receiver.join()
        let cb = guests[1].1, cc = guests[2].1
        #expect(ca.testExitStatus == 0, "a:\n\(ca.text.suffix(2000))\nserver:\n\(server.log.suffix(2000))")
        #expect(ca.value("hg-received") == Insecure.md5Hex(payload), "host → guest")
        #expect(ca.value("gh-status") == "0")
        #expect(ca.value("gh-sent") == Insecure.md5Hex(received.withLock { $0 }), "guest → host")
        #expect(ca.value("gg-sent") != nil && ca.value("gg-sent") == cb.value("gg-received"), "guest → guest:\n\(cb.text.suffix(1000))")
        #expect(ca.value("denied-status") != nil && ca.value("denied-status") != "0")
        #expect(ca.value("denied-error")?.contains("Connection reset") == true || ca.value("denied-error")?.contains("refused") == true,
                "\(ca.value("denied-error") ?? "")")
        #expect(cc.text.contains("C-LISTENING") && !cc.text.contains("C-CONNECTED"), "c must not have been reached:\n\(cc.text.suffix(1000))")
        #expect(server.log.contains("may not connect to cid 5"))
    }
}

import Synchronization
