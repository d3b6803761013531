import Devices
import Virtio

/// virtio-net ({AVPS-v2.0-8} to {AVPS-v2.0-15}): an interface on a network, that is a
/// port of the network's `avp serve switch`, with a stable MAC, an MTU and the source
/// MACs it may use (AVPS §2.7), and the IPv4 address the guest's init gives it.
enum NetKind: DeviceKindDefinition {
    struct Settings: Sendable {
        var network: String
        var policy: NetPortPolicy
        var address: IPv4Interface
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
    static let options: [any DeviceOption] = [network, mac, mtu, macChange, allowedMACs, address]
    static let sharedServers = SharedServers.refused(reason: "net devices attach to networks, not to servers",
                                             fix: "declare a network under 'networks:'")
    static let perVM = PerVMRule.any

    static func resolve(_ given: DeviceOptions, rules: inout KindRules) -> Settings? {
        guard case let .vm(vm, index) = rules.user else { return nil }
        guard let network = given[network] else {
            rules.error(nil, "a net device needs a network", fix: "add 'network: NAME' (declared under 'networks:')")
            return nil
        }
        guard let networkMTU = rules.networks[network] else {
            rules.error(Self.network.name, "network '\(network)' is not declared",
                        fix: rules.networks.isEmpty ? "declare it under 'networks:'" : "use one of: \(rules.networks.keys.sorted().joined(separator: ", "))")
            return nil
        }
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
        var policy = NetPortPolicy(name: "\(vm)-\(index)", mac: stable, mtu: given[mtu]?.value ?? networkMTU)
        policy.macChange = given[macChange].flatMap(NetPortPolicy.MACChange.init(rawValue:)) ?? .allow
        for (k, text) in (given[allowedMACs] ?? []).enumerated() {
            if let m = MACAddress(text), !m.isMulticast { policy.extraMACs.append(m) } else {
                rules.error("\(allowedMACs.name)[\(k)]", "\(UserText.quoted(text)) is not a unicast MAC address")
            }
        }
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
        return Settings(network: network, policy: policy, address: interface)
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { "switch-\(slot.settings.network)" }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let network = slot.settings.network, policy = slot.settings.policy
        let socket = plan.socket("\(network)-\(slot.vm)-\(slot.index)")
        let stats = plan.log("switch-\(network).json")
        plan.server(serverName(slot), kind: kind, create: { SwitchServeOptions(ports: [], stats: stats) }) {
            $0.port.append(SwitchPortOption(policy: policy, endpoint: .connect(socket)))
        }
        plan.vm.command.vhostUserDevices.append(.init(model: .net(mac: policy.mac.description, mtu: policy.mtu),
                                                      socketPath: socket, id: slot.id(kind)))
        // Read by the default guest image's init (scripts/guest-image).
        plan.vm.command.kernelArguments.append("avp.ip=\(policy.mac),\(slot.settings.address)")
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        [("local-mac-address", .bytes(settings.policy.mac.bytes)), ("max-frame-size", .cells([UInt32(settings.policy.maxFrameLength)])),
         ("avp,network", .string(settings.network)), ("avp,address", .string(settings.address.description))]
    }
}

extension Platform.Device {
    /// A net device's port policy (nil for other kinds).
    public var net: NetPortPolicy? { settings(of: NetKind.self)?.policy }
}

extension QemuDeviceModel {
    /// QEMU's own virtio-net model through `-netdev vhost-user`: it shows the guest this MAC
    /// and MTU and handles the control queue (CTRL_MAC_ADDR) itself.
    public static func net(mac: String, mtu: Int) -> QemuDeviceModel {
        QemuDeviceModel(pci: "virtio-net-pci", mmio: "virtio-net-device",
                        properties: ["mac=\(mac)", "host_mtu=\(mtu)", "ctrl_vq=on", "ctrl_mac_addr=on"], throughNetdev: true)
    }
}
