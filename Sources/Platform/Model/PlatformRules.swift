import Devices
import Foundation

/// The rules a schema cannot express: names unique, references declared, files
/// present, sizes sensible, one writer per image, and the production profile's
/// lockdown (AVPS-v2.0-48: no console of any kind). Produces the resolved `Platform`.
struct PlatformRules {
    static let defaultMemoryMiB = 512

    let file: PlatformFile
    let path: String
    let marks: [String: (line: Int, column: Int)]
    private(set) var diagnostics: [Diagnostic] = []

    init(file: PlatformFile, path: String, marks: [String: (line: Int, column: Int)]) {
        self.file = file
        self.path = path
        self.marks = marks
    }

    private var directory: String { URL(fileURLWithPath: path).deletingLastPathComponent().path }

    mutating func apply() -> Platform {
        let production = file.profile == .production
        let name = file.name ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            .lowercased().replacingOccurrences(of: "_", with: "-")
        var networks: [String: Int] = [:]
        for (i, n) in (file.networks ?? []).enumerated() {
            if networks[n.name] != nil { error("networks[\(i)].name", "a network named '\(n.name)' is already declared", fix: "give each network its own name") }
            networks[n.name] = n.mtu?.value ?? 1500
        }
        var macs: [MACAddress: String] = [:]   // MAC → VM that has it
        var cids: [UInt64: String] = [:]
        var servers: [Platform.Server] = []
        var serverNames: [String: DeviceKind] = [:]
        var writers: [String: String] = [:]   // image → first read-write user

        for (i, spec) in (file.servers ?? []).enumerated() {
            let at = "servers[\(i)]"
            if serverNames[spec.name] != nil {
                error(at + ".name", "a server named '\(spec.name)' is already declared", fix: "give each server its own name")
            }
            serverNames[spec.name] = spec.type
            switch spec.type {
            case .console:
                error(at + ".type", "a console serves one VM and cannot be shared",
                      fix: "add '- type: console' to the VM's devices instead")
            case .net:
                error(at + ".type", "net devices attach to networks, not to servers", fix: "declare a network under 'networks:'")
            case .vsock:
                error(at + ".type", "vsock is served for the whole platform; it is not a shared server",
                      fix: "give each VM '- type: vsock' with its cid, and list allowed pairs under 'vsock: allow:'")
            case .entropy:
                for (key, present) in [("image", spec.block.image != nil), ("read-only", spec.block.readOnly != nil),
                                       ("serial", spec.block.serial != nil), ("queues", spec.block.queues != nil),
                                       ("cache", spec.block.cache != nil), ("direct", spec.block.direct != nil)] where present {
                    error("\(at).\(key)#key", "'\(key)' is not an option of entropy servers", fix: "remove it")
                }
                servers.append(.init(name: spec.name, kind: .entropy, block: nil))
            case .block:
                if let options = blockOptions(spec.block, at: at, writers: &writers, user: "server '\(spec.name)'") {
                    servers.append(.init(name: spec.name, kind: .block, block: options))
                }
            }
        }

        var vms: [Platform.VM] = []
        var vmNames: Set<String> = []
        for (v, spec) in file.vms.enumerated() {
            let at = "vms[\(v)]"
            if !vmNames.insert(spec.name).inserted {
                error(at + ".name", "a VM named '\(spec.name)' is already declared", fix: "give each VM its own name")
            }
            let machine = spec.machine ?? .q35
            // The schema has checked the range of every number.
            let memory = spec.memory?.mebibytes ?? Self.defaultMemoryMiB
            let microvmSlots = PlatformLimits.devicesPerMicrovm
            if machine == .microvm, let count = spec.devices?.count, count > microvmSlots {
                error("\(at).devices[\(microvmSlots)]", "VM '\(spec.name)' has \(count) devices, but QEMU's microvm machine has only \(microvmSlots) virtio-mmio slots",
                      fix: "remove devices, or use 'machine: q35' (up to \(PlatformLimits.devicesPerVM) devices)")
            }
            let image = GuestImage.default
            let kernel = resolveFile(spec.kernel, default: image.kernel(for: machine), at: at + ".kernel", what: "kernel")
            let initrd = resolveFile(spec.initrd, default: image.initramfs, at: at + ".initrd", what: "initrd")
            let cmdline = spec.cmdline ?? ""
            if production {
                for word in cmdline.split(separator: " ") where word.hasPrefix("console=") || word.hasPrefix("avp.shell") || word.hasPrefix("avp.getty") {
                    error(at + ".cmdline", "'\(word)' asks for a console, which the production profile forbids (AVPS-v2.0-48)",
                          fix: "remove it from cmdline")
                }
            }

            var devices: [Platform.Device] = []
            var consoles = 0
            var entropy = false
            for (d, device) in (spec.devices ?? []).enumerated() {
                let dat = "\(at).devices[\(d)]"
                if device.type == .console {
                    consoles += 1
                    if production {
                        error(dat + ".type", "VM '\(spec.name)' has a console, but the production profile allows no console of any kind (AVPS-v2.0-48)",
                              fix: "remove this device, or use 'profile: development'")
                    } else if consoles > 1 {
                        error(dat + ".type", "VM '\(spec.name)' already has a console", fix: "keep one console device")
                    }
                }
                if device.type == .entropy { entropy = true }
                if let server = device.server {
                    guard let kind = serverNames[server] else {
                        error(dat + ".server", "device refers to server '\(server)', which is not declared",
                              fix: serverNames.isEmpty ? "declare it under 'servers:'" :
                                "declare it under 'servers:' or use one of: \(serverNames.keys.sorted().joined(separator: ", "))")
                        continue
                    }
                    if kind != device.type {
                        error(dat + ".server", "server '\(server)' is a \(kind.rawValue) server, not \(device.type.rawValue)",
                              fix: "set 'type: \(kind.rawValue)' or refer to a \(device.type.rawValue) server")
                    }
                    if device.block != BlockSpec() || device.net != NetSpec() || device.vsock != VsockSpec() {
                        error(dat + ".server", "options of a shared device belong to its server",
                              fix: "move them to the server '\(server)' under 'servers:'")
                    }
                    devices.append(.init(kind: device.type, server: server, block: nil))
                    continue
                }
                rejectForeignOptions(device, at: dat)
                switch device.type {
                case .entropy, .console:
                    devices.append(.init(kind: device.type, server: nil, block: nil))
                case .block:
                    if let options = blockOptions(device.block, at: dat, writers: &writers, user: "VM '\(spec.name)'") {
                        devices.append(.init(kind: .block, server: nil, block: options))
                    }
                case .net:
                    guard let network = device.net.network else {
                        error(dat + ".type", "a net device needs a network", fix: "add 'network: NAME' (declared under 'networks:')")
                        continue
                    }
                    guard let networkMTU = networks[network] else {
                        error(dat + ".network", "network '\(network)' is not declared",
                              fix: networks.isEmpty ? "declare it under 'networks:'" : "use one of: \(networks.keys.sorted().joined(separator: ", "))")
                        continue
                    }
                    var mac = MACAddress.derived(from: "\(name)/\(spec.name)/\(d)")
                    if let text = device.net.mac {
                        guard let parsed = MACAddress(text) else { error(dat + ".mac", "\(UserText.quoted(text)) is not a MAC address"); continue }
                        if parsed.isMulticast || parsed.isZero {
                            error(dat + ".mac", "\(parsed) is a multicast or zero address; an interface needs a unicast MAC",
                                  fix: "clear the lowest bit of the first byte, e.g. 02:...")
                        }
                        mac = parsed
                    }
                    if let other = macs[mac] {
                        error(dat + (device.net.mac == nil ? ".type" : ".mac"), "MAC \(mac) is already used by \(other)",
                              fix: "give this interface its own 'mac:'")
                    }
                    macs[mac] = "VM '\(spec.name)'"
                    var policy = NetPortPolicy(name: "\(spec.name)-\(d)", mac: mac, mtu: device.net.mtu?.value ?? networkMTU)
                    policy.macChange = device.net.macChange.flatMap(NetPortPolicy.MACChange.init(rawValue:)) ?? .allow
                    for (k, text) in (device.net.allowedMACs ?? []).enumerated() {
                        if let m = MACAddress(text), !m.isMulticast { policy.extraMACs.append(m) } else {
                            error("\(dat).allowed-macs[\(k)]", "\(UserText.quoted(text)) is not a unicast MAC address")
                        }
                    }
                    devices.append(.init(kind: .net, server: nil, block: nil, net: policy, network: network))
                case .vsock:
                    guard let number = device.vsock.cid, let cid = UInt64(exactly: number.value) else {
                        error(dat + ".type", "a vsock device needs its guest's cid", fix: "add 'cid: 3' (3 or more, unique)")
                        continue
                    }
                    if let other = cids[cid] {
                        error(dat + ".cid", "cid \(cid) is already used by \(other)", fix: "give each VM its own cid")
                    }
                    if devices.contains(where: { $0.kind == .vsock }) {
                        error(dat + ".type", "VM '\(spec.name)' already has a vsock device", fix: "keep one")
                    }
                    cids[cid] = "VM '\(spec.name)'"
                    devices.append(.init(kind: .vsock, server: nil, block: nil, cid: cid))
                }
            }
            if !entropy {
                warning(at + ".name", "VM '\(spec.name)' has no entropy device (AVPS-v2.0-40 requires one)",
                        fix: "add '- type: entropy'")
            }
            vms.append(.init(name: spec.name, machine: machine, cpus: spec.cpus?.value ?? 1, memoryMiB: memory, kernel: kernel,
                             initrd: initrd, cmdline: cmdline, restart: spec.restart ?? .onFailure, devices: devices))
        }

        var pairs: [[String]] = []
        for (i, pair) in (file.vsock?.allow ?? []).enumerated() {
            let at = "vsock.allow[\(i)]"
            guard pair.count == 2, pair[0] != pair[1] else {
                error(at, "a vsock pair names two different VMs", fix: "write [vm-a, vm-b]")
                continue
            }
            for vmName in pair {
                guard let vm = vms.first(where: { $0.name == vmName }) else {
                    error(at, "\(UserText.quoted(vmName)) is not a VM of this platform")
                    continue
                }
                if !vm.devices.contains(where: { $0.kind == .vsock }) {
                    error(at, "VM '\(vmName)' has no vsock device", fix: "add '- type: vsock' with a cid to its devices")
                }
            }
            pairs.append(pair)
        }
        var platform = Platform(name: name, profile: file.profile, path: path, servers: servers, vms: vms)
        platform.networks = (file.networks ?? []).map { Platform.Network(name: $0.name, mtu: $0.mtu?.value ?? 1500) }
        platform.vsockPairs = pairs
        return platform
    }

    // MARK: Helpers

    private mutating func blockOptions(_ spec: BlockSpec, at: String, writers: inout [String: String], user: String) -> BlockDeviceOptions? {
        guard let image = spec.image else {
            error(at + ".type", "a block device needs an image", fix: "add 'image: disk.img' (a raw image file)")
            return nil
        }
        let path = absolute(image)
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) || isDirectory.boolValue {
            error(at + ".image", "image \(UserText.shortened(path, limit: 200)) does not exist",
                  fix: "create it, e.g. truncate -s 1G \(UserText.shortened(path, limit: 200))")
        }
        var options = BlockDeviceOptions(imagePath: path)
        options.readOnly = spec.readOnly ?? false
        options.serial = spec.serial ?? ""
        options.queueCount = spec.queues?.value ?? 1
        options.direct = spec.direct ?? false
        if let cache = spec.cache { options.cache = BlockDeviceOptions.CacheMode(rawValue: cache) ?? .writeback }
        if !options.readOnly {
            if let other = writers[path] {
                error(at + ".image", "\(user) writes \(path), which \(other) also writes",
                      fix: "give each writer its own image, or share it read-only through one server")
            } else {
                writers[path] = user
            }
        }
        return options
    }

    /// Options that belong to another kind of device are errors, each where it is written.
    private mutating func rejectForeignOptions(_ device: DeviceSpec, at: String) {
        var given: [(String, Bool, DeviceKind)] = []
        let b = device.block, n = device.net
        given += [("image", b.image != nil, .block), ("read-only", b.readOnly != nil, .block), ("serial", b.serial != nil, .block),
                  ("queues", b.queues != nil, .block), ("cache", b.cache != nil, .block), ("direct", b.direct != nil, .block)]
        given += [("network", n.network != nil, .net), ("mac", n.mac != nil, .net), ("mtu", n.mtu != nil, .net),
                  ("mac-change", n.macChange != nil, .net), ("allowed-macs", n.allowedMACs != nil, .net)]
        given += [("cid", device.vsock.cid != nil, .vsock)]
        for (key, present, owner) in given where present && owner != device.type {
            error(at + "." + key + "#key", "'\(key)' is not an option of \(device.type.rawValue) devices", fix: "remove it")
        }
    }

    private mutating func resolveFile(_ value: String?, default fallback: String, at: String, what: String) -> String {
        let path = (value == nil || value == "default") ? fallback : absolute(value!)
        if !FileManager.default.fileExists(atPath: path) {
            let fix = (value == nil || value == "default") ? "build the default guest image: scripts/guest-image" : "check the path (relative paths start at the platform file)"
            error(value == nil ? String(at.split(separator: ".").dropLast().joined(separator: ".")) + ".name" : at,
                  "\(what) \(UserText.shortened(path, limit: 200)) does not exist", fix: fix)
        }
        return path
    }

    private func absolute(_ p: String) -> String {
        p.hasPrefix("/") ? p : URL(fileURLWithPath: directory).appendingPathComponent(p).standardizedFileURL.path
    }

    private func mark(_ path: String) -> (line: Int, column: Int) {
        var p = path
        while true {
            if let m = marks[p] { return m }
            if let m = marks[p.replacingOccurrences(of: "#key", with: "")] { return m }
            guard let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) else { return marks[""] ?? (1, 1) }
            p = String(p[..<cut])
        }
    }

    private mutating func error(_ path: String, _ message: String, fix: String? = nil) {
        let m = mark(path)
        diagnostics.append(Diagnostic(.error, line: m.line, column: m.column, message, fix: fix))
    }

    private mutating func warning(_ path: String, _ message: String, fix: String? = nil) {
        let m = mark(path)
        diagnostics.append(Diagnostic(.warning, line: m.line, column: m.column, message, fix: fix))
    }
}
