import Devices
import Foundation
import Virtio
import ServerCommands

/// virtio-i2c (VIRTIO 1.2 §5.16; issue 13): one `avp serve i2c` for the platform and an I2C
/// adapter per VM whose `targets:` are the only addresses its guest reaches (`i2cdetect` shows
/// exactly those): emulated 24C02 EEPROMs, kept in files (by default `i2c-VM-ADDRESS.eeprom` in
/// the state directory, so they outlive the VM and the server), LM75-style sensors whose
/// temperature the host sets (`avp i2c`), and targets of a host adapter (`/dev/i2c-N`, I2C_RDWR).
/// Each target is written `KIND@ADDRESS[:VALUE]` (`I2cTargetSpec`). Debian's kernels lack
/// I2C_VIRTIO: VMs with `kernel: default` boot AVP's own guest kernel.
enum I2cKind: DeviceKindDefinition {
    struct Settings: Sendable {
        /// EEPROM files absolute; nil for the state directory's default.
        var targets: [I2cTargetSpec]
    }

    static let kind = DeviceKind.i2c
    static let virtioID = VirtioDeviceType.i2c
    /// The most targets one VM's bus has.
    static let maxTargets = 32
    static let targetPattern = "^(eeprom|temperature|host)@(0[xX][0-9a-fA-F]{1,2}|[0-9]{1,3})(:.+)?$"
    static let targets = OptionKey<[String]>("targets", .array(
        "The VM's I2C targets (i2c), the only addresses its guest reaches: eeprom@ADDRESS[:FILE] (a 24C02, kept in FILE; default "
            + "in the state directory), temperature@ADDRESS[:CELSIUS] (an LM75-style sensor, default 25; avp i2c sets it), "
            + "host@ADDRESS:/dev/i2c-N (the host adapter's target). ADDRESS is 0x08 to 0x77.",
        items: .string("A target: KIND@ADDRESS[:VALUE].", pattern: targetPattern), count: 1...maxTargets))
    static let options: [any DeviceOption] = [targets]
    static let sharedServers = SharedServers.refused(reason: "one I2C server serves every VM of the platform, each with its own targets",
                                                     fix: "give each VM '- type: i2c' with its 'targets:'")
    static let perVM = PerVMRule(limit: 1, noun: "an I2C adapter", guestFlavour: .own)

    static func resolve(_ options: DeviceOptions, rules: inout KindRules) -> Settings? {
        guard case .vm = rules.user else { return nil }
        guard let given = options[targets] else {
            rules.error(nil, "an I2C adapter needs its targets", fix: "add e.g. 'targets: [eeprom@0x50, temperature@0x48:21.5]'")
            return nil
        }
        var resolved: [I2cTargetSpec] = []
        var valid = true
        for (i, text) in given.enumerated() {
            let at = "\(targets.name)[\(i)]"
            var spec: I2cTargetSpec
            do { spec = try I2cTargetSpec(parsing: text) } catch {
                rules.error(at, error.description)
                valid = false
                continue
            }
            if let earlier = resolved.first(where: { $0.address == spec.address }) {
                rules.error(at, "\(spec.address) is already \(earlier)", fix: "give each target its own address")
                valid = false
                continue
            }
            switch spec {
            case let .eeprom(address, file?):
                let path = rules.absolute(file)
                spec = .eeprom(address, file: path)
                valid = check(eeprom: path, at: at, rules: &rules) && valid
            case let .host(address, bus):
                if rules.checkFiles, !FileManager.default.fileExists(atPath: bus) {
                    rules.error(at, "host I2C adapter \(UserText.shortened(bus, limit: 200)) does not exist",
                                fix: "load i2c-dev (modprobe i2c-dev) and name an adapter of i2cdetect -l")
                    valid = false
                }
                if let other = rules.claim("\(bus) \(address)", in: "i2c host target") {
                    rules.error(at, "\(rules.user.description) takes \(address) of \(bus), which \(other) also takes",
                                fix: "give a host target to one VM only")
                    valid = false
                }
            case .eeprom, .temperature: break
            }
            resolved.append(spec)
        }
        return valid ? Settings(targets: resolved) : nil
    }

    /// An EEPROM file: its directory exists, it is one of 256 bytes if it exists, no other VM has it.
    private static func check(eeprom path: String, at: String, rules: inout KindRules) -> Bool {
        var valid = true
        let shown = UserText.shortened(path, limit: 200)
        if path.contains(",") {
            rules.error(at, "EEPROM file \(shown) has a ',' in its path", fix: "choose a path without commas")
            valid = false
        }
        var isDirectory: ObjCBool = false
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if rules.checkFiles, !(FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue) {
            rules.error(at, "the directory of EEPROM file \(shown) does not exist", fix: "create it: mkdir -p \(UserText.shortened(directory, limit: 200))")
            valid = false
        }
        if rules.checkFiles, let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size != Eeprom24C02.size {
            rules.error(at, "EEPROM file \(shown) has \(size) bytes, not the \(Eeprom24C02.size) of a 24C02",
                        fix: "remove it to start erased, or name another file")
            valid = false
        }
        if let other = rules.claim(path, in: "EEPROM file") {
            rules.error(at, "\(rules.user.description) keeps an EEPROM in \(shown), which \(other) also does",
                        fix: "give each EEPROM its own file")
            valid = false
        }
        return valid
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { "i2c" }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let socket = plan.socket("i2c-\(slot.vm)")
        let state = plan.state
        let targets = slot.settings.targets.map { spec -> I2cTargetOption in
            if case let .eeprom(address, nil) = spec {
                return I2cTargetOption(vm: slot.vm, spec: .eeprom(address, file: state.i2cEepromFile(vm: slot.vm, address: address)))
            }
            return I2cTargetOption(vm: slot.vm, spec: spec)
        }
        plan.server(serverName(slot), kind: kind, create: {
            I2cServeOptions(vms: [], targets: [], control: state.i2cControlSocket)
        }) {
            $0.vm.append(VMEndpointOption(name: slot.vm, endpoint: .connect(socket)))
            $0.target += targets
        }
        plan.restartingVMs(withServer: serverName(slot), because: "QEMU's vhost-user-i2c does not reconnect to a restarted back end")
        plan.vm.command.vhostUserDevices.append(.init(model: .i2c, socketPath: socket, id: slot.id(kind)))
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        [("avp,targets", .strings(settings.targets.map(\.description)))]
    }
}

extension QemuDeviceModel {
    /// QEMU's vhost-user-i2c (a vhost-user-base device: one queue, no configuration space).
    public static let i2c = QemuDeviceModel(pci: "vhost-user-i2c-pci", mmio: "vhost-user-i2c-device")
}

extension StateDirectory {
    /// The I2C server's control socket (`avp i2c`).
    public var i2cControlSocket: String { socketDirectory + "/i2c-control.sock" }
    /// Where a VM's EEPROM at `address` is kept unless the platform names a file: beside the
    /// sockets and logs, so it outlives the VM and the server (not the state directory).
    public func i2cEepromFile(vm: String, address: I2cAddress) -> String { path + "/i2c-\(vm)-\(address).eeprom" }
}
