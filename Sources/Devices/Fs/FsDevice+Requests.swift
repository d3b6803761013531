#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// Carrying out one FUSE request on the store (the opcodes Linux's virtiofs sends; ENOSYS for
/// the rest). Errors from the host become the reply's errno.
extension FsDevice {
    /// The reply to `request` (out header included), or nil where FUSE has none (FORGET,
    /// BATCH_FORGET, INTERRUPT). `room`: bytes the reply may carry after its header.
    func answer(_ request: FuseRequest, header: FuseInHeader, room: Int) -> [UInt8]? {
        let unique = header.unique
        switch request {
        case let .forget(nlookup):
            store.forget(header.nodeID, count: nlookup)
            return nil
        case let .batchForget(list):
            for f in list { store.forget(f.nodeID, count: f.nlookup) }
            return nil
        case .interrupt:
            return nil
        case let .initialize(major, minor, maxReadahead, flags):
            let outcome = negotiation.negotiate(major: major, minor: minor, maxReadahead: maxReadahead, flags: flags)
            if let reply = outcome.accepted {
                initialized = true
                logger.info("fs: FUSE \(major).\(minor) guest, session \(reply.major).\(reply.minor), flags \(String(reply.flags.rawValue, radix: 16))")
            }
            return outcome.reply(unique: unique)
        default:
            break
        }
        guard initialized else { return FuseReply.error(unique: unique, errno: EIO) }
        do {
            return FuseReply.ok(unique: unique, try execute(request, header: header, room: room))
        } catch {
            statistics.errors += 1
            return FuseReply.error(unique: unique, errno: error.code)
        }
    }

    private func entry(_ found: (node: UInt64, stat: stat)) -> FuseEntry {
        FuseEntry(nodeID: found.node, attributes: attributes(found.stat))
    }

    /// Attributes as the guest sees them: owners through the share's mapping.
    private func attributes(_ st: stat) -> FuseAttributes { FuseAttributes(stat: owners.guestView(st)) }

    /// The host owner of what the requester creates.
    private func owner(_ header: FuseInHeader) throws(Errno) -> (uid_t, gid_t) { try owners.hostOwner(uid: header.uid, gid: header.gid) }

    /// The payload after the out header.
    private func execute(_ request: FuseRequest, header: FuseInHeader, room: Int) throws(Errno) -> [UInt8] {
        let node = header.nodeID
        switch request {
        case .destroy:
            store.reset()
            initialized = false
            return []
        case let .lookup(name):
            // No such name: a negative entry the guest caches for a second (virtiofsd's cache=auto), so
            // the LOOKUPs that come before a create (tar's, the shell's) cost one round trip, not several.
            do {
                return entry(try store.lookup(node, name)).bytes
            } catch where error.code == ENOENT {
                return FuseEntry.negative(validSeconds: 1).bytes
            }
        case .getattr:
            return FuseAttrReply(attributes: attributes(try store.attributes(node))).bytes
        case let .setattr(s):
            func time(_ update: FuseTimeUpdate?) -> timespec? {
                switch update {
                case nil: nil
                case .now: timespec(tv_sec: 0, tv_nsec: AVP_UTIME_NOW)
                case let .time(t): timespec(tv_sec: Int(clamping: Int64(bitPattern: t.seconds)), tv_nsec: Int(min(t.nanoseconds, 999_999_999)))
                }
            }
            let st = try store.setAttributes(node, mode: s.mode.map { mode_t($0) }, owner: try owners.hostChown(uid: s.uid, gid: s.gid), size: s.size, handle: s.handle,
                                             times: (time(s.atime), time(s.mtime)), killSuidgid: s.killSuidgid)
            return FuseAttrReply(attributes: attributes(st)).bytes
        case .readlink:
            return try store.readlink(node)
        case let .symlink(name, target):
            return entry(try store.symlink(node, name, target: target, owner: try owner(header))).bytes
        case let .mknod(name, mode, rdev, umask):
            return entry(try store.mknod(node, name, mode: mode_t(mode & ~(umask & 0o777)), device: dev_t(rdev), owner: try owner(header))).bytes
        case let .mkdir(name, mode, umask):
            return entry(try store.mkdir(node, name, mode: mode_t(mode & ~umask & 0o7777), owner: try owner(header))).bytes
        case let .unlink(name):
            try store.unlink(node, name, directory: false)
            return []
        case let .rmdir(name):
            try store.unlink(node, name, directory: true)
            return []
        case let .rename(newParent, oldName, newName, flags):
            try store.rename(node, oldName, to: newParent, newName, flags: flags)
            return []
        case let .link(oldNode, newName):
            return entry(try store.link(oldNode, to: node, newName)).bytes
        case let .open(flags, killSuidgid):
            return FuseOpenReply(handle: try store.open(node, flags: flags, killSuidgid: killSuidgid)).bytes
        case let .create(name, flags, mode, umask, killSuidgid):
            let made = try store.create(node, name, flags: flags, mode: mode_t(mode & ~umask & 0o7777), owner: try owner(header), killSuidgid: killSuidgid)
            return FuseCreateReply(entry: entry((made.node, made.stat)), open: FuseOpenReply(handle: made.handle)).bytes
        case let .read(handle, offset, size):
            let data = try store.read(handle, offset: offset, size: min(Int(size), room))
            statistics.bytesRead += data.count
            return data
        case let .write(handle, offset, data, flags):
            let written = try store.write(handle, offset: offset, data: data, killSuidgid: flags & FuseRequest.writeKillSuidgid != 0)
            statistics.bytesWritten += written
            return FuseWriteReply(size: UInt32(written)).bytes
        case .statfs:
            return FuseStatfsReply(statvfs: try store.statfs()).bytes
        case let .release(handle, _):
            store.release(handle)
            return []
        case .flush:
            return []
        case let .fsync(handle, dataOnly):
            try store.fsync(handle, dataOnly: dataOnly)
            return []
        case let .setxattr(name, value, flags):
            try store.setAttribute(node, name, value: value, flags: flags)
            return []
        case let .getxattr(name, size):
            let (count, value) = try store.getAttribute(node, name, size: min(Int(size), room))
            return size == 0 ? FuseXattrSizeReply(size: UInt32(count)).bytes : value
        case let .listxattr(size):
            let (count, names) = try store.listAttributes(node, size: min(Int(size), room))
            return size == 0 ? FuseXattrSizeReply(size: UInt32(count)).bytes : names
        case let .removexattr(name):
            try store.removeAttribute(node, name)
            return []
        case let .opendir(flags):
            _ = flags
            return FuseOpenReply(handle: try store.openDirectory(node)).bytes
        case let .readdir(handle, offset, size, plus):
            return try readDirectory(handle, offset: offset, size: min(Int(size), room), plus: plus, parent: node)
        case let .releasedir(handle):
            store.releaseDirectory(handle)
            return []
        case .fsyncdir:
            return []
        case let .fallocate(handle, offset, length, mode):
            try store.fallocate(handle, offset: offset, length: length, mode: mode)
            return []
        case let .lseek(handle, offset, whence):
            return FuseLseekReply(offset: try store.lseek(handle, offset: offset, whence: whence)).bytes
        case let .copyFileRange(handleIn, offsetIn, _, handleOut, offsetOut, length, _):
            let copied = try store.copyFileRange(from: handleIn, at: offsetIn, to: handleOut, at: offsetOut, length: length)
            return FuseWriteReply(size: UInt32(clamping: copied)).bytes
        case .syncfs:
            try store.syncfs()
            return []
        case .access, .unsupported:
            throw Errno(ENOSYS, call: request.name)
        case .initialize, .forget, .batchForget, .interrupt:
            throw Errno(EINVAL, call: request.name)
        }
    }

    /// READDIR(PLUS): entries from `offset` packed into `size` bytes; with `plus`, each entry but
    /// "." and ".." is looked up (one lookup the guest will forget), undone if it does not fit.
    private func readDirectory(_ handle: UInt64, offset: UInt64, size: Int, plus: Bool, parent: UInt64) throws(Errno) -> [UInt8] {
        var packer = FuseDirectoryPacker(size: size, plus: plus)
        var failure: Errno?
        try store.readDirectory(handle, from: offset) { item in
            var found: FuseEntry?
            let dots = item.name == [0x2E] || item.name == [0x2E, 0x2E]
            if plus, !dots {
                do { found = entry(try store.lookup(parent, item.name)) } catch let error as Errno {
                    // Gone since the directory was read: skip it, as if listed a moment later.
                    if error.code == ENOENT { return true }
                    failure = error
                    return false
                } catch {
                    return false
                }
            }
            guard packer.append(name: item.name, inode: item.inode, offset: item.nextOffset, type: item.type, entry: found) else {
                if let found { store.forget(found.nodeID, count: 1) }
                return false
            }
            return true
        }
        if let failure, packer.isEmpty { throw failure }
        return packer.bytes
    }
}
