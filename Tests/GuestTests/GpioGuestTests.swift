import Devices
import Foundation
import Platform
import Testing

/// `avp serve gpio` against Linux's gpio-virtio driver and libgpiod 1.6 in AVP's own guest kernel
/// (GPIO_VIRTIO built in): two VMs on one server, each seeing only its lines, renumbered from 0
/// with their names; a guest's `gpioset` drives the host-side simulated line, a host edge wakes
/// the guest's `gpiomon`, and the second VM can neither see nor drive what it does not own.
@Suite(.serialized) struct GpioInRealGuest {
    /// ivi owns door-open (0) and reverse-gear (1) and reads ignition (2).
    static let iviScript = """
        gpiodetect
        gpioinfo gpiochip0
        echo "lines=$(gpioinfo gpiochip0 | grep -c 'line ')"
        echo "names=$(gpioinfo gpiochip0 | grep 'line ' | cut -d'"' -f2 | tr '\\n' ',')"
        gpioset --mode=signal gpiochip0 1=1 &
        setpid=$!
        sleep 1
        echo SET-DONE
        gpiomon --num-events=1 --rising-edge gpiochip0 2 > /tmp/mon 2>&1 &
        monpid=$!
        echo MON-READY
        wait $monpid
        echo "mon-status=$?"
        echo "mon=$(cat /tmp/mon)"
        kill $setpid
        wait $setpid
        echo "ro-set-ignition=$(gpioset gpiochip0 2=1 >/dev/null 2>&1; echo $?)"
        """

    /// cluster owns seat-heater (0) and reads ignition (1) and reverse-gear (2).
    static let clusterScript = """
        echo "lines=$(gpioinfo gpiochip0 | grep -c 'line ')"
        echo "names=$(gpioinfo gpiochip0 | grep 'line ' | cut -d'"' -f2 | tr '\\n' ',')"
        echo "no-line-3=$(gpioget gpiochip0 3 >/dev/null 2>&1; echo $?)"
        echo "ro-set-reverse=$(gpioset gpiochip0 2=1 >/dev/null 2>&1; echo $?)"
        echo "own-set-heater=$(gpioset gpiochip0 0=1 >/dev/null 2>&1; echo $?)"
        echo CLUSTER-DONE
        """

    func avp(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try GuestHarness.avpBinary())
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        p.waitUntilExit()
        return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("AVPS-v2.0-37, AVPS-v2.0-38: gpioinfo lists exactly each VM's lines; gpioset drives the host line; a host edge wakes gpiomon; a second VM on the same server cannot see or drive lines it does not own")
    func twoVMsOneServer() throws {
        try GuestHarness.checkPrerequisites()
        let image = GuestImage.cached(.own)
        try image.ensureBuilt()
        let dir = try GuestHarness.workDirectory("gpio")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let control = dir + "/control.sock"
        let server = try ServerProcess(arguments: ["serve", "gpio", "--line", "door-open", "--line", "reverse-gear", "--line", "ignition",
                                                   "--line", "seat-heater",
                                                   "--vm", "name=ivi,listen=\(dir)/ivi.sock,lines=door-open+reverse-gear,read-only=ignition",
                                                   "--vm", "name=cluster,listen=\(dir)/cluster.sock,lines=seat-heater,read-only=ignition+reverse-gear",
                                                   "--control", control],
                                       logPath: dir + "/server.log")
        defer { server.stop() }
        for socket in ["ivi.sock", "cluster.sock", "control.sock"] { try server.waitForSocket(dir + "/" + socket) }

        try FileManager.default.createDirectory(atPath: dir + "/ivi", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/cluster", withIntermediateDirectories: true)
        var ivi = GuestBoot()
        ivi.image = image
        ivi.devices = [.init(model: .gpio, socketPath: dir + "/ivi.sock", id: "gpio0")]
        var cluster = GuestBoot()
        cluster.image = image
        cluster.devices = [.init(model: .gpio, socketPath: dir + "/cluster.sock", id: "gpio0")]
        let (iviQemu, iviConsole) = try ivi.start(script: Self.iviScript, in: dir + "/ivi")
        defer { iviQemu.kill() }
        let (clusterQemu, clusterConsole) = try cluster.start(script: Self.clusterScript, in: dir + "/cluster")
        defer { clusterQemu.kill() }

        // The guest's gpioset reaches the host-side line, seen through the control socket.
        let set = iviConsole.waitFor("SET-DONE", timeoutSeconds: GuestHarness.guestTimeout, while: { iviQemu.isRunning })
        #expect(set, "console:\n\(iviConsole.text.suffix(3000))\nserver:\n\(server.log.suffix(2000))")
        if set {
            #expect(try avp(["gpio", "get", "--control", control, "reverse-gear"]) == "1")
            #expect(try avp(["gpio", "list", "--control", control]).contains("reverse-gear 1  driven by VM ivi"))
        }
        // A host edge on ignition wakes the guest's gpiomon (toggled until it does: gpiomon arms its interrupt asynchronously).
        if iviConsole.waitFor("MON-READY", timeoutSeconds: 60, while: { iviQemu.isRunning }) {
            let deadline = Date().addingTimeInterval(60)
            var level = false
            while Date() < deadline, !iviConsole.text.contains("mon-status="), iviQemu.isRunning {
                level.toggle()
                _ = try avp(["gpio", "set", "--control", control, "ignition", level ? "1" : "0"])
                usleep(300_000)
            }
        }
        #expect(clusterConsole.waitFor("CLUSTER-DONE", timeoutSeconds: GuestHarness.guestTimeout, while: { clusterQemu.isRunning }))
        #expect(iviQemu.wait(timeoutSeconds: 90) != nil, "ivi timed out; console:\n\(iviConsole.text.suffix(3000))")
        #expect(clusterQemu.wait(timeoutSeconds: 60) != nil, "cluster timed out; console:\n\(clusterConsole.text.suffix(3000))")

        let context = "ivi:\n\(iviConsole.text.suffix(2500))\ncluster:\n\(clusterConsole.text.suffix(1500))\nserver:\n\(server.log.suffix(2000))"
        #expect(iviConsole.value("lines") == "3", "\(context)")
        #expect(iviConsole.value("names") == "door-open,reverse-gear,ignition,", "\(context)")
        #expect(iviConsole.value("mon-status") == "0", "\(context)")
        #expect(iviConsole.value("mon")?.contains("RISING EDGE") == true, "\(context)")
        #expect(iviConsole.value("ro-set-ignition") != "0", "\(context)")
        #expect(clusterConsole.value("lines") == "3", "\(context)")
        #expect(clusterConsole.value("names") == "seat-heater,ignition,reverse-gear,", "\(context)")
        #expect(clusterConsole.value("no-line-3") != "0", "\(context)")
        #expect(clusterConsole.value("ro-set-reverse") != "0", "\(context)")
        #expect(clusterConsole.value("own-set-heater") == "0", "\(context)")
        #expect(!clusterConsole.text.contains("door-open"), "the cluster never sees ivi's own line")
        server.stop()
        let stats = server.log.split(separator: "\n").filter { $0.contains("statistics: vm=") }
        #expect(stats.count == 2, "\(server.log.suffix(2000))")
        #expect(server.log.contains("statistics: vm=ivi") && stats.contains { $0.contains("vm=ivi") && !$0.contains("interrupts=0") }, "\(stats)")
    }
}
