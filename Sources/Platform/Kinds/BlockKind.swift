import ArgumentParser
import Devices
import Virtio
import ServerCommands

/// virtio-blk ({AVPS-v2.0-4} to {AVPS-v2.0-7}): an image file, private or shared (a
/// writable image has one writer on the platform).
enum BlockKind: DeviceKindDefinition {
    struct Settings: Sendable {
        var options: BlockDeviceOptions
        /// Create the image with this many MiB on `avp up` when it does not exist.
        var createMiB: Int?
    }

    static let kind = DeviceKind.block
    static let virtioID = VirtioDeviceType.block
    static let image = OptionKey<String>("image", .string("Disk image file (raw), relative to the platform file."))
    static let size = OptionKey<MemorySize>("size", .size("Create the image with this size on avp up when it does not exist (never resized).",
                                                            mebibytes: PlatformLimits.imageMiB))
    /// Shared with `FsKind`: one key, one schema.
    static let readOnly = OptionKey<Bool>("read-only", .boolean("Read-only: a disk the guest cannot write (VIRTIO_BLK_F_RO), a shared folder whose changes fail with EROFS."))
    static let serial = OptionKey<String>("serial", .string("Serial number the guest reads (at most 20 characters).", pattern: "^.{0,20}$"))
    static let queues = OptionKey<WholeNumber>("queues", .integer("Request queues (VIRTIO_BLK_F_MQ).", range: PlatformLimits.blockQueues))
    static let cache = OptionKey<String>("cache", .string("Initial write cache mode (AVPS §2.6.1).",
                                                          values: BlockDeviceOptions.CacheMode.allCases.map(\.rawValue)))
    static let direct = OptionKey<Bool>("direct", .boolean("Open the image with O_DIRECT."))
    static let options: [any DeviceOption] = [image, size, readOnly, serial, queues, cache, direct]
    static let sharedServers = SharedServers.allowed
    static let perVM = PerVMRule.any

    static func resolve(_ given: DeviceOptions, rules: inout KindRules) -> Settings? {
        guard let file = given[image] else {
            rules.error(nil, "a block device needs an image", fix: "add 'image: disk.img' (a raw image file)")
            return nil
        }
        let path = rules.absolute(file)
        let createMiB = given[size]?.mebibytes
        if createMiB == nil, !rules.fileExists(path) {
            rules.error(image.name, "image \(UserText.shortened(path, limit: 200)) does not exist",
                        fix: "create it, e.g. truncate -s 1G \(UserText.shortened(path, limit: 200))")
        }
        var options = BlockDeviceOptions(imagePath: path)
        options.readOnly = given[readOnly] ?? false
        options.serial = given[serial] ?? ""
        options.queueCount = given[queues]?.value ?? 1
        options.direct = given[direct] ?? false
        options.cache = given[cache].flatMap(BlockDeviceOptions.CacheMode.init(rawValue:)) ?? .writeback
        // The servers lock the image (exclusive for a writer, shared for readers), so a reader and a
        // writer of one image would not both start: said here, not 30 s into `avp up`.
        if options.readOnly {
            _ = rules.claim(path, in: "reader")
            if let writer = rules.holder(path, in: "writer") {
                rules.error(readOnly.name, "\(rules.user.description) reads \(path), which \(writer) writes",
                            fix: "give the reader a copy of the image, or make both read-only")
            }
        } else if let other = rules.claim(path, in: "writer") {
            rules.error(image.name, "\(rules.user.description) writes \(path), which \(other) also writes",
                        fix: "give each writer its own image, or share it read-only through one server")
        } else if let reader = rules.holder(path, in: "reader") {
            rules.error(image.name, "\(rules.user.description) writes \(path), which \(reader) reads",
                        fix: "give the reader a copy of the image, or make both read-only")
        }
        return Settings(options: options, createMiB: createMiB)
    }

    static func serverName(_ slot: DeviceSlot<Settings>) -> String { slot.defaultServerName(kind) }

    static func plan(_ slot: DeviceSlot<Settings>, into plan: inout PlanBuilder) {
        let options = slot.settings.options
        if let mebibytes = slot.settings.createMiB { plan.createImage(options.imagePath, mebibytes: mebibytes) }
        plan.vhostUserDevice(slot, kind: kind, model: .block(queues: options.queueCount)) {
            BlockServeOptions(endpoints: ServeEndpoints(socket: [], connect: []), options: options)
        }
    }

    static func deviceTreeProperties(_ settings: Settings) -> [(String, DeviceTreeNode.Value)] {
        settings.options.readOnly ? [("read-only", .empty)] : []
    }
}

extension Platform.Device {
    /// A block device's options (nil for other kinds and for shared servers' devices).
    public var block: BlockDeviceOptions? { settings(of: BlockKind.self)?.options }
}

extension QemuDeviceModel {
    /// QEMU's vhost-user-blk asks for one queue per vCPU unless told, and refuses to
    /// start if the back end has fewer.
    public static func block(queues: Int) -> QemuDeviceModel {
        QemuDeviceModel(pci: "vhost-user-blk-pci", mmio: "vhost-user-blk", properties: ["num-queues=\(queues)"])
    }
}
