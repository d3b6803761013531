import Foundation
import Platform
import Testing

/// {AVPS-v2.0-35}: a VM's watchdog, supervised by AVP. Real guests (AVP's own kernel, i6300esb
/// built in) under `avp up`: the guest opens /dev/watchdog and pings it, then stops; QEMU's
/// i6300esb expires, QEMU reports it on QMP and does nothing itself, and AVP's supervisor takes
/// the VM's watchdog action. Each guest prints its boot id, what its driver says, and a line per
/// ping on its serial console (the serial log), which the test reads as it goes.
///
/// Partial conformance, stated in each test's name: the device is QEMU's i6300esb, not the SBSA
/// generic watchdog the requirement names, which stock QEMU offers only on `-M sbsa-ref`
/// (docs/watchdog.md).
@Suite(.serialized) struct WatchdogInRealGuests {
    /// The guest's side: its boot, the driver's heartbeat, and `pings` pings a second apart on the open
    /// device, the last one followed at once by WDT-LAST-PET; then `after` (the device stays open, so
    /// the watchdog stays armed).
    static func script(pings: Int, after: String) -> String {
        """
        echo "WDT-BOOT $(cat /proc/sys/kernel/random/boot_id)"
        echo "WDT-DRIVER $(dmesg | grep -m1 -o 'heartbeat=[0-9]*') timeout=$(cat /sys/class/watchdog/watchdog0/timeout 2>/dev/null)"
        exec 3>/dev/watchdog || { echo WDT-NO-DEVICE; exit 1; }
        i=0
        while [ $i -lt \(pings) ]; do [ $i -gt 0 ] && sleep 1; printf x >&3; i=$((i+1)); echo "WDT-PET $i"; done
        echo WDT-LAST-PET
        \(after)
        """
    }

    static func platformFile(initrd: String, timeout: Int, action: String, restart: String = "never") -> String {
        """
        profile: development
        vms:
          - name: ecu
            machine: q35
            memory: 256M
            initrd: \(initrd)
            restart: \(restart)
            watchdog:
              timeout: \(timeout)
              action: \(action)
            devices:
              - type: entropy
        """
    }

    /// Polls every 50 ms (finer than `RunningPlatform.wait`, for the timings); the time it held, or nil.
    static func when(_ seconds: Double, _ condition: () -> Bool) -> Date? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return Date() }
            usleep(50_000)
        }
        return condition() ? Date() : nil
    }

    static func bootIDs(_ serial: String) -> [String] {
        serial.split(whereSeparator: \.isNewline).compactMap { line in
            line.range(of: "WDT-BOOT ").map { String(line[$0.upperBound...].prefix(36)) }
        }
    }

    @Test("AVPS-v2.0-35 (partial: i6300esb, not SBSA gwdt): a guest that stops pinging its watchdog is restarted by AVP within the timeout (restart: never notwithstanding); avp status counts the expiry")
    func stoppedGuestIsRestarted() throws {
        try GuestHarness.checkPrerequisites()
        let image = GuestImage.cached(.own)
        try image.ensureBuilt()
        let dir = try GuestHarness.workDirectory("watchdog-restart")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let timeout = 4
        try image.initrd(withScript: Self.script(pings: 3, after: "sleep 3600"), at: dir + "/initrd")
        let platform = try RunningPlatform(name: "wdt", yaml: Self.platformFile(initrd: dir + "/initrd", timeout: timeout, action: "restart"), directory: dir)
        defer { platform.stop() }
        let serial = { platform.logs("vm-ecu.serial.log") }

        let lastPet = try #require(Self.when(GuestHarness.guestTimeout) { serial().contains("WDT-LAST-PET") },
                                   "the guest did not ping its watchdog:\n\(serial().suffix(3000))\nup log:\n\(platform.upLog)")
        let firstBoot = try #require(Self.bootIDs(serial()).first)
        let driver = serial().split(whereSeparator: \.isNewline).first { $0.contains("WDT-DRIVER") }.map(String.init) ?? ""
        #expect(driver.contains("heartbeat=\(timeout)"), "the driver did not take i6300esb.heartbeat from the command line: \(driver)")
        let expired = try #require(Self.when(Double(timeout) + 20) { platform.upLog.contains("VM ecu: watchdog expired") },
                                   "no expiry reported:\n\(platform.upLog)")
        let toExpiry = expired.timeIntervalSince(lastPet)
        let restarted = try #require(Self.when(GuestHarness.guestTimeout) { Self.bootIDs(serial()).contains { $0 != firstBoot } },
                                     "the VM was not restarted:\n\(platform.upLog)")
        print("watchdog restart: timeout \(timeout) s; last ping to AVP's expiry line \(String(format: "%.2f", toExpiry)) s; expiry to the new boot's first line \(String(format: "%.2f", restarted.timeIntervalSince(expired))) s")
        // The i6300esb fires `timeout` seconds after the last ping (two stages of timeout/2); the
        // host sees the ping's line and the supervisor's within a tick of each.
        #expect(toExpiry >= Double(timeout) - 1 && toExpiry <= Double(timeout) + 3, "expired \(toExpiry) s after the last ping")
        #expect(platform.upLog.contains("restarting (watchdog)"), "\(platform.upLog)")

        let entry = try #require(platform.wait(30) { platform.status?.vms.first?.state == "running" } ? platform.status?.vms.first : nil)
        #expect(entry.restarts == 1 && entry.watchdogExpiries == 1, "\(entry)")
        let (code, status) = try platform.avp(["status", platform.file])
        #expect(code == 0 && status.contains("WATCHDOG") && status.contains("1 expired"), "\(status)")
        _ = try platform.avp(["down", platform.file])
        #expect(platform.wait(30) { !platform.process.isRunning })
    }

    @Test("AVPS-v2.0-35 (partial: i6300esb, not SBSA gwdt): a guest that keeps pinging runs on past several timeouts; under notify an expiry is logged and counted and the VM runs on")
    func pingingGuestRunsAndNotifyCounts() throws {
        try GuestHarness.checkPrerequisites()
        let image = GuestImage.cached(.own)
        try image.ensureBuilt()
        let dir = try GuestHarness.workDirectory("watchdog-notify")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let timeout = 3, pings = 12   // 12 s of pings a second apart: four timeouts
        try image.initrd(withScript: Self.script(pings: pings, after: #"i=0; while true; do i=$((i+1)); echo "WDT-ALIVE $i"; sleep 1; done"#),
                         at: dir + "/initrd")
        let platform = try RunningPlatform(name: "wdtn", yaml: Self.platformFile(initrd: dir + "/initrd", timeout: timeout, action: "notify"), directory: dir)
        defer { platform.stop() }
        let serial = { platform.logs("vm-ecu.serial.log") }

        let lastPet = try #require(Self.when(GuestHarness.guestTimeout) { serial().contains("WDT-LAST-PET") },
                                   "the guest did not ping its watchdog:\n\(serial().suffix(3000))\nup log:\n\(platform.upLog)")
        #expect(serial().contains("WDT-PET \(pings)"))
        // Pinged through four timeouts: never expired.
        #expect(!platform.upLog.contains("watchdog expired"), "\(platform.upLog)")
        #expect(platform.status?.vms.first?.watchdogExpiries == 0)
        let pid = platform.status?.vms.first?.pid

        let expired = try #require(Self.when(Double(timeout) + 20) { platform.upLog.contains("VM ecu: watchdog expired") },
                                   "no expiry reported:\n\(platform.upLog)")
        print("watchdog notify: timeout \(timeout) s; last ping to AVP's expiry line \(String(format: "%.2f", expired.timeIntervalSince(lastPet))) s")
        #expect(platform.upLog.contains("it runs on (watchdog action notify)"))
        func alive() -> Int {
            serial().split(whereSeparator: \.isNewline).compactMap { line in
                line.range(of: "WDT-ALIVE ").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) }
            }.max() ?? 0
        }
        let aliveAtExpiry = alive()
        // The guest runs on: it keeps counting, in the same QEMU, and QEMU's device, reset by the expiry,
        // does not fire again while nothing rearms it.
        #expect(platform.wait(Double(3 * timeout) + 10) { alive() >= aliveAtExpiry + 3 * timeout }, "the guest stopped after the expiry at \(aliveAtExpiry):\n\(serial().suffix(300))\nstatus: \(String(describing: platform.status?.vms))\nup log:\n\(platform.upLog)\nQEMU log:\n\(platform.logs("vm-ecu.log"))")
        let entry = try #require(platform.status?.vms.first)
        #expect(entry.state == "running" && entry.pid == pid && entry.restarts == 0 && entry.watchdogExpiries == 1, "\(entry)")
        let (code, status) = try platform.avp(["status", platform.file])
        #expect(code == 0 && status.contains("1 expired"), "\(status)")
        _ = try platform.avp(["down", platform.file])
        #expect(platform.wait(30) { !platform.process.isRunning })
    }

    @Test("AVPS-v2.0-35 (partial: i6300esb, not SBSA gwdt): under poweroff a guest that stops pinging is stopped and left down (restart: always notwithstanding)")
    func stoppedGuestIsPoweredOff() throws {
        try GuestHarness.checkPrerequisites()
        let image = GuestImage.cached(.own)
        try image.ensureBuilt()
        let dir = try GuestHarness.workDirectory("watchdog-poweroff")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try image.initrd(withScript: Self.script(pings: 2, after: "sleep 3600"), at: dir + "/initrd")
        let platform = try RunningPlatform(name: "wdtp", yaml: Self.platformFile(initrd: dir + "/initrd", timeout: 3, action: "poweroff", restart: "always"),
                                           directory: dir)
        defer { platform.stop() }
        #expect(platform.wait(GuestHarness.guestTimeout) { platform.logs("vm-ecu.serial.log").contains("WDT-LAST-PET") },
                "the guest did not ping its watchdog:\n\(platform.upLog)")
        // Its only VM left down, `avp up` ends.
        #expect(platform.wait(30) { !platform.process.isRunning }, "avp up still running:\n\(platform.upLog)")
        let entry = try #require(platform.status?.vms.first)
        #expect(entry.state == "powered off (watchdog)" && entry.restarts == 0 && entry.watchdogExpiries == 1, "\(entry)")
        #expect(platform.upLog.contains("powering it off (watchdog action poweroff)") && platform.upLog.contains("left down (watchdog)"), "\(platform.upLog)")
    }
}
