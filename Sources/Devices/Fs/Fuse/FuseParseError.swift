#if canImport(Glibc)
import Glibc
#endif

/// Why the device-readable bytes of a request could not be read as a FUSE request. When the header
/// itself was readable the device answers with an error reply (EIO or EINVAL) carrying its `unique`;
/// otherwise it can only return the chain.
public enum FuseParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Fewer bytes than `fuse_in_header`.
    case shortHeader(got: Int)
    /// More bytes than `FuseRequest.maxRequestBytes` (read no further).
    case tooLarge(Int)
    /// `fuse_in_header.len` differs from the number of device-readable bytes.
    case lengthMismatch(header: UInt32, actual: Int)
    /// `total_extlen` claims more bytes than follow the header.
    case extensionsTooLong(units: UInt16, available: Int)
    /// The arguments (after the header, before extensions) are shorter than the opcode needs.
    case bodyTooShort(opcode: UInt32, needed: Int, got: Int)
    /// A name (or symlink target) runs to the end of the arguments without its NUL.
    case nameNotTerminated(opcode: UInt32)
    /// A name (or symlink target) of zero bytes.
    case emptyName(opcode: UInt32)
    /// A directory entry name containing '/'.
    case nameContainsSlash(opcode: UInt32)
    /// A name longer than `FuseRequest.maxNameBytes` (255, NAME_MAX and XATTR_NAME_MAX) or a symlink
    /// target longer than `FuseRequest.maxSymlinkTargetBytes` (PATH_MAX less its NUL).
    case nameTooLong(opcode: UInt32, length: Int)

    /// The errno a reply carries: a name too long is the guest's ordinary ENAMETOOLONG (Linux lets
    /// names up to 1024 bytes through to the server); everything else is malformed, EINVAL.
    public var errno: Int32 {
        if case .nameTooLong = self { return ENAMETOOLONG }
        return EINVAL
    }

    public var description: String {
        switch self {
        case let .shortHeader(got): "a FUSE request of \(got) bytes has no header (40 bytes)"
        case let .tooLarge(got): "a FUSE request of \(got) bytes is larger than \(FuseRequest.maxRequestBytes)"
        case let .lengthMismatch(header, actual): "the FUSE header says \(header) bytes, the request has \(actual)"
        case let .extensionsTooLong(units, available):
            "FUSE extensions of \(units) × 8 bytes do not fit in the \(available) bytes after the header"
        case let .bodyTooShort(opcode, needed, got): "FUSE \(Self.name(opcode)) needs \(needed) argument bytes, has \(got)"
        case let .nameNotTerminated(opcode): "FUSE \(Self.name(opcode)): a name is not NUL-terminated"
        case let .emptyName(opcode): "FUSE \(Self.name(opcode)): an empty name"
        case let .nameContainsSlash(opcode): "FUSE \(Self.name(opcode)): a name contains '/'"
        case let .nameTooLong(opcode, length): "FUSE \(Self.name(opcode)): a name of \(length) bytes is too long"
        }
    }

    private static func name(_ opcode: UInt32) -> String {
        FuseOpcode(rawValue: opcode).map { "\($0)" } ?? "opcode \(opcode)"
    }
}
