#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// A file the guest knows by a node ID (FUSE's nodeid): an `O_PATH` descriptor of it, never a
/// path, so a rename or a symlink swapped in on the host cannot redirect it. Keyed by (device,
/// inode), so one file reached by two names is one node; counted by the guest's lookups
/// (every reply that hands out the node adds one, FORGET takes them back) and closed at zero.
struct FsInode {
    let descriptor: FileDescriptor
    let device: UInt64
    let inode: UInt64
    /// The file type bits (S_IFMT) when it was found: a node never changes type.
    let type: mode_t
    var lookups: UInt64
}

/// Every node the guest holds, bounded: past `limit` a lookup fails with ENFILE rather than
/// letting a guest make the server keep any number of descriptors open.
struct FsInodeTable {
    static let root: UInt64 = 1
    let limit: Int
    private var nodes: [UInt64: FsInode] = [:]
    private var byFile: [FileKey: UInt64] = [:]
    private var next: UInt64 = 2

    struct FileKey: Hashable { let device: UInt64; let inode: UInt64 }

    init(root: FileDescriptor, stat: stat, limit: Int) {
        self.limit = limit
        let key = FileKey(device: UInt64(stat.st_dev), inode: UInt64(stat.st_ino))
        nodes[Self.root] = FsInode(descriptor: root, device: key.device, inode: key.inode, type: stat.st_mode & S_IFMT, lookups: 1)
        byFile[key] = Self.root
    }

    var count: Int { nodes.count }

    subscript(node: UInt64) -> FsInode? { nodes[node] }

    /// The node for an opened file, counting one lookup: its existing node (the new descriptor
    /// is closed) or a new one. The root reached by a name is refused (ELOOP): FUSE forbids
    /// answering node 1 for a name, and a share that contains itself is a loop.
    mutating func insert(_ descriptor: FileDescriptor, stat: stat) throws(Errno) -> UInt64 {
        let key = FileKey(device: UInt64(stat.st_dev), inode: UInt64(stat.st_ino))
        if let existing = byFile[key] {
            descriptor.close()
            guard existing != Self.root else { throw Errno(ELOOP, call: "lookup") }
            nodes[existing]!.lookups += 1
            return existing
        }
        guard nodes.count < limit else {
            descriptor.close()
            throw Errno(ENFILE, call: "lookup")
        }
        let node = next
        next += 1
        nodes[node] = FsInode(descriptor: descriptor, device: key.device, inode: key.inode, type: stat.st_mode & S_IFMT, lookups: 1)
        byFile[key] = node
        return node
    }

    /// FORGET: the guest drops `count` lookups; at zero the node and its descriptor go. Unknown
    /// nodes and counts beyond what was handed out are ignored (the root is never forgotten).
    mutating func forget(_ node: UInt64, count: UInt64) {
        guard node != Self.root, var entry = nodes[node] else { return }
        entry.lookups -= min(count, entry.lookups)
        if entry.lookups == 0 {
            nodes[node] = nil
            byFile[FileKey(device: entry.device, inode: entry.inode)] = nil
            entry.descriptor.close()
        } else {
            nodes[node] = entry
        }
    }

    /// Drops every node but the root (a driver reset or DESTROY).
    mutating func removeAll() {
        for (node, entry) in nodes where node != Self.root {
            entry.descriptor.close()
            byFile[FileKey(device: entry.device, inode: entry.inode)] = nil
        }
        nodes = nodes.filter { $0.key == Self.root }
    }
}
