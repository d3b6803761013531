/// Something a platform file configures that makes a requirement concern it: with a platform
/// given, `avp conformance` marks a requirement none of whose features the platform has as
/// not configured there. A requirement without features concerns every platform.
public enum PlatformFeature: Hashable, Sendable, CustomStringConvertible {
    /// A device of this kind (`DeviceKind`'s raw value, the platform file's `type:`), on a VM
    /// or a shared server. A name, not the enum, so the table can name a kind before it exists.
    case device(String)
    /// A VM with a supervised watchdog (`watchdog:`).
    case watchdog
    /// An aarch64 VM (PSCI, AVP's device tree on `-M virt`).
    case arm64VM
    /// A VM booted through UEFI firmware (`boot: uefi`).
    case uefiBoot

    public var description: String {
        switch self {
        case let .device(kind): "a \(kind) device"
        case .watchdog: "a watchdog"
        case .arm64VM: "an aarch64 VM"
        case .uefiBoot: "a VM with boot: uefi"
        }
    }

    /// True if `platform` configures this feature.
    public func isConfigured(in platform: Platform) -> Bool {
        switch self {
        case let .device(kind):
            platform.vms.contains { vm in vm.devices.contains { $0.kind.rawValue == kind } }
                || platform.servers.contains { $0.kind.rawValue == kind }
        case .watchdog:
            platform.vms.contains { $0.watchdog != nil }
        case .arm64VM:
            platform.vms.contains { $0.arch == .aarch64 }
        case .uefiBoot:
            platform.vms.contains { $0.boot == .uefi }
        }
    }
}
