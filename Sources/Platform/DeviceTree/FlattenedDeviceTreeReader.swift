/// Reads a DTB (devicetree.org specification v0.4 §5) back into a `DeviceTreeNode` whose
/// property values are all `.bytes`: to compare the tree AVP wrote with QEMU's
/// (`-M virt,dumpdtb=`) and with what a guest shows in /proc/device-tree. The input is
/// untrusted: every offset and length is checked against the blob, nesting is bounded,
/// and a malformed blob is a `DeviceTreeReadError`, never a trap.
public enum FlattenedDeviceTreeReader {
    public enum DeviceTreeReadError: Error, Equatable, Sendable {
        case tooShort
        case badMagic(UInt32)
        case unsupportedVersion(UInt32)
        /// A header field points outside the blob.
        case blockOutOfBounds(String)
        case truncated(at: Int)
        case unknownToken(UInt32, at: Int)
        case badName(at: Int)
        case tooDeep
        case unbalanced
    }

    /// Nodes nest at most this deep (real trees nest fewer than 10 levels).
    public static let maximumDepth = 64
    /// Blobs larger than this are refused (QEMU's trees are under 1 MiB; Linux allows 2 MiB).
    public static let maximumSize = 4 << 20

    public static func decode(_ blob: [UInt8]) throws(DeviceTreeReadError) -> DeviceTreeNode {
        guard blob.count >= FlattenedDeviceTree.headerSize, blob.count <= maximumSize else { throw .tooShort }
        func u32(_ at: Int) -> UInt32? {
            guard at >= 0, at <= blob.count - 4 else { return nil }
            return (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(blob[at + $1]) }
        }
        let magic = u32(0)!
        guard magic == FlattenedDeviceTree.magic else { throw .badMagic(magic) }
        let version = u32(20)!, lastCompatible = u32(24)!
        guard version >= 16, lastCompatible <= 17 else { throw .unsupportedVersion(version) }
        let total = Int(u32(4)!), structureStart = Int(u32(8)!), stringsStart = Int(u32(12)!)
        let stringsSize = Int(u32(32)!), structureSize = Int(u32(36)!)
        guard total <= blob.count else { throw .blockOutOfBounds("totalsize") }
        guard structureStart <= total, structureSize <= total - structureStart else { throw .blockOutOfBounds("structure block") }
        guard stringsStart <= total, stringsSize <= total - stringsStart else { throw .blockOutOfBounds("strings block") }
        let structureEnd = structureStart + structureSize

        func string(at start: Int, limit: Int) -> (String, next: Int)? {
            var i = start
            while i < limit, blob[i] != 0 { i += 1 }
            guard i < limit else { return nil }
            return (String(decoding: blob[start..<i], as: UTF8.self), i + 1)
        }

        /// Tokens are 4-byte aligned from the structure block's start.
        func aligned(_ x: Int) -> Int { structureStart + ((x - structureStart + 3) & ~3) }

        var stack: [DeviceTreeNode] = []
        var root: DeviceTreeNode?
        var offset = structureStart
        while true {
            guard offset <= structureEnd - 4, let token = u32(offset) else { throw .truncated(at: offset) }
            let tokenAt = offset
            offset += 4
            switch token {
            case FlattenedDeviceTree.beginNode:
                guard root == nil else { throw .unbalanced }
                guard stack.count < maximumDepth else { throw .tooDeep }
                guard let (name, next) = string(at: offset, limit: structureEnd) else { throw .badName(at: offset) }
                offset = aligned(next)
                stack.append(DeviceTreeNode(name))
            case FlattenedDeviceTree.endNode:
                guard let node = stack.popLast() else { throw .unbalanced }
                if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
            case FlattenedDeviceTree.prop:
                guard !stack.isEmpty, let length = u32(offset), let nameOffset = u32(offset + 4) else { throw .truncated(at: offset) }
                offset += 8
                guard Int(length) <= structureEnd - offset else { throw .truncated(at: offset) }
                guard Int(nameOffset) < stringsSize,
                      let (name, _) = string(at: stringsStart + Int(nameOffset), limit: stringsStart + stringsSize) else {
                    throw .badName(at: tokenAt)
                }
                stack[stack.count - 1].properties.append((name, .bytes(Array(blob[offset..<offset + Int(length)]))))
                offset = aligned(offset + Int(length))
            case FlattenedDeviceTree.nop:
                continue
            case FlattenedDeviceTree.end:
                guard stack.isEmpty, let root else { throw .unbalanced }
                return root
            default:
                throw .unknownToken(token, at: tokenAt)
            }
        }
    }
}
