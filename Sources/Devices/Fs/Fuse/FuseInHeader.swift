/// `struct fuse_in_header`, the 40 bytes in front of every FUSE request (Linux
/// `include/uapi/linux/fuse.h`; VIRTIO 1.2 §5.11.6.1 carries it in the device-readable part).
public struct FuseInHeader: Sendable, Equatable {
    /// The whole request's length: this header, the arguments, write data and extensions.
    public var length: UInt32
    public var opcode: UInt32
    /// Echoed in the reply's `fuse_out_header`.
    public var unique: UInt64
    /// The inode the request is about (the parent directory for name operations); 1 is the root.
    public var nodeID: UInt64
    /// The caller's credentials in the guest (0 for INIT and FORGET).
    public var uid: UInt32
    public var gid: UInt32
    public var pid: UInt32
    /// `total_extlen` (protocol 7.38+): the extensions after the arguments, in 8-byte units. It is 0
    /// unless SECURITY_CTX or CREATE_SUPP_GROUP was negotiated; before 7.38 these bytes are padding.
    public var extensionUnits: UInt16

    public static let size = 40

    /// FUSE_ROOT_ID: the share's root, known without a LOOKUP.
    public static let rootNodeID: UInt64 = 1

    public init(length: UInt32, opcode: UInt32, unique: UInt64, nodeID: UInt64, uid: UInt32 = 0, gid: UInt32 = 0,
                pid: UInt32 = 0, extensionUnits: UInt16 = 0) {
        self.length = length
        self.opcode = opcode
        self.unique = unique
        self.nodeID = nodeID
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.extensionUnits = extensionUnits
    }

    /// The opcode, if this implementation knows its number.
    public var knownOpcode: FuseOpcode? { FuseOpcode(rawValue: opcode) }

    /// Reads the header from the start of `bytes`; nil if fewer than `size` bytes.
    public init?(_ bytes: [UInt8]) {
        var r = LittleEndianReader(bytes)
        guard let length = r.read(UInt32.self), let opcode = r.read(UInt32.self), let unique = r.read(UInt64.self),
              let nodeID = r.read(UInt64.self), let uid = r.read(UInt32.self), let gid = r.read(UInt32.self),
              let pid = r.read(UInt32.self), let units = r.read(UInt16.self), r.read(UInt16.self) != nil else { return nil }
        self.init(length: length, opcode: opcode, unique: unique, nodeID: nodeID, uid: uid, gid: gid, pid: pid,
                  extensionUnits: units)
    }

    /// The header's 40 bytes, as a driver lays them out.
    public var bytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(length); w.write(opcode); w.write(unique); w.write(nodeID)
        w.write(uid); w.write(gid); w.write(pid); w.write(extensionUnits); w.write(UInt16(0))
        return w.bytes
    }
}

/// `struct fuse_out_header`, the 16 bytes in front of every reply.
public struct FuseOutHeader: Sendable, Equatable {
    /// 16 plus the payload's length: a Linux guest takes the payload's size from here.
    public var length: UInt32
    /// 0 or a negative Linux errno.
    public var error: Int32
    public var unique: UInt64

    public static let size = 16

    public init(length: UInt32, error: Int32, unique: UInt64) {
        self.length = length
        self.error = error
        self.unique = unique
    }

    public var bytes: [UInt8] {
        var w = LittleEndianWriter()
        w.write(length); w.write(error); w.write(unique)
        return w.bytes
    }
}
