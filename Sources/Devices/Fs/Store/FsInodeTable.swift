#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// A file the guest knows by a node ID (FUSE's nodeid), as the store uses it: an `O_PATH`
/// descriptor of it, never a path, so a rename or a symlink swapped in on the host cannot
/// redirect it.
struct FsInode {
    let descriptor: FileDescriptor
    /// The file type bits (S_IFMT) when it was found: a node never changes type.
    let type: mode_t
}

/// Every node the guest holds. Keyed by (device, inode), so one file reached by two names is
/// one node; counted by the guest's lookups (every reply that hands out the node adds one,
/// FORGET takes them back) and dropped at zero.
///
/// Bounded twice: past `limit` nodes a lookup fails with ENFILE, so a guest cannot make the
/// server hold any amount of memory; and at most `openLimit` of them hold an open descriptor.
/// Past that, the descriptors of the nodes used longest ago are closed and reopened from their
/// file handle when next used ([FsFileHandle]); a node without a handle (a file system without
/// them, another mount inside the share, no CAP_DAC_READ_SEARCH) keeps its descriptor, and when
/// those alone fill `openLimit` a lookup fails with ENFILE.
struct FsInodeTable {
    static let root: UInt64 = 1
    let limit: Int
    let openLimit: Int
    private var nodes: [UInt64: Entry] = [:]
    private var byFile: [FileKey: UInt64] = [:]
    private var next: UInt64 = 2
    /// Nodes holding a descriptor that a file handle may replace.
    private var closable = 0
    /// Nodes holding a descriptor (the root included).
    private var open = 1
    private var clock: UInt64 = 0
    /// The share's root opened for reading: `open_by_handle_at` takes no `O_PATH` descriptor for its mount.
    private let mount: FileDescriptor?
    private let rootMount: Int32?
    /// Descriptors closed for room, and reopened from handles (for tests and logs).
    private(set) var evictions = 0
    private(set) var reopens = 0

    struct FileKey: Hashable { let device: UInt64; let inode: UInt64 }

    /// A node's file handle, taken only when its descriptor is first to be closed for room (so a
    /// share within the limit pays no `name_to_handle_at` per lookup).
    private enum Handle {
        var taken: FsFileHandle? {
            if case let .taken(handle) = self { return handle }
            return nil
        }

        case notYetTaken
        case taken(FsFileHandle)
        /// None to be had: the descriptor stays open.
        case unavailable
    }

    private struct Entry {
        var descriptor: FileDescriptor?
        var handle: Handle
        let key: FileKey
        let type: mode_t
        var lookups: UInt64
        var lastUse: UInt64

        /// Its descriptor may be closed for room: a handle was or may yet be taken.
        var closable: Bool {
            if case .unavailable = handle { return false }
            return true
        }
    }

    init(root: FileDescriptor, stat: stat, limit: Int, openLimit: Int) {
        self.limit = limit
        self.openLimit = max(openLimit, 16)
        let key = FileKey(device: UInt64(stat.st_dev), inode: UInt64(stat.st_ino))
        let opened = Glibc.open("/proc/self/fd/\(root.rawValue)", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        mount = opened >= 0 ? FileDescriptor(adopting: opened) : nil
        rootMount = mount == nil ? nil : FsFileHandle.of(root)?.mountID
        nodes[Self.root] = Entry(descriptor: root, handle: .unavailable, key: key, type: stat.st_mode & S_IFMT, lookups: 1, lastUse: 0)
        byFile[key] = Self.root
    }

    var count: Int { nodes.count }
    var openCount: Int { open }

    /// Node `id` with an open descriptor: reopened from its handle if it was closed for room
    /// (ESTALE when its file is gone or another file answers the handle). Nil for unknown nodes.
    mutating func use(_ id: UInt64) throws(Errno) -> FsInode? {
        // Every request comes here: one hash lookup, the entry changed in place.
        guard let index = nodes.index(forKey: id) else { return nil }
        clock += 1
        nodes.values[index].lastUse = clock
        if let descriptor = nodes.values[index].descriptor { return FsInode(descriptor: descriptor, type: nodes.values[index].type) }
        guard case let .taken(handle) = nodes.values[index].handle, let mount else { throw Errno(ESTALE, call: "node \(id)") }
        try makeRoom()
        // makeRoom changes other entries only (this one holds no descriptor), but may move them: look again.
        let descriptor = try handle.open(through: mount)
        var st = Glibc.stat()
        guard fstatat(descriptor.rawValue, "", &st, AVP_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0,
              FileKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) == nodes[id]?.key else {
            descriptor.close()
            throw Errno(ESTALE, call: "node \(id)")
        }
        nodes[id]!.descriptor = descriptor
        open += 1
        closable += 1
        reopens += 1
        return FsInode(descriptor: descriptor, type: nodes[id]!.type)
    }

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
        do { try makeRoom() } catch {
            descriptor.close()
            throw error
        }
        let node = next
        next += 1
        clock += 1
        nodes[node] = Entry(descriptor: descriptor, handle: rootMount == nil ? .unavailable : .notYetTaken, key: key,
                            type: stat.st_mode & S_IFMT, lookups: 1, lastUse: clock)
        byFile[key] = node
        open += 1
        if rootMount != nil { closable += 1 }
        return node
    }

    /// Below `openLimit` open descriptors, by closing the least recently used half of those a
    /// handle can replace (sorting once per many closes keeps it cheap; the nodes the current
    /// request uses were used last, so they stay open).
    private mutating func makeRoom() throws(Errno) {
        guard open >= openLimit else { return }
        guard closable > 0 else { throw Errno(ENFILE, call: "lookup") }
        // Never the last few nodes used: the request being served may hold their descriptors.
        let recent = clock > 8 ? clock - 8 : 0
        let candidates = nodes.filter { $0.value.descriptor != nil && $0.value.closable && $0.value.lastUse <= recent }
            .sorted { $0.value.lastUse < $1.value.lastUse }
        for (id, entry) in candidates.prefix(max(1, candidates.count / 2)) {
            guard let handle = entry.handle.taken ?? takeHandle(entry.descriptor!) else {
                nodes[id]!.handle = .unavailable
                closable -= 1
                continue
            }
            entry.descriptor!.close()
            nodes[id]!.descriptor = nil
            nodes[id]!.handle = .taken(handle)
            open -= 1
            closable -= 1
            evictions += 1
        }
        guard open < openLimit else { throw Errno(ENFILE, call: "lookup") }
    }

    /// The handle of a node's file, if it is on the share's own mount (a handle opens only through its mount).
    private func takeHandle(_ descriptor: FileDescriptor) -> FsFileHandle? {
        guard let rootMount, let handle = FsFileHandle.of(descriptor), handle.mountID == rootMount else { return nil }
        return handle
    }

    /// FORGET: the guest drops `count` lookups; at zero the node and its descriptor go. Unknown
    /// nodes and counts beyond what was handed out are ignored (the root is never forgotten).
    mutating func forget(_ node: UInt64, count: UInt64) {
        guard node != Self.root, var entry = nodes[node] else { return }
        entry.lookups -= min(count, entry.lookups)
        if entry.lookups == 0 {
            nodes[node] = nil
            byFile[entry.key] = nil
            close(entry)
        } else {
            nodes[node] = entry
        }
    }

    private mutating func close(_ entry: Entry) {
        guard let descriptor = entry.descriptor else { return }
        descriptor.close()
        open -= 1
        if entry.closable { closable -= 1 }
    }

    /// Drops every node but the root (a driver reset or DESTROY).
    mutating func removeAll() {
        for (node, entry) in nodes where node != Self.root {
            close(entry)
            byFile[entry.key] = nil
        }
        nodes = nodes.filter { $0.key == Self.root }
    }
}
