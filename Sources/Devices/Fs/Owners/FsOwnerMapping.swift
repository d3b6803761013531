#if canImport(Glibc)
import Glibc
#endif
import SystemCalls

/// A share's uid and gid mappings ({AVPS-v2.0-50} shares with "the guest's root not the host's
/// root"): applied where ids cross between guest and host — the owner of what a guest creates,
/// a guest's chown, and the owners every attribute reply shows.
public struct FsOwnerMapping: Sendable, Equatable {
    public var uids: IdMap
    public var gids: IdMap

    public static let identity = FsOwnerMapping(uids: .identity, gids: .identity)

    public init(uids: IdMap, gids: IdMap) {
        self.uids = uids
        self.gids = gids
    }

    /// The host owner of what a requester creates. A guest id outside the mapping has no host id
    /// to own a file as: EOVERFLOW, as Linux answers an unmapped fsuid in a user namespace.
    func hostOwner(uid: UInt32, gid: UInt32) throws(Errno) -> (uid_t, gid_t) {
        guard let u = uids.host(forGuest: uid), let g = gids.host(forGuest: gid) else { throw Errno(EOVERFLOW, call: "owner") }
        return (u, g)
    }

    /// A guest's chown target on the host: EINVAL for an unmapped id, as chown(2) in a user namespace.
    func hostChown(uid: UInt32?, gid: UInt32?) throws(Errno) -> (uid_t?, gid_t?) {
        var result: (uid_t?, gid_t?) = (nil, nil)
        if let uid {
            guard let u = uids.host(forGuest: uid) else { throw Errno(EINVAL, call: "chown uid \(uid)") }
            result.0 = u
        }
        if let gid {
            guard let g = gids.host(forGuest: gid) else { throw Errno(EINVAL, call: "chown gid \(gid)") }
            result.1 = g
        }
        return result
    }

    /// Host attributes as the guest sees them.
    func guestView(_ st: stat) -> stat {
        var view = st
        view.st_uid = uids.guest(forHost: st.st_uid)
        view.st_gid = gids.guest(forHost: st.st_gid)
        return view
    }
}
