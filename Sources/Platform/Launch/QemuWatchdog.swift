/// What a VM's watchdog ({AVPS-v2.0-35}) adds to its QEMU command line: QEMU's i6300esb
/// (PCI; q35 only), QEMU told to do nothing itself when it expires but to report it
/// (`-action watchdog=none`: the WATCHDOG event, QEMU 6.0 and later; 7.2 and 10.0 have it), the
/// QMP monitor AVP's supervisor reads that event on (`QmpConnection`), and the guest driver's
/// timeout on the kernel command line.
///
/// hw/watchdog/wdt_i6300esb.c: the device counts down two stages of the preload Linux writes
/// (`heartbeat << 9` ticks of about 1 ms each, drivers/watchdog/i6300esb.c), so it expires
/// `heartbeat` seconds after the guest's last ping. The first stage's end does nothing in QEMU
/// (no interrupt is modelled); the second's calls the watchdog action and, with reboot enabled
/// (Linux's default), resets the device: after an expiry the timer is off until the guest's
/// driver starts it again (opening /dev/watchdog anew, or a reboot).
public struct QemuWatchdog: Sendable, Equatable {
    /// The guest driver's timeout in seconds (`i6300esb.heartbeat`).
    public var heartbeatSeconds: Int
    /// The QMP monitor's socket, in the platform's private socket directory.
    public var qmpSocket: String

    /// The chardev id of AVP's QMP monitor.
    public static let monitorID = "avp-qmp"

    public init(heartbeatSeconds: Int, qmpSocket: String) {
        self.heartbeatSeconds = heartbeatSeconds
        self.qmpSocket = qmpSocket
    }

    public var arguments: [String] {
        ["-device", "i6300esb,id=watchdog0",
         "-action", "watchdog=none",
         "-chardev", "socket,id=\(Self.monitorID),path=\(qmpSocket),server=on,wait=off",
         "-mon", "chardev=\(Self.monitorID),mode=control"]
    }

    /// The driver is built into AVP's own kernel, so its module parameter is `i6300esb.heartbeat`.
    public var kernelArguments: [String] { ["i6300esb.heartbeat=\(heartbeatSeconds)"] }
}
