import ServerCommands

/// A VM's supervised watchdog ({AVPS-v2.0-35}): the `watchdog:` mapping of a VM in the
/// platform file, what it resolves to, and the rules `avp check` applies to it.
///
/// The device is QEMU's i6300esb (Intel 6300ESB, PCI), not the SBSA generic watchdog
/// {AVPS-v2.0-35} names: stock QEMU builds that one (`sbsa_gwdt`, "arm,sbsa-gwdt") into the
/// aarch64 `sbsa-ref` machine alone (hw/arm/Kconfig: only SBSA_REF selects WDT_SBSA), and it is a
/// sysbus device a machine must wire up, so neither x86 (q35, microvm) nor `-M virt` can add it
/// with `-device`. See docs/watchdog.md.
public struct WatchdogSpec: Decodable, Sendable, Equatable {
    /// Seconds without a ping before the watchdog expires.
    public var timeout: WholeNumber
    /// What AVP does when it expires; `restart` when absent.
    public var action: Platform.Watchdog.Action?
}

extension Platform {
    /// A resolved `watchdog:` setting.
    public struct Watchdog: Sendable, Equatable {
        /// What the supervisor does when the guest stops pinging its watchdog.
        public enum Action: String, Codable, Sendable, CaseIterable {
            /// Kill QEMU and start the VM again, as after a crash (whatever its restart policy).
            case restart
            /// Kill QEMU and leave the VM down (whatever its restart policy).
            case poweroff
            /// Log the expiry and count it; the VM runs on.
            case notify
        }

        /// Seconds: the guest driver's heartbeat (`i6300esb.heartbeat`), split over the device's two stages.
        public var timeoutSeconds: Int
        public var action: Action

        public init(timeoutSeconds: Int, action: Action) {
            self.timeoutSeconds = timeoutSeconds
            self.action = action
        }
    }
}

enum WatchdogRules {
    /// Linux's i6300esb driver takes heartbeats of 1 to 2046 s (ESB_HEARTBEAT_MIN/MAX): each of the
    /// two stages counts `heartbeat << 9` ticks of about 1 ms in a 20-bit preload register.
    static let timeoutSeconds = 1...2046

    static let schema: SchemaValue = .object(
        "A watchdog the guest must ping (AVPS-v2.0-35; QEMU's i6300esb on q35, driven by Linux's i6300esb driver through /dev/watchdog). AVP's supervisor acts when it expires. Not on microvm (no PCI).",
        properties: [
            ("timeout", .integer("Seconds without a ping before it expires (the guest's i6300esb.heartbeat).", range: timeoutSeconds)),
            ("action", .string("What AVP does when it expires: restart the VM (the default), poweroff (stop it and leave it down), or notify (log and count only).",
                               values: Platform.Watchdog.Action.allCases.map(\.rawValue))),
        ],
        required: ["timeout"])

    /// The resolved setting, or nil with an error when the VM cannot have one. `at` is the VM's path.
    static func resolve(_ spec: WatchdogSpec?, vm: String, machine: QemuCommandLine.Machine, at: String,
                        report: inout DiagnosticReport) -> Platform.Watchdog? {
        guard let spec else { return nil }
        if machine == .microvm {
            report.error(at + ".watchdog#key", "VM '\(vm)' has a watchdog, but QEMU's microvm machine has no PCI bus for the i6300esb, the only watchdog QEMU offers on x86",
                         fix: "use 'machine: q35', or remove 'watchdog'")
            return nil
        }
        // The schema has checked the range.
        return Platform.Watchdog(timeoutSeconds: spec.timeout.value, action: spec.action ?? .restart)
    }
}
