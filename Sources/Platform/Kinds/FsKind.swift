import Devices
import Foundation
import Virtio
import ServerCommands

/// virtio-fs ({AVPS-v2.0-50}; VIRTIO 1.2 §5.11): a host directory the guest mounts by its tag
/// (`mount -t virtiofs TAG DIR`). One `avp serve fs` per device, or one declared under
/// `servers:` for several VMs. A directory may be shared read-only with any number of VMs and
/// read-write with at most one: `avp check` refuses a second writer. `uid-map`/`gid-map` are
/// the server's `--uid-map`/`--gid-map`; a map belongs to a server, so every VM of a shared
/// server sees the same ids (a device with `server:` has no options of its own: PlatformRules),
/// and VMs needing different maps need servers of their own.
enum FsKind: DeviceKindDefinition {
    struct Settings: Sendable {
        var directory: String
        var tag: String
        var readOnly: Bool
        var owners: FsOwnerMapping
        var limits: FsShareLimits
    }

    static let kind = DeviceKind.fs
    static let virtioID = VirtioDeviceType.fileSystem
    static let tagPattern = "^[A-Za-z0-9._-]{1,36}$"
    static let dir = OptionKey<String>("dir", .string("The host directory to share (fs), relative to the platform file."))
    static let tag = OptionKey<String>("tag", .string("The name the guest mounts (fs): mount -t virtiofs TAG /mnt; default the directory's name (1 to 36 of A-Z a-z 0-9 . _ -).",
                                                      pattern: tagPattern))
    /// Ranges one map may have: a user namespace's uid_map takes at most 340 lines (user_namespaces(7),
    /// Linux 4.15 on), and these maps mean what such a map means.
    static let maxIdRanges = 340
    static let uidMap = idMapOption("uid-map", id: "uid")
    static let gidMap = idMapOption("gid-map", id: "gid")
    static let sizeLimit = OptionKey<MemorySize>("size-limit", .size("The most the share may hold (fs), as allocated blocks, e.g. 512M: writes past it "
        + "get ENOSPC and the guest's df shows it as the size. Counted by the server (a walk at start, then every change).", mebibytes: PlatformLimits.imageMiB))
    static let inodeLimit = OptionKey<WholeNumber>("inode-limit", .integer("The most files, directories and symlinks the share may hold (fs); ENOSPC past it.",
                                                                           range: 1...Int(Int32.max)))
    static let options: [any DeviceOption] = [dir, tag, BlockKind.readOnly, uidMap, gidMap, sizeLimit, inodeLimit]

    /// No pattern on the entries: `IdMap(parsing:)` reads them at `avp check`, so the file is refused
    /// with the words `avp serve fs --uid-map` uses, overlaps included, which a pattern cannot see.
    private static func idMapOption(_ name: String, id: String) -> OptionKey<[String]> {
        OptionKey(name, .array("Guest \(id)s GUEST..GUEST+COUNT-1 are host \(id)s HOST.. (fs), e.g. [\"0:100000:65536\"]: guest \(id) 0 is "
            + "host \(id) 100000; host \(id)s outside every range show as 65534. Default: the same ids. One map per server: every VM "
            + "of a shared server gets it.",
                               items: .string("GUEST:HOST:COUNT, three decimal numbers."), count: 1...maxIdRanges))
    }
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
        let uids = idMap(uidMap, in: options, rules: &rules), gids = idMap(gidMap, in: options, rules: &rules)
        guard let uids, let gids else { return nil }
        if readOnly, options[sizeLimit] != nil || options[inodeLimit] != nil {
            rules.error(options[sizeLimit] != nil ? sizeLimit.name : inodeLimit.name, "a read-only share cannot grow, so a limit means nothing",
                        fix: "give the limit to the VM that writes the folder, or drop it")
        }
        let limits = FsShareLimits(bytes: options[sizeLimit].map { UInt64($0.mebibytes) << 20 }, inodes: options[inodeLimit].map { UInt64($0.value) })
        return Settings(directory: path, tag: name, readOnly: readOnly, owners: FsOwnerMapping(uids: uids, gids: gids), limits: limits)
    }

    /// The map `option` gives (identity when absent), read by `IdMap(parsing:)` as the server reads
    /// it, so `avp check` refuses exactly what `avp serve fs` would; nil after an error.
    static func idMap(_ option: OptionKey<[String]>, in options: DeviceOptions, rules: inout KindRules) -> IdMap? {
        guard let entries = options[option] else { return .identity }
        do {
            return try IdMap(parsing: entries)
        } catch {
            rules.error(option.name, "\(option.name): \(error)", fix: fix(for: error))
            return nil
        }
    }

    private static func fix(for error: IdMapError) -> String {
        switch error {
        case .malformed: "write each entry as GUEST:HOST:COUNT, e.g. \"0:100000:65536\" (guest ids 0 to 65535 are host ids 100000 on)"
        case .emptyRange: "give each range a COUNT of at least 1"
        case .beyondIdSpace: "keep GUEST+COUNT and HOST+COUNT at most 4294967296"
        case .overlapping: "give each range guest ids and host ids no other range has"
        }
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { slot.defaultServerName(kind) }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let settings = slot.settings
        plan.vhostUserDevice(slot, kind: kind, model: .fs(tag: settings.tag)) {
            FsServeOptions(endpoints: ServeEndpoints(socket: [], connect: []), sharedDir: settings.directory, readOnly: settings.readOnly,
                           owners: settings.owners, limits: settings.limits)
        }
        // The guest's FUSE session (its node ids and open handles) dies with the server, and QEMU's vhost-user-fs does
        // not set a new back end up: a VM keeps a hung share until it restarts with its server (found by bench/soak).
        plan.restartingVMs(withServer: serverName(slot), because: "QEMU's vhost-user-fs does not reconnect to a restarted back end, and the guest's FUSE session dies with the server")
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        [("avp,tag", .string(settings.tag))] + (settings.readOnly ? [("read-only", .empty)] : [])
            + (settings.owners.uids == .identity ? [] : [("avp,uid-map", .strings(settings.owners.uids.arguments))])
            + (settings.owners.gids == .identity ? [] : [("avp,gid-map", .strings(settings.owners.gids.arguments))])
            + (settings.limits.bytes.map { [("avp,size-limit", .u64($0))] } ?? [])
            + (settings.limits.inodes.map { [("avp,inode-limit", .u64($0))] } ?? [])
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
