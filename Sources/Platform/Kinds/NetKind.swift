import Devices
import Virtio
import ServerCommands

/// virtio-net ({AVPS-v2.0-8} to {AVPS-v2.0-15}): an interface on a network, that is a
/// port of the network's `avp serve switch`, with a stable MAC, an MTU and the source
/// MACs it may use (AVPS §2.7), and the IPv4 address the guest's init gives it. Or a host
/// interface dedicated to the VM ({AVPS-v2.0-9}, `host-device:`): a PCI NIC passed through
/// with VFIO, or a macvtap in passthru mode that QEMU's own virtio-net drives, no server.
enum NetKind: DeviceKindDefinition {
    struct Settings: Sendable {
        /// Where the interface attaches.
        enum Link: Sendable {
            /// A port of the network's switch.
            case network(String)
            /// Host hardware given to the VM alone.
            case host(HostDevice)
        }

        var link: Link
        /// The MAC, MTU and source-MAC rules (a macvtap uses only the MAC); nil for a NIC passed
        /// through with VFIO, which the guest's own driver runs.
        var policy: NetPortPolicy?
        /// What the guest's init gives the interface; nil for a NIC passed through.
        var address: IPv4Interface?
    }

    static let kind = DeviceKind.net
    static let virtioID = VirtioDeviceType.network
    static let macPattern = "^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$"
    static let network = OptionKey<String>("network", .string("The network (under networks:) this interface attaches to.",
                                                              pattern: PlatformSchema.namePattern))
    static let mac = OptionKey<String>("mac", .string("Fixed MAC address; by default derived from the platform and VM names, stable across reboots.",
                                                      pattern: macPattern))
    static let mtu = OptionKey<WholeNumber>("mtu", .integer("Interface MTU (the guest sees it, the switch enforces it).", range: PlatformLimits.mtu))
    static let macChange = OptionKey<String>("mac-change", .string("May the guest use a MAC of its own (AVPS-v2.0-14)?",
                                                                   values: NetPortPolicy.MACChange.allCases.map(\.rawValue)))
    static let allowedMACs = OptionKey<[String]>("allowed-macs", .array("Further source MACs the guest may use when mac-change is deny.",
                                                                        items: .string("A MAC address.", pattern: macPattern),
                                                                        count: 0...PlatformLimits.allowedMACs))
    static let address = OptionKey<String>("address", .string("IPv4 address/prefix the guest's init gives the interface (default guest image); by default a link-local 169.254.x.y/16 derived from the MAC.",
                                                              pattern: "^[0-9.]+/[0-9]+$"))
    static let host = OptionKey<String>("host-device", .string(
        "A host network interface dedicated to this VM instead of a network (AVPS-v2.0-9): vfio:DDDD:BB:DD.F, a PCI NIC passed through with VFIO (q35 VMs), "
            + "or macvtap:IFNAME, a macvtap in passthru mode on that interface that AVP creates at avp up."))
    static let options: [any DeviceOption] = [network, mac, mtu, macChange, allowedMACs, address, host]
    static let sharedServers = SharedServers.refused(reason: "net devices attach to networks, not to servers",
                                             fix: "declare a network under 'networks:'")
    static let perVM = PerVMRule.any

    static func resolve(_ given: DeviceOptions, rules: inout KindRules) -> Settings? {
        guard case let .vm(vm, index) = rules.user else { return nil }
        if let text = given[host] { return resolveHost(text, given, vm: vm, index: index, rules: &rules) }
        guard let network = given[network] else {
            rules.error(nil, "a net device needs a network or a host device",
                        fix: "add 'network: NAME' (declared under 'networks:') or 'host-device: vfio:DDDD:BB:DD.F' or 'host-device: macvtap:IFNAME'")
            return nil
        }
        guard let networkMTU = rules.networks[network] else {
            rules.error(Self.network.name, "network '\(network)' is not declared",
                        fix: rules.networks.isEmpty ? "declare it under 'networks:'" : "use one of: \(rules.networks.keys.sorted().joined(separator: ", "))")
            return nil
        }
        guard let stable = stableMAC(given, vm: vm, index: index, rules: &rules) else { return nil }
        var policy = NetPortPolicy(name: "\(vm)-\(index)", mac: stable, mtu: given[mtu]?.value ?? networkMTU)
        policy.macChange = given[macChange].flatMap(NetPortPolicy.MACChange.init(rawValue:)) ?? .allow
        for (k, text) in (given[allowedMACs] ?? []).enumerated() {
            if let m = MACAddress(text), !m.isMulticast { policy.extraMACs.append(m) } else {
                rules.error("\(allowedMACs.name)[\(k)]", "\(UserText.quoted(text)) is not a unicast MAC address")
            }
        }
        guard let interface = guestAddress(given, mac: stable, rules: &rules) else { return nil }
        return Settings(link: .network(network), policy: policy, address: interface)
    }

    /// The interface's MAC: `mac:`, or one derived from the platform, VM and index; unique on the platform.
    private static func stableMAC(_ given: DeviceOptions, vm: String, index: Int, rules: inout KindRules) -> MACAddress? {
        var stable = MACAddress.derived(from: "\(rules.platformName)/\(vm)/\(index)")
        if let text = given[mac] {
            guard let parsed = MACAddress(text) else { rules.error(mac.name, "\(UserText.quoted(text)) is not a MAC address"); return nil }
            if parsed.isMulticast || parsed.isZero {
                rules.error(mac.name, "\(parsed) is a multicast or zero address; an interface needs a unicast MAC",
                            fix: "clear the lowest bit of the first byte, e.g. 02:...")
            }
            stable = parsed
        }
        if let other = rules.claim(stable.description, in: "mac") {
            rules.error(given[mac] == nil ? nil : mac.name, "MAC \(stable) is already used by \(other)", fix: "give this interface its own 'mac:'")
        }
        return stable
    }

    /// The address the guest's init gives the interface: `address:`, or link-local from the MAC; unique on the platform.
    private static func guestAddress(_ given: DeviceOptions, mac stable: MACAddress, rules: inout KindRules) -> IPv4Interface? {
        var interface = IPv4Interface(linkLocalFor: stable.bytes)
        if let text = given[address] {
            guard let parsed = IPv4Interface(text), parsed.isAssignable else {
                rules.error(address.name, "\(UserText.quoted(text)) is not an IPv4 interface address such as 10.0.0.1/24")
                return nil
            }
            interface = parsed
        }
        if let other = rules.claim(interface.address, in: "address") {
            rules.error(given[address] == nil ? nil : address.name, "address \(interface.address) is already used by \(other)",
                        fix: "give this interface its own 'address:'")
        }
        return interface
    }

    /// `host-device:` ({AVPS-v2.0-9}): `vfio:ADDRESS` or `macvtap:IFNAME`, instead of a network.
    private static func resolveHost(_ text: String, _ given: DeviceOptions, vm: String, index: Int, rules: inout KindRules) -> Settings? {
        if given[network] != nil {
            rules.error(network.name, "a net device attaches to a network or to a host device, not both", fix: "remove 'network:' or 'host-device:'")
            return nil
        }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first {
        case "vfio"?:
            refuse([mac, mtu, macChange, allowedMACs, address], in: given, rules: &rules,
                   because: "a NIC passed through with VFIO is the guest's own hardware, with its own MAC; AVP configures nothing in it")
            let function = rules.vfioFunction(parts.count == 2 ? parts[1] : "", option: host.name, what: "a network interface")
            return function.map { Settings(link: .host(.vfio($0)), policy: nil, address: nil) }
        case "macvtap"?:
            refuse([mtu, macChange, allowedMACs], in: given, rules: &rules,
                   because: "a macvtap in passthru mode has the host interface's MTU, and no AVP switch applies MAC rules to it")
            guard let parent = rules.dedicatedInterface(parts.count == 2 ? parts[1] : "", option: host.name),
                  let stable = stableMAC(given, vm: vm, index: index, rules: &rules),
                  let interface = guestAddress(given, mac: stable, rules: &rules) else { return nil }
            return Settings(link: .host(.macvtap(parent: parent)), policy: NetPortPolicy(name: "\(vm)-\(index)", mac: stable, mtu: 1500),
                            address: interface)
        default:
            rules.error(host.name, "\(UserText.quoted(text)) is not a host network device",
                        fix: "write vfio:DDDD:BB:DD.F (a PCI NIC) or macvtap:IFNAME (a host interface)")
            return nil
        }
    }

    /// Errors for the options that do not apply to a host device.
    private static func refuse(_ keys: [any DeviceOption], in given: DeviceOptions, rules: inout KindRules, because reason: String) {
        for key in keys where given.values[key.name] != nil {
            rules.error(key.name + "#key", "'\(key.name)' does not apply to this host device: \(reason)", fix: "remove it")
        }
    }

    static func hostDevice(_ settings: Settings) -> HostDevice? {
        if case let .host(device) = settings.link { return device }
        return nil
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String {
        switch slot.settings.link {
        case let .network(network): "switch-\(network)"
        case .host: ""   // no server: `hostDevice` says so
        }
    }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        guard let policy = slot.settings.policy else {
            if case let .host(.vfio(function)) = slot.settings.link { plan.hostDevice(.vfio(function), id: slot.id(kind)) }
            return
        }
        let network: String
        switch slot.settings.link {
        case let .network(name):
            network = name
        case let .host(.macvtap(parent)):
            let fd = plan.macvtap(parent: parent, mac: policy.mac.description, index: slot.index)
            plan.hostDevice(.tap(fd: fd, mac: policy.mac.description), id: slot.id(kind))
            if let address = slot.settings.address { plan.vm.command.kernelArguments.append("avp.ip=\(policy.mac),\(address)") }
            return
        case .host(.vfio):
            return
        }
        let socket = plan.socket("\(network)-\(slot.vm)-\(slot.index)")
        let stats = plan.log("switch-\(network).json")
        plan.server(serverName(slot), kind: kind, create: { SwitchServeOptions(ports: [], stats: stats) }) {
            $0.port.append(SwitchPortOption(policy: policy, endpoint: .connect(socket)))
        }
        plan.vm.command.vhostUserDevices.append(.init(model: .net(mac: policy.mac.description, mtu: policy.mtu),
                                                      socketPath: socket, id: slot.id(kind)))
        // Read by the default guest image's init (scripts/guest-image).
        if let address = slot.settings.address { plan.vm.command.kernelArguments.append("avp.ip=\(policy.mac),\(address)") }
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        var properties: [(String, DeviceTreeNode.Value)] = []
        switch settings.link {
        case let .network(network):
            if let policy = settings.policy {
                properties += [("local-mac-address", .bytes(policy.mac.bytes)), ("max-frame-size", .cells([UInt32(policy.maxFrameLength)]))]
            }
            properties.append(("avp,network", .string(network)))
        case let .host(device):
            if let policy = settings.policy { properties.append(("local-mac-address", .bytes(policy.mac.bytes))) }
            properties.append(("avp,host-device", .string(device.description)))
        }
        return properties + (settings.address.map { [("avp,address", .string($0.description))] } ?? [])
    }
}

extension Platform.Device {
    /// A net device's switch-port policy (nil for other kinds and for host devices, which no switch serves).
    public var net: NetPortPolicy? {
        guard let settings = settings(of: NetKind.self), case .network = settings.link else { return nil }
        return settings.policy
    }
}

extension QemuDeviceModel {
    /// QEMU's own virtio-net model through `-netdev vhost-user`: it shows the guest this MAC
    /// and MTU and handles the control queue (CTRL_MAC_ADDR) itself.
    public static func net(mac: String, mtu: Int) -> QemuDeviceModel {
        QemuDeviceModel(pci: "virtio-net-pci", mmio: "virtio-net-device",
                        properties: ["mac=\(mac)", "host_mtu=\(mtu)", "ctrl_vq=on", "ctrl_mac_addr=on"], throughNetdev: true)
    }
}
