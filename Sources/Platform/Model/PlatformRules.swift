import Foundation
import ServerCommands

/// The rules a schema cannot express: names unique, references declared, files
/// present, sizes sensible, and the production profile's lockdown (AVPS-v2.0-48: no
/// console of any kind). Each device's own options are the business of its kind
/// (`DeviceKindDefinition.resolve`); these rules hold for every kind. Produces the
/// resolved `Platform`.
struct PlatformRules {
    static let defaultMemoryMiB = 512

    let file: PlatformFile
    let path: String
    private var kinds: KindRules
    var diagnostics: [Diagnostic] { kinds.report.diagnostics }
    private var production: Bool { file.profile == .production }

    /// `checkFiles: false` resolves a platform whose kernels and images need not exist yet (`avp describe`).
    init(file: PlatformFile, path: String, marks: [String: (line: Int, column: Int)], checkFiles: Bool = true) {
        self.file = file
        self.path = path
        let url = URL(fileURLWithPath: path)
        let name = file.name ?? url.deletingPathExtension().lastPathComponent.lowercased().replacingOccurrences(of: "_", with: "-")
        kinds = KindRules(report: DiagnosticReport(marks: marks), platformName: name, profile: file.profile,
                          directory: url.deletingLastPathComponent().path, checkFiles: checkFiles)
    }

    mutating func apply() -> Platform {
        for (i, n) in (file.networks ?? []).enumerated() {
            if kinds.networks[n.name] != nil { error("networks[\(i)].name", "a network named '\(n.name)' is already declared", fix: "give each network its own name") }
            kinds.networks[n.name] = n.mtu?.value ?? 1500
        }
        let displays = DisplayRules.resolve(file.displays ?? [], rules: &kinds)
        for layer in displays.flatMap(\.layers) { kinds.scanouts[layer.policy.source.vm, default: []].append(layer.mode) }
        let audio = AudioRules.resolve(file.audio, report: &kinds.report)
        kinds.audioRoles = audio.policy.roles
        let servers = resolveServers()
        var vms: [Platform.VM] = []
        var vmNames: Set<String> = []
        for (v, spec) in file.vms.enumerated() {
            if !vmNames.insert(spec.name).inserted {
                error("vms[\(v)].name", "a VM named '\(spec.name)' is already declared", fix: "give each VM its own name")
            }
            vms.append(resolveVM(spec, at: "vms[\(v)]", servers: servers))
        }
        var platform = Platform(name: kinds.platformName, profile: file.profile, path: path, servers: servers, vms: vms)
        platform.networks = (file.networks ?? []).map { Platform.Network(name: $0.name, mtu: $0.mtu?.value ?? 1500) }
        platform.vsockPairs = checkVsockPairs(vms)
        platform.displays = displays
        platform.audio = audio
        DisplayRules.checkVMs(file.displays ?? [], vms: vms, report: &kinds.report)
        checkServerNames(platform)
        return platform
    }

    // MARK: Servers, VMs, devices

    private mutating func resolveServers() -> [Platform.Server] {
        var servers: [Platform.Server] = []
        var names: Set<String> = []
        for (i, spec) in (file.servers ?? []).enumerated() {
            let at = "servers[\(i)]"
            if !names.insert(spec.name).inserted {
                error(at + ".name", "a server named '\(spec.name)' is already declared", fix: "give each server its own name")
            }
            let definition = spec.type.definition
            if case let .refused(reason, fix) = definition.sharedServers {
                error(at + ".type", reason, fix: fix)
                continue
            }
            rejectForeignOptions(spec.options, of: spec.type, at: at, in: "servers")
            kinds.at = at
            kinds.user = .server(spec.name)
            if let settings = definition.resolve(spec.options, rules: &kinds) {
                servers.append(.init(name: spec.name, kind: spec.type, settings: settings))
            }
        }
        return servers
    }

    private mutating func resolveVM(_ spec: VMSpec, at: String, servers: [Platform.Server]) -> Platform.VM {
        let arch = spec.arch ?? .x86_64
        let machine = spec.machine ?? arch.defaultMachine
        if machine.architecture != arch {
            error(at + ".machine", "VM '\(spec.name)' is \(arch.rawValue), but machine '\(machine.rawValue)' is an \(machine.architecture.rawValue) machine",
                  fix: arch == .aarch64 ? "use 'machine: virt' (or leave it out)" : "use 'machine: q35' or 'machine: microvm', or set 'arch: aarch64'")
        }
        // The schema has checked the range of every number.
        let microvmSlots = PlatformLimits.devicesPerMicrovm
        if machine == .microvm, let count = spec.devices?.count, count > microvmSlots {
            error("\(at).devices[\(microvmSlots)]", "VM '\(spec.name)' has \(count) devices, but QEMU's microvm machine has only \(microvmSlots) virtio-mmio slots",
                  fix: "remove devices, or use 'machine: q35' (up to \(PlatformLimits.devicesPerVM) devices)")
        }
        // The default guest image, or the one whose kernel drives the VM's devices (virtio-gpu: 6.12;
        // virtio-gpio and virtio-i2c: AVP's own kernel).
        var flavour = (spec.devices ?? []).map { $0.type.definition.perVM.guestFlavour }.max() ?? .default
        // A watchdog needs AVP's own kernel: Debian's has i6300esb as a module the image does not load.
        if spec.watchdog != nil { flavour = max(flavour, .own) }
        // An aarch64 VM boots AVP's arm64 image (the x86 flavour order does not apply), or Debian's
        // stock arm64 kernel with `kernel: debian`.
        let stockKernel = spec.kernel == "debian"
        if machine == .virt {
            flavour = stockKernel ? .debianArm64 : .arm64
        } else if stockKernel, flavour > .backports {
            warning("\(at).kernel", "Debian's x86 kernels lack drivers VM '\(spec.name)' needs (virtio-gpio, virtio-i2c or the i6300esb watchdog): it boots Debian's 6.12 kernel without them",
                    fix: "leave 'kernel:' out to boot AVP's own kernel")
            flavour = .backports
        }
        let image = GuestImage.cached(flavour)
        let kernel = resolveFile(spec.kernel, default: image.kernel(for: machine), at: at + ".kernel", what: "kernel", image: image)
        let initrd = resolveFile(spec.initrd, default: image.initramfs, at: at + ".initrd", what: "initrd", image: image)
        let cmdline = spec.cmdline ?? ""
        if production {
            for word in cmdline.split(separator: " ") where word.hasPrefix("console=") || word.hasPrefix("avp.shell") || word.hasPrefix("avp.getty") {
                error(at + ".cmdline", "'\(word)' asks for a console, which the production profile forbids (AVPS-v2.0-48)", fix: "remove it from cmdline")
            }
        }
        var devices: [Platform.Device] = []
        var counts: [DeviceKind: Int] = [:]
        kinds.machine = machine
        for (d, device) in (spec.devices ?? []).enumerated() {
            if let resolved = resolveDevice(device, of: spec.name, at: "\(at).devices[\(d)]", index: d, servers: servers, counts: &counts) {
                devices.append(resolved)
            }
            if let only = device.type.definition.perVM.architecture, machine.architecture != only {
                error("\(at).devices[\(d)].type", "VM '\(spec.name)' is \(machine.architecture.rawValue), but \(device.type.definition.perVM.noun) needs an \(only.rawValue) VM",
                      fix: "remove this device, or set 'arch: \(only.rawValue)'")
            }
            // AVP's arm64 kernel (scripts/guest-kernel-arm64.config) has no virtio-gpu or virtio-snd driver.
            if machine == .virt, spec.kernel == nil || spec.kernel == "default" || stockKernel, [.gpu, .sound].contains(device.type) {
                warning("\(at).devices[\(d)].type", "the arm64 guest image's kernel has no \(device.type.rawValue) driver: VM '\(spec.name)' will not see this device",
                        fix: "boot a kernel of your own with it ('kernel:'), or remove the device")
            }
        }
        if counts[.entropy] == nil {
            warning(at + ".name", "VM '\(spec.name)' has no entropy device (AVPS-v2.0-40 requires one)", fix: "add '- type: entropy'")
        }
        var watchdog: Platform.Watchdog?
        if machine == .virt, spec.watchdog != nil {
            // The i6300esb is a PCI device of x86 machines; Arm's SBSA watchdog exists only on sbsa-ref.
            error(at + ".watchdog#key", "VM '\(spec.name)' has a watchdog, but QEMU offers none on Arm's virt machine",
                  fix: "remove 'watchdog', or use an x86_64 VM (machine q35)")
        } else {
            watchdog = WatchdogRules.resolve(spec.watchdog, vm: spec.name, machine: machine, at: at, report: &kinds.report)
        }
        if spec.boot == .uefi, machine != .virt {
            error(at + ".boot", "VM '\(spec.name)' boots through UEFI, which AVP offers only on aarch64 VMs (edk2 for Arm's virt machine)",
                  fix: "remove 'boot: uefi', or set 'arch: aarch64'")
        }
        var vm = Platform.VM(name: spec.name, machine: machine, cpus: spec.cpus?.value ?? 1, memoryMiB: spec.memory?.mebibytes ?? Self.defaultMemoryMiB,
                             kernel: kernel, initrd: initrd, cmdline: cmdline, restart: spec.restart ?? .onFailure, devices: devices, watchdog: watchdog)
        vm.boot = spec.boot ?? .kernel
        return vm
    }

    private mutating func resolveDevice(_ device: DeviceSpec, of vm: String, at: String, index: Int, servers: [Platform.Server],
                                        counts: inout [DeviceKind: Int]) -> Platform.Device? {
        let definition = device.type.definition
        let rule = definition.perVM
        counts[device.type, default: 0] += 1
        if production, let refusal = rule.refusedInProduction {
            error(at + ".type", "VM '\(vm)' has \(rule.noun), but \(refusal)", fix: "remove this device, or use 'profile: development'")
        } else if let limit = rule.limit, counts[device.type, default: 0] > limit {
            error(at + ".type", "VM '\(vm)' already has \(rule.noun)", fix: "keep one")
        }
        if let name = device.server {
            let declared = (file.servers ?? []).map { ($0.name, $0.type) }
            guard let kind = declared.first(where: { $0.0 == name })?.1 else {
                error(at + ".server", "device refers to server '\(name)', which is not declared",
                      fix: declared.isEmpty ? "declare it under 'servers:'" : "declare it under 'servers:' or use one of: \(Set(declared.map(\.0)).sorted().joined(separator: ", "))")
                return nil
            }
            if kind != device.type {
                error(at + ".server", "server '\(name)' is a \(kind.rawValue) server, not \(device.type.rawValue)",
                      fix: "set 'type: \(kind.rawValue)' or refer to a \(device.type.rawValue) server")
            }
            if !device.options.isEmpty {
                error(at + ".server", "options of a shared device belong to its server", fix: "move them to the server '\(name)' under 'servers:'")
            }
            // A server whose own options are wrong has its errors already.
            return servers.contains { $0.name == name } ? .shared(kind, server: name) : nil
        }
        rejectForeignOptions(device.options, of: device.type, at: at, in: "devices")
        kinds.at = at
        kinds.user = .vm(vm, index: index)
        return definition.resolve(device.options, rules: &kinds).map { .own(device.type, settings: $0) }
    }

    /// Options of another kind are errors, each at its key.
    private mutating func rejectForeignOptions(_ options: DeviceOptions, of kind: DeviceKind, at: String, in section: String) {
        let own = Set(kind.definition.options.map(\.name))
        for key in options.values.keys.sorted() where !own.contains(key) {
            error(at + "." + key + "#key", "'\(key)' is not an option of \(kind.rawValue) \(section)", fix: "remove it")
        }
    }

    /// Devices whose servers get the same name must be served by the same server: the same kind,
    /// and the same shared server or none (a network's switch, the vsock server). A shared server
    /// named "vsock", or a VM and a network whose names make "switch-x-entropy0" twice, would
    /// otherwise make one process out of two.
    private mutating func checkServerNames(_ platform: Platform) {
        var owners: [String: (kind: DeviceKind, shared: String?, what: String)] = [:]
        for (v, vm) in platform.vms.enumerated() {
            for (d, device) in vm.devices.enumerated() {
                guard let name = platform.serverName(of: device, in: vm, at: d) else { continue }
                let what = device.server.map { "shared server '\($0)'" } ?? "the \(device.kind.rawValue) server of VM '\(vm.name)'"
                guard let owner = owners[name] else {
                    owners[name] = (device.kind, device.server, what)
                    continue
                }
                if owner.kind != device.kind || owner.shared != device.server {
                    error("vms[\(v)].devices[\(d)]", "server name '\(name)' would be both \(owner.what) and \(what)",
                          fix: "rename the shared server, network or VM")
                }
            }
        }
    }

    private mutating func checkVsockPairs(_ vms: [Platform.VM]) -> [[String]] {
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
        return pairs
    }

    // MARK: Helpers

    private mutating func resolveFile(_ value: String?, default fallback: String, at: String, what: String, image: GuestImage) -> String {
        let fromImage = value == nil || value == "default" || (what == "kernel" && value == "debian")
        let path = fromImage ? fallback : kinds.absolute(value!)
        if kinds.checkFiles, !FileManager.default.fileExists(atPath: path) {
            let fix = fromImage ? "build the default guest image: \(image.flavour.buildCommand)" : "check the path (relative paths start at the platform file)"
            error(value == nil ? String(at.split(separator: ".").dropLast().joined(separator: ".")) + ".name" : at,
                  "\(what) \(UserText.shortened(path, limit: 200)) does not exist", fix: fix)
        }
        return path
    }

    private mutating func error(_ path: String, _ message: String, fix: String? = nil) { kinds.report.error(path, message, fix: fix) }
    private mutating func warning(_ path: String, _ message: String, fix: String? = nil) { kinds.report.warning(path, message, fix: fix) }
}
