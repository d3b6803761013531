import Devices
import Foundation
import ServerCommands

/// The shape of a platform file, written once: it drives the structural check that
/// reports unknown keys and wrong types with their line and column, and it is
/// printed as the JSON Schema editors use (`avp schema`, docs/platform.schema.json).
public indirect enum SchemaValue: Sendable {
    case string(String, values: [String]? = nil, pattern: String? = nil)
    case integer(String, range: ClosedRange<Int>)
    case boolean(String)
    /// A `MemorySize`: "512M", "1G" or a number of MiB, within `mebibytes`.
    case size(String, mebibytes: ClosedRange<Int>)
    case object(String, properties: [(String, SchemaValue)], required: [String])
    /// A list whose length is within `count`.
    case array(String, items: SchemaValue, count: ClosedRange<Int>)

    var summary: String {
        switch self {
        case let .string(_, values?, _): return "one of " + values.joined(separator: ", ")
        case .string: return "a string"
        case let .integer(_, range): return "a whole number from \(range.lowerBound) to \(range.upperBound)"
        case .boolean: return "true or false"
        case let .size(_, range):
            return "a size from \(MemorySize(mebibytes: range.lowerBound)) to \(MemorySize(mebibytes: range.upperBound)), such as 512M or 2G"
        case .object: return "a mapping (key: value)"
        case .array: return "a list (- item)"
        }
    }
}

public enum PlatformSchema {
    static let namePattern = "^[a-z][a-z0-9-]{0,30}$"

    static let deviceTypes = DeviceKind.allCases.map(\.rawValue)

    /// Every kind's options, each key once (kinds that share a key share its schema).
    static func options(of kinds: [DeviceKind]) -> [(String, SchemaValue)] {
        var seen: Set<String> = []
        return kinds.flatMap { $0.definition.options }.filter { seen.insert($0.name).inserted }.map { ($0.name, $0.schema) }
    }

    /// Kinds that may be declared under `servers:`.
    static let shareableKinds = DeviceKind.allCases.filter {
        if case .allowed = $0.definition.sharedServers { return true }
        return false
    }

    public static let root: SchemaValue = .object(
        "An AVP platform: VMs, their virtual devices and the device servers behind them.",
        properties: [
            ("name", .string("Platform name (state directory, logs); defaults to the file name.", pattern: namePattern)),
            ("profile", .string("development, or production: no console of any kind (AVPS-v2.0-48).",
                                values: PlatformFile.Profile.allCases.map(\.rawValue))),
            ("servers", .array("Device servers shared by several VMs, declared once.", items: .object(
                "A shared device server.",
                properties: [
                    ("name", .string("Name VMs use to refer to this server.", pattern: namePattern)),
                    ("type", .string("Device type.", values: deviceTypes)),
                ] + options(of: shareableKinds),
                required: ["name", "type"]), count: 0...PlatformLimits.servers)),
            ("networks", .array("Virtual Ethernet switches (AVPS-v2.0-15).", items: .object(
                "A network.",
                properties: [
                    ("name", .string("Name net devices use to attach.", pattern: namePattern)),
                    ("mtu", .integer("Default MTU of its interfaces.", range: PlatformLimits.mtu)),
                ],
                required: ["name"]), count: 0...PlatformLimits.networks)),
            ("vsock", .object("vsock policy (AVPS-v2.0-16).", properties: [
                ("allow", .array("VM pairs that may connect to each other, e.g. [ivi, cluster].",
                                 items: .array("Two VM names.", items: .string("A VM name.", pattern: namePattern), count: 2...2),
                                 count: 0...PlatformLimits.vsockPairs)),
            ], required: [])),
            ("displays", .array("Displays (AVPS-v2.0-27 to 29): each composes VM scanouts, bottom to top.", items: .object(
                "A display.",
                properties: [
                    ("name", .string("Display name (avp screenshot, the web view).", pattern: namePattern)),
                    ("mode", .string("WIDTHxHEIGHT or WIDTHxHEIGHT@HZ, e.g. 1920x1080@60.", pattern: "^[0-9]+x[0-9]+(@[0-9]+)?$")),
                    ("size", .string("Physical size WIDTHxHEIGHT in millimetres, e.g. 293x165.", pattern: "^[0-9]+x[0-9]+$")),
                    ("vm", .string("The VM this display is given to wholly (AVPS-v2.0-26/27): no layers then.", pattern: namePattern)),
                    ("layers", .array("VM scanouts on this display, bottom to top; each is one scanout of its VM's GPU.", items: .object(
                        "A layer.",
                        properties: [
                            ("vm", .string("The VM (it needs a gpu device).", pattern: namePattern)),
                            ("at", .array("x, y, width, height on the display; the whole display when absent.",
                                          items: .integer("Pixels.", range: 0...65535), count: 4...4)),
                            ("opacity", .integer("0 (invisible) to 255 (opaque, the default).", range: 0...255)),
                            ("mask", .string("An alpha mask of the layer's size, relative to the platform file: a binary PGM (P5, 8-bit) or PBM (P4, 1-bit) image, white where the layer shows, black where the layers below show (AVPS-v2.0-29).")),
                            ("safety", .array("Regions [x, y, width, height] of the layer whose pixels must reach the display unchanged (AVPS 2.8.4).",
                                              items: .array("x, y, width, height.", items: .integer("Pixels.", range: 0...65535), count: 4...4),
                                              count: 0...PlatformLimits.safetyRegions)),
                        ],
                        required: ["vm"]), count: 0...PlatformLimits.layersPerDisplay)),
                ],
                required: ["name", "mode", "size"]), count: 0...PlatformLimits.displays)),
            ("audio", .object("The host's audio policy (AVPS 2.9): one mixer for every VM's sound card.", properties: [
                ("output", .string("Where the mix plays: wav (logs/audio.wav in the state directory, the default), none, or alsa:DEVICE.",
                                   pattern: "^(wav|none|alsa:.+)$")),
                ("input", .string("What the guests record: silence (the default), tone:HZ (20 to 3999), or alsa:DEVICE.",
                                  pattern: "^(silence|tone:[0-9]+(\\.[0-9]+)?|alsa:.+)$")),
                ("roles", .array("The roles streams play; without it: media 10, navigation 50, phone 70, chime 100 (safety).", items: .object(
                    "A role.",
                    properties: [
                        ("name", .string("Role name, used by sound devices' playback and by ducking rules.", pattern: namePattern)),
                        ("priority", .integer("Higher outranks lower: a role ducks only roles of lower priority.", range: AudioRole.priorities)),
                        ("safety", .boolean("A safety sound (a chime, a warning): never ducked, muted or turned down; it must have the highest priority.")),
                    ],
                    required: ["name", "priority"]), count: 1...PlatformLimits.audioRoles)),
                ("ducking", .array("While a stream of role 'when' plays, streams of role 'duck' are lowered.", items: .object(
                    "A ducking rule.",
                    properties: [
                        ("when", .string("The role whose playing ducks.", pattern: namePattern)),
                        ("duck", .string("The role lowered (of lower priority; never a safety role).", pattern: namePattern)),
                        ("by", .integer("Attenuation in dB.", range: 0...96)),
                        ("attack", .integer("Milliseconds to reach it (default 50).", range: DuckingRule.rampRange)),
                        ("release", .integer("Milliseconds to come back once 'when' stops (default 500).", range: DuckingRule.rampRange)),
                    ],
                    required: ["when", "duck", "by"]), count: 0...PlatformLimits.duckingRules)),
            ], required: [])),
            ("vms", .array("The virtual machines.", items: .object(
                "A virtual machine.",
                properties: [
                    ("name", .string("VM name.", pattern: namePattern)),
                    ("arch", .string("x86_64 (the default) or aarch64 (Arm's virt machine on qemu-system-aarch64, booting AVP's device tree).",
                                     values: VMSpec.Architecture.allCases.map(\.rawValue))),
                    ("machine", .string("q35 (virtio-pci) or microvm (virtio-mmio) on x86_64; virt (virtio-mmio, the default) on aarch64.",
                                        values: QemuCommandLine.Machine.allCases.map(\.rawValue))),
                    ("boot", .string("kernel (the default: QEMU loads the kernel) or uefi (aarch64: edk2 boots GRUB from an EFI system partition AVP writes, with AVP's device tree handed over by the firmware; EBBR).",
                                     values: VMSpec.BootMethod.allCases.map(\.rawValue))),
                    ("cpus", .integer("Virtual CPUs.", range: PlatformLimits.cpus)),
                    ("memory", .size("Guest RAM, e.g. 512M: a number of MiB, or a number with a unit K, M, G or T.",
                                     mebibytes: PlatformLimits.memoryMiB)),
                    ("kernel", .string("Kernel image, \"default\" for the guest image of scripts/guest-image, or \"debian\" for Debian's stock kernel (aarch64: bookworm's arm64 6.1, scripts/guest-image --flavour debian-arm64).")),
                    ("initrd", .string("Initramfs, or \"default\".")),
                    ("cmdline", .string("Extra kernel command line.")),
                    ("restart", .string("What to do when the VM exits.", values: VMSpec.RestartPolicy.allCases.map(\.rawValue))),
                    ("watchdog", WatchdogRules.schema),
                    ("devices", .array("Virtual devices, in the order the guest sees them.", items: .object(
                        "A device: options inline, or server: NAME to use a shared server.",
                        properties: [
                            ("type", .string("Device type.", values: deviceTypes)),
                            ("server", .string("A shared server declared under servers:.", pattern: namePattern)),
                        ] + options(of: DeviceKind.allCases),
                        required: ["type"]), count: 0...PlatformLimits.devicesPerVM)),
                ],
                required: ["name"]), count: 1...PlatformLimits.vms)),
        ],
        required: ["profile", "vms"])

    /// The schema as JSON Schema (draft 2020-12).
    public static func jsonSchema() -> String {
        func convert(_ value: SchemaValue) -> [String: Any] {
            switch value {
            case let .string(description, values, pattern):
                var d: [String: Any] = ["type": "string", "description": description]
                if let values { d["enum"] = values }
                if let pattern { d["pattern"] = pattern }
                return d
            case let .integer(description, range):
                return ["type": "integer", "description": description, "minimum": range.lowerBound, "maximum": range.upperBound]
            case let .boolean(description):
                return ["type": "boolean", "description": description]
            case let .size(description, range):
                return ["description": description, "oneOf": [
                    ["type": "integer", "minimum": range.lowerBound, "maximum": range.upperBound],
                    ["type": "string", "pattern": MemorySize.pattern],
                ]]
            case let .object(description, properties, required):
                var props: [String: Any] = [:]
                for (key, v) in properties { props[key] = convert(v) }
                return ["type": "object", "description": description, "properties": props,
                        "required": required, "additionalProperties": false]
            case let .array(description, items, count):
                return ["type": "array", "description": description, "items": convert(items),
                        "minItems": count.lowerBound, "maxItems": count.upperBound]
            }
        }
        var top = convert(root)
        top["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        top["title"] = "AVP platform file"
        let data = try! JSONSerialization.data(withJSONObject: top, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
