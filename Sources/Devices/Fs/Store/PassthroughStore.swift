#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// The host side of a share: a directory the guest sees as its file system, reached only
/// through descriptors — the share's own (`AVP_O_PATH`), then each name opened relative to its
/// parent's descriptor with `O_NOFOLLOW`, one component at a time (the parser refuses names
/// with '/', this store "." and ".."). So no path the guest writes is ever resolved by the
/// host: a symlink is a file the guest reads (READLINK) and resolves itself, never one the
/// server follows, and `..` cannot climb out of the share.
///
/// Opening a node for I/O goes through `/proc/self/fd/N` of its `AVP_O_PATH` descriptor (the
/// kernel's magic link to that very file, not a path lookup), refused for symlinks.
/// A read-only share answers every change with EROFS. Not thread-safe: one server thread.
public final class PassthroughStore: @unchecked Sendable {
    public let path: String
    public let readOnly: Bool
    var inodes: FsInodeTable
    var handles: FsHandleTable
    /// What the share holds against its limits; nil without limits.
    var usage: FsUsage?

    public static let defaultMaxNodes = 1 << 20
    public static let defaultMaxHandles = 1 << 16
    public static let defaultMaxOpenNodes = 1 << 16

    /// Opens the shared directory; throws if it is not a directory. At most `maxNodes` nodes,
    /// `maxOpenNodes` of them with an open descriptor (the others are reopened from file
    /// handles where the file system has them), and `maxHandles` files open for I/O.
    public init(sharedDirectory path: String, readOnly: Bool, maxNodes: Int = defaultMaxNodes, maxOpenNodes: Int = defaultMaxOpenNodes,
                maxHandles: Int = defaultMaxHandles, limits: FsShareLimits = .none) throws(Errno) {
        let root = try FileDescriptor.open(path, flags: AVP_O_PATH | O_DIRECTORY)
        var st = Glibc.stat()
        _ = try retryingSyscall("fstat \(path)") { fstat(root.rawValue, &st) }
        self.path = path
        self.readOnly = readOnly
        inodes = FsInodeTable(root: root, stat: st, limit: maxNodes, openLimit: maxOpenNodes)
        handles = FsHandleTable(limit: maxHandles)
        usage = limits.isNone ? nil : FsUsage(limits: limits, root: root)
    }

    /// Nodes and handles the guest holds now.
    public var nodeCount: Int { inodes.count }
    /// Bytes and inodes counted against the share's limits (zeros without limits).
    public var used: (bytes: UInt64, inodes: UInt64) { (usage?.bytes ?? 0, usage?.inodes ?? 0) }
    /// Nodes holding an open descriptor now, and how often one was closed for room and reopened.
    public var openNodeCount: Int { inodes.openCount }
    public var nodeReopens: Int { inodes.reopens }
    public var handleCount: Int { handles.count }

    // MARK: Nodes

    func node(_ id: UInt64) throws(Errno) -> FsInode {
        guard let node = try inodes.use(id) else { throw Errno(ESTALE, call: "node \(id)") }
        return node
    }

    /// A node's attributes (never following a symlink).
    public func attributes(_ id: UInt64) throws(Errno) -> stat {
        try Self.stat(of: node(id).descriptor)
    }

    static func stat(of descriptor: FileDescriptor) throws(Errno) -> stat {
        var st = Glibc.stat()
        _ = try retryingSyscall("fstatat") { fstatat(descriptor.rawValue, "", &st, AVP_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) }
        return st
    }

    /// LOOKUP: the child `name` of `parent`, one more lookup of its node.
    public func lookup(_ parent: UInt64, _ name: [UInt8]) throws(Errno) -> (node: UInt64, stat: stat) {
        let directory = try node(parent)
        guard directory.type == S_IFDIR else { throw Errno(ENOTDIR, call: "lookup") }
        let fd = try Self.withName(name) { (n) throws(Errno) in
            try retryingSyscall("openat") { openat(directory.descriptor.rawValue, n, AVP_O_PATH | O_NOFOLLOW | O_CLOEXEC) }
        }
        let descriptor = FileDescriptor(adopting: fd)
        let st = try Self.stat(of: descriptor)
        return (try inodes.insert(descriptor, stat: st), st)
    }

    public func forget(_ id: UInt64, count: UInt64) { inodes.forget(id, count: count) }

    /// Drops every node and handle but the share's root (driver reset, DESTROY).
    public func reset() {
        handles.removeAll()
        inodes.removeAll()
    }

    /// A name as a C string, refusing "." and ".." (the parser already refused '/', NUL and empty).
    static func withName<R>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) throws(Errno) -> R) throws(Errno) -> R {
        guard name != [0x2E], name != [0x2E, 0x2E] else { throw Errno(EINVAL, call: "name") }
        let terminated = name + [0]
        return try terminated.withUnsafeBufferPointer { (buffer) throws(Errno) -> R in
            try buffer.withMemoryRebound(to: CChar.self) { (chars) throws(Errno) -> R in try body(chars.baseAddress!) }
        }
    }

    /// What `name` in directory `directory` is now (not following a symlink), or nil.
    static func stat(of name: [UInt8], in directory: Int32) -> stat? {
        var st = Glibc.stat()
        let found = try? withName(name) { (n) throws(Errno) -> Bool in fstatat(directory, n, &st, AT_SYMLINK_NOFOLLOW) == 0 }
        return found == true ? st : nil
    }

    /// `/proc/self/fd/N` of a node: opens that file itself, whatever its names are now.
    static func procPath(_ descriptor: FileDescriptor) -> String { "/proc/self/fd/\(descriptor.rawValue)" }

    func writable() throws(Errno) {
        if readOnly { throw Errno(EROFS, call: "write") }
    }

    /// A directory node's descriptor for a change inside it.
    func directory(_ id: UInt64) throws(Errno) -> FileDescriptor {
        let n = try node(id)
        guard n.type == S_IFDIR else { throw Errno(ENOTDIR, call: "directory") }
        return n.descriptor
    }

    // MARK: Creating and removing names

    public func mkdir(_ parent: UInt64, _ name: [UInt8], mode: mode_t, owner: (uid_t, gid_t)) throws(Errno) -> (node: UInt64, stat: stat) {
        try writable()
        try needInode()
        let dir = try directory(parent)
        try Self.withName(name) { (n) throws(Errno) in _ = try retryingSyscall("mkdirat") { mkdirat(dir.rawValue, n, mode) } }
        return try created(parent, name, owner: owner)
    }

    public func mknod(_ parent: UInt64, _ name: [UInt8], mode: mode_t, device: dev_t, owner: (uid_t, gid_t)) throws(Errno) -> (node: UInt64, stat: stat) {
        try writable()
        // Regular files, FIFOs and sockets only: a guest never gets to make a device node on the host.
        guard [S_IFREG, S_IFIFO, S_IFSOCK].contains(mode & S_IFMT) else { throw Errno(EPERM, call: "mknod") }
        try needInode()
        let dir = try directory(parent)
        try Self.withName(name) { (n) throws(Errno) in _ = try retryingSyscall("mknodat") { mknodat(dir.rawValue, n, mode, device) } }
        return try created(parent, name, owner: owner)
    }

    public func symlink(_ parent: UInt64, _ name: [UInt8], target: [UInt8], owner: (uid_t, gid_t)) throws(Errno) -> (node: UInt64, stat: stat) {
        try writable()
        try needInode()
        let dir = try directory(parent)
        guard !target.isEmpty, !target.contains(0), target.count < Int(PATH_MAX) else { throw Errno(EINVAL, call: "symlink") }
        let terminated = target + [0]
        try Self.withName(name) { (n) throws(Errno) in
            _ = try terminated.withUnsafeBufferPointer { (t) throws(Errno) -> Int32 in
                try t.withMemoryRebound(to: CChar.self) { (c) throws(Errno) -> Int32 in
                    try retryingSyscall("symlinkat") { symlinkat(c.baseAddress!, dir.rawValue, n) }
                }
            }
        }
        return try created(parent, name, owner: owner)
    }

    public func link(_ source: UInt64, to parent: UInt64, _ name: [UInt8]) throws(Errno) -> (node: UInt64, stat: stat) {
        try writable()
        let file = try node(source), dir = try directory(parent)
        guard file.type != S_IFDIR else { throw Errno(EPERM, call: "link") }
        let proc = Self.procPath(file.descriptor)
        try Self.withName(name) { (n) throws(Errno) in
            _ = try retryingSyscall("linkat") { linkat(AT_FDCWD, proc, dir.rawValue, n, AT_SYMLINK_FOLLOW) }
        }
        return try lookup(parent, name)
    }

    public func unlink(_ parent: UInt64, _ name: [UInt8], directory isDirectory: Bool) throws(Errno) {
        try writable()
        let dir = try directory(parent)
        let removed = counted(dir, name)
        try Self.withName(name) { (n) throws(Errno) in
            _ = try retryingSyscall(isDirectory ? "rmdir" : "unlink") { unlinkat(dir.rawValue, n, isDirectory ? AT_REMOVEDIR : 0) }
        }
        uncount(removed)
    }

    public func rename(_ parent: UInt64, _ name: [UInt8], to newParent: UInt64, _ newName: [UInt8], flags: UInt32) throws(Errno) {
        try writable()
        let from = try directory(parent), to = try directory(newParent)
        // RENAME_NOREPLACE (1) and RENAME_EXCHANGE (2) only: RENAME_WHITEOUT makes a device node.
        guard flags & ~3 == 0 else { throw Errno(EINVAL, call: "rename") }
        // RENAME_EXCHANGE keeps both files; otherwise a file the new name held may be freed.
        let replaced = flags & 2 == 0 ? counted(to, newName) : nil
        try Self.withName(name) { (old) throws(Errno) in
            try Self.withName(newName) { (new) throws(Errno) in
                _ = try retryingSyscall("renameat2") { avp_renameat2(from.rawValue, old, to.rawValue, new, flags) }
            }
        }
        uncount(replaced)
    }

    /// A name just created: looked up, and given to the requester's uid and gid.
    private func created(_ parent: UInt64, _ name: [UInt8], owner: (uid_t, gid_t)) throws(Errno) -> (node: UInt64, stat: stat) {
        let (id, _) = try lookup(parent, name)
        let n = try node(id)
        _ = fchownat(n.descriptor.rawValue, "", owner.0, owner.1, AVP_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)
        let st = try Self.stat(of: n.descriptor)
        usage?.made(st)
        return (id, st)
    }
}
