/// AVPS-v2.0-48/49: the last check before a production VM starts. The platform
/// rules already refuse a production file that asks for a console; this looks at
/// the QEMU command line actually built, so no code path (today's or a future one)
/// can hand a production guest a console, a serial port or a monitor unnoticed.
public enum ProductionLockdown {
    public struct Violation: Error, CustomStringConvertible {
        public let argument: String
        public var description: String { "production lockdown: refusing to start QEMU with '\(argument)' (AVPS-v2.0-48)" }
    }

    /// Options whose value must be "none" in production.
    static let mustBeNone = ["-serial", "-monitor", "-parallel"]
    /// Options that are never allowed in production.
    static let forbidden = ["-qmp", "-qmp-pretty", "-gdb", "-s", "-nographic", "-curses", "-vnc", "-spice", "-display"]
    /// Device models that are consoles.
    static let consoleDevices = ["virtconsole", "virtserialport", "virtio-serial", "isa-serial", "pci-serial", "usb-serial", "vhost-user-device"]

    /// Throws on the first argument that would give the guest or the host a console.
    public static func verify(_ arguments: [String]) throws {
        var i = 0
        while i < arguments.count {
            let option = arguments[i]
            let value = i + 1 < arguments.count ? arguments[i + 1] : ""
            if mustBeNone.contains(option), value != "none" { throw Violation(argument: "\(option) \(value)") }
            if forbidden.contains(option), !(option == "-display" && value == "none") { throw Violation(argument: "\(option) \(value)") }
            if option == "-device", consoleDevices.contains(where: { value.hasPrefix($0) }) { throw Violation(argument: "\(option) \(value)") }
            if option == "-chardev", !value.hasPrefix("socket,") { throw Violation(argument: "\(option) \(value)") }
            // The one monitor allowed: the watchdog's QMP socket, which only AVP's supervisor reads (QemuWatchdog).
            if option == "-mon", value != "chardev=\(QemuWatchdog.monitorID),mode=control" { throw Violation(argument: "\(option) \(value)") }
            if option == "-append", value.split(separator: " ").contains(where: { $0.hasPrefix("console=") || $0.hasPrefix("avp.getty") || $0.hasPrefix("avp.shell") }) {
                throw Violation(argument: "\(option) \(value)")
            }
            i += 1
        }
    }
}
