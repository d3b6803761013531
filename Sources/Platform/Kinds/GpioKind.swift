import Devices
import Virtio
import ServerCommands

/// virtio-gpio (VIRTIO 1.2 §5.17; {AVPS-v2.0-37}, {AVPS-v2.0-38}): a VM's named GPIO lines on a
/// block — simulated lines by default, or a host chip (`chip: /dev/gpiochipN`) through the GPIO
/// v2 uAPI. One `avp serve gpio` per block serves every VM naming lines on it; each VM sees only
/// its lines, numbered from 0 (owned first). A line has at most one owner (who may drive it),
/// and any number of VMs may read it (`read-only-lines`): `avp check` refuses a second owner.
enum GpioKind: DeviceKindDefinition {
    struct Settings: Sendable {
        var lines: [String]
        var readOnlyLines: [String]
        /// The host chip, or nil for simulated lines.
        var chip: String?
        /// Chip offsets of lines not found by name.
        var offsets: [String: UInt32]

        /// The block's name: its server's name and the control socket's.
        var block: String { chip.map { "gpio-" + ($0.split(separator: "/").last.map(String.init) ?? "chip") } ?? "gpio" }
    }

    static let kind = DeviceKind.gpio
    static let virtioID = VirtioDeviceType.gpio
    static let linePattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$"
    static let lines = OptionKey<[String]>("lines", .array(
        "Lines the VM owns and may drive (gpio): lines 0, 1, … in the guest, in this order, with these names.",
        items: .string("A line name.", pattern: linePattern), count: 0...GpioLineMap.maxLines))
    static let readOnlyLines = OptionKey<[String]>("read-only-lines", .array(
        "Lines the VM may only read (gpio): inputs after its owned lines; other VMs may read or own them too.",
        items: .string("A line name.", pattern: linePattern), count: 0...GpioLineMap.maxLines))
    static let chip = OptionKey<String>("chip", .string(
        "A host GPIO chip whose lines these are (gpio, GPIO v2 uAPI); without it the lines are simulated (avp gpio set).",
        pattern: "^/dev/gpiochip[0-9]{1,3}$"))
    static let chipOffsets = OptionKey<[String]>("chip-offsets", .array(
        "NAME=OFFSET for chip lines not found by their name on the chip (gpio).",
        items: .string("A line name and its offset on the chip.", pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}=[0-9]{1,5}$"),
        count: 0...GpioLineMap.maxLines))
    static let options: [any DeviceOption] = [lines, readOnlyLines, chip, chipOffsets]
    static let sharedServers = SharedServers.refused(reason: "a GPIO block is shared through its lines, not as a server",
                                                     fix: "give each VM '- type: gpio' with its lines; VMs naming the same chip share its server")
    static let perVM = PerVMRule(limit: 1, noun: "a GPIO device", guestFlavour: .own)

    static func resolve(_ options: DeviceOptions, rules: inout KindRules) -> Settings? {
        guard case .vm = rules.user else { return nil }
        let owned = options[lines] ?? [], read = options[readOnlyLines] ?? []
        guard !owned.isEmpty || !read.isEmpty else {
            rules.error(nil, "a gpio device needs lines", fix: "add 'lines: [NAME, ...]' or 'read-only-lines: [NAME, ...]'")
            return nil
        }
        var settings = Settings(lines: owned, readOnlyLines: read, chip: options[chip], offsets: [:])
        var ok = true
        if let twice = GpioServeOptions.firstDuplicate(owned + read) {
            rules.error(read.contains(twice) ? readOnlyLines.name : lines.name, "line '\(twice)' is given twice",
                        fix: "a VM owns a line or reads it, once")
            ok = false
        }
        for name in owned {
            if let other = rules.claim(name, in: "gpio-owner:\(settings.block)") {
                rules.error(lines.name, "line '\(name)' of \(settings.chip ?? "the simulated block") is already owned by \(other)",
                            fix: "give each line one owner; other VMs may list it under 'read-only-lines'")
                ok = false
            }
        }
        for (k, pair) in (options[chipOffsets] ?? []).enumerated() {
            let parts = pair.split(separator: "=").map(String.init)
            guard settings.chip != nil else {
                rules.error(chipOffsets.name, "offsets need a chip", fix: "add 'chip: /dev/gpiochipN' or remove 'chip-offsets'")
                return nil
            }
            guard parts.count == 2, let offset = UInt32(parts[1]), (owned + read).contains(parts[0]) else {
                rules.error("\(chipOffsets.name)[\(k)]", "\(UserText.quoted(pair)) is not NAME=OFFSET of one of this VM's lines")
                ok = false
                continue
            }
            settings.offsets[parts[0]] = offset
        }
        return ok ? settings : nil
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { slot.settings.block }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let settings = slot.settings, block = settings.block
        let socket = plan.socket("\(block)-\(slot.vm)")
        let control = plan.state.gpioControlSocket(block: block)
        plan.server(block, kind: kind, create: { GpioServeOptions(lines: [], vms: [], chip: settings.chip, control: control) }) {
            for name in settings.lines + settings.readOnlyLines where !$0.line.contains(where: { $0.name == name }) {
                $0.line.append(GpioLineOption(name: name, offset: settings.offsets[name]))
            }
            $0.vm.append(GpioVMOption(name: slot.vm, endpoint: .connect(socket), lines: settings.lines, readOnly: settings.readOnlyLines))
        }
        plan.restartingVMs(withServer: block, because: "a guest's GPIO interrupts and outputs do not survive a new back end")
        plan.vm.command.vhostUserDevices.append(.init(model: .gpio, socketPath: socket, id: slot.id(kind)))
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        [("gpio-line-names", .strings(settings.lines + settings.readOnlyLines)), ("avp,read-only-lines", .strings(settings.readOnlyLines)),
         ("avp,gpio-block", .string(settings.chip ?? "simulated"))]
    }
}

extension QemuDeviceModel {
    /// QEMU's vhost-user-gpio (the line count and names come from the back end's configuration space).
    public static let gpio = QemuDeviceModel(pci: "vhost-user-gpio-pci", mmio: "vhost-user-gpio-device")
}

extension StateDirectory {
    /// A GPIO block's control socket (`avp gpio`): `gpio` for the simulated block, `gpio-gpiochipN` for a chip.
    public func gpioControlSocket(block: String) -> String { socketDirectory + "/\(block)-control.sock" }
}

extension Platform {
    /// The GPIO blocks the VMs use and the lines each has: block name → line names.
    public var gpioBlocks: [String: [String]] {
        var blocks: [String: [String]] = [:]
        for vm in vms {
            for device in vm.devices {
                guard let s = device.settings(of: GpioKind.self) else { continue }
                for name in s.lines + s.readOnlyLines where !(blocks[s.block] ?? []).contains(name) { blocks[s.block, default: []].append(name) }
            }
        }
        return blocks
    }
}
