import Virtio

/// One kind of device, as the platform knows it. Each kind is one file in this folder
/// conforming to this protocol; rules, plan, schema, QEMU command line and device tree
/// iterate `DeviceKind.allCases` and ask the definition, so a kind that is declared but
/// lacks any of these does not compile.
protocol DeviceKindDefinition {
    /// One device of this kind once the rules have resolved its options (a shared
    /// server's settings are those of every device that refers to it).
    associatedtype Settings: Sendable

    /// A `VirtioDeviceType`, or `NoVirtioDevice` for a kind of host hardware (usb-host).
    associatedtype VirtioID: VirtioIdentity = VirtioDeviceType

    static var kind: DeviceKind { get }
    /// VIRTIO 1.2 §5: the device ID the guest's driver binds to.
    static var virtioID: VirtioID { get }
    /// Its options in the platform file, each with its schema (type, range, description).
    static var options: [any DeviceOption] { get }
    /// Whether the kind may be declared under `servers:` (one server for several VMs).
    static var sharedServers: SharedServers { get }
    /// Limits and profile rules for the devices of one VM.
    static var perVM: PerVMRule { get }

    /// Resolves one device's (or shared server's) options; problems go to `rules`.
    static func resolve(_ options: DeviceOptions, rules: inout KindRules) -> Settings?
    /// The server process a device uses (also the device tree's `avp,server`).
    static func serverName(_ slot: DeviceSlot<Settings>) -> String
    /// Adds the device to the launch plan: its server (typed options) and its QEMU device.
    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder)
    /// Properties of its device-tree node beyond transport, kind, virtio ID and server.
    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)]
    /// The host hardware the VM gets instead of a device an AVP server emulates, if any
    /// ({AVPS-v2.0-9}, {AVPS-v2.0-33}); such a device has no server. Default: none.
    static func hostDevice(_ settings: Settings) -> HostDevice?
}

/// Whether a kind may be declared under `servers:`. Kinds that refuse may still share a
/// process (a network's switch, the platform's vsock server); their plan decides that.
enum SharedServers: Sendable {
    /// A server for each device, or one declared under `servers:` for every VM that refers to it.
    case allowed
    /// `servers:` refuses the kind with this reason and fix.
    case refused(reason: String, fix: String)
}

/// What one VM may have of a kind.
struct PerVMRule: Sendable {
    /// At most this many per VM ("VM 'x' already has a console").
    var limit: Int?
    /// The kind as messages name one device of it: "a console".
    var noun = ""
    /// Refused in the production profile with this reason (AVPS-v2.0-48 for consoles).
    var refusedInProduction: String?
    /// Where QEMU places it: after every vhost-user device (virtio-serial consoles) or in order.
    var placedLast = false
    /// The guest image whose kernel has its driver, for VMs with `kernel: default`.
    var guestFlavour = GuestImage.Flavour.default
    /// The one architecture whose VMs may have it (vhost-user-scmi: aarch64), nil for any.
    var architecture: VMSpec.Architecture?

    static let any = PerVMRule()
}

/// One device of a VM, with its settings, as the plan and the device tree see it.
struct DeviceSlot<Settings: Sendable> {
    var vm: String
    /// Its index among the VM's devices.
    var index: Int
    var settings: Settings
    /// The shared server it refers to, if any.
    var sharedServer: String?

    /// QEMU's id for it: kind and index (`entropy0`).
    func id(_ kind: DeviceKind) -> String { "\(kind.rawValue)\(index)" }
    /// The shared server's name, else one for this device alone: `ivi-block1`.
    func defaultServerName(_ kind: DeviceKind) -> String { sharedServer ?? "\(vm)-\(id(kind))" }
}

extension DeviceKindDefinition {
    /// The settings of a device of this kind, if `settings` are those of this kind.
    static func typed(_ settings: any Sendable) -> Settings? { settings as? Settings }

    static func slot(vm: String, index: Int, settings: any Sendable, server: String?) -> DeviceSlot<Settings>? {
        typed(settings).map { DeviceSlot(vm: vm, index: index, settings: $0, sharedServer: server) }
    }

    static func hostDevice(_ settings: Settings) -> HostDevice? { nil }

    /// The device's server, nil for host hardware passed through.
    static func serverName(vm: String, index: Int, settings: any Sendable, server: String?) -> String? {
        slot(vm: vm, index: index, settings: settings, server: server).flatMap { hostDevice($0.settings) == nil ? serverName($0) : nil }
    }

    static func hostDevice(of settings: any Sendable) -> HostDevice? { typed(settings).flatMap(hostDevice) }

    /// The virtio device ID the guest sees for a device with `settings`: the kind's, the host
    /// device's, or nil for host hardware that is no virtio device.
    static func guestVirtioID(of settings: (any Sendable)?) -> VirtioDeviceType? {
        if let settings, let host = hostDevice(of: settings) { return host.virtioID }
        return virtioID.deviceType
    }

    static func plan(vm: String, index: Int, settings: any Sendable, server: String?, into plan: inout PlanBuilder) {
        if let slot = slot(vm: vm, index: index, settings: settings, server: server) { Self.plan(slot, into: &plan) }
    }

    static func deviceTreeProperties(of settings: any Sendable) -> [(String, DeviceTreeNode.Value)] {
        typed(settings).map(deviceTreeProperties) ?? []
    }
}
