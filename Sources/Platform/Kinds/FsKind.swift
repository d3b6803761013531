import Devices
import Foundation
import Virtio

/// virtio-fs ({AVPS-v2.0-50}; VIRTIO 1.2 §5.11): a host directory the guest mounts by its tag
/// (`mount -t virtiofs TAG DIR`). One `avp serve fs` per device, or one declared under
/// `servers:` for several VMs. A directory may be shared read-only with any number of VMs and
/// read-write with at most one: `avp check` refuses a second writer.
enum FsKind: DeviceKindDefinition {
    struct Settings: Sendable {
        var directory: String
        var tag: String
        var readOnly: Bool
    }

    static let kind = DeviceKind.fs
    static let virtioID = VirtioDeviceType.fileSystem
    static let tagPattern = "^[A-Za-z0-9._-]{1,36}$"
    static let dir = OptionKey<String>("dir", .string("The host directory to share (fs), relative to the platform file."))
    static let tag = OptionKey<String>("tag", .string("The name the guest mounts (fs): mount -t virtiofs TAG /mnt; default the directory's name (1 to 36 of A-Z a-z 0-9 . _ -).",
                                                      pattern: tagPattern))
    static let options: [any DeviceOption] = [dir, tag, BlockKind.readOnly]
    static let sharedServers = SharedServers.allowed
    static let perVM = PerVMRule(guestFlavour: .backports)

    static func resolve(_ options: DeviceOptions, rules: inout KindRules) -> Settings? {
        guard let given = options[dir] else {
            rules.error(nil, "a shared folder needs its host directory", fix: "add 'dir: shared' (relative to the platform file)")
            return nil
        }
        let path = rules.absolute(given)
        var isDirectory: ObjCBool = false
        if rules.checkFiles, !(FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue) {
            rules.error(dir.name, "\(UserText.shortened(path, limit: 200)) is not a directory", fix: "create it, or name an existing directory")
        }
        let name = options[tag] ?? URL(fileURLWithPath: path).lastPathComponent
        guard name.range(of: tagPattern, options: .regularExpression) != nil else {
            rules.error(tag.name, "the tag \(UserText.quoted(name)) is not 1 to 36 of A-Z a-z 0-9 . _ -", fix: "give 'tag:' explicitly, e.g. tag: maps")
            return nil
        }
        let readOnly = options[BlockKind.readOnly] ?? false
        if !readOnly, let other = rules.claim(path, in: "share writer") {
            rules.error(BlockKind.readOnly.name, "\(rules.user.description) writes the shared folder \(path), which \(other) also writes",
                        fix: "share it read-only ('read-only: true') with all but one VM")
        }
        return Settings(directory: path, tag: name, readOnly: readOnly)
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { slot.defaultServerName(kind) }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let settings = slot.settings
        plan.vhostUserDevice(slot, kind: kind, model: .fs(tag: settings.tag)) {
            FsServeOptions(endpoints: ServeEndpoints(socket: [], connect: []), sharedDir: settings.directory, readOnly: settings.readOnly)
        }
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        [("avp,tag", .string(settings.tag))] + (settings.readOnly ? [("read-only", .empty)] : [])
    }
}

extension QemuDeviceModel {
    /// QEMU's vhost-user-fs: the tag the guest mounts (`mount -t virtiofs TAG DIR`) and the queue
    /// size are QEMU's properties (it makes the configuration space itself). 1024 descriptors let
    /// one request carry 1 MiB (QEMU's default of 128 caps it at 124 pages).
    public static func fs(tag: String) -> QemuDeviceModel {
        QemuDeviceModel(pci: "vhost-user-fs-pci", mmio: "vhost-user-fs-device", properties: ["tag=\(tag)", "queue-size=1024"])
    }
}
