/// What the device needs of the wire layer beyond parsing: a request's name for logs, the
/// request ID of bytes that did not parse (to answer them), the out header's size.
extension FuseRequest {
    /// The opcode's name, for logs ("lookup", "write", …).
    public var name: String {
        switch self {
        case .unsupported(let opcode): "opcode \(opcode)"
        default: String(String(describing: self).prefix { $0 != "(" })
        }
    }
}

extension FuseRequest {
    /// FORGET, BATCH_FORGET and INTERRUPT have no reply (and need no writable space).
    var hasNoReply: Bool {
        switch self {
        case .forget, .batchForget, .interrupt: true
        default: false
        }
    }
}

extension FuseInHeader {
    /// The `unique` field of a request's first bytes, if there are enough of them (offset 8).
    static func unique(in bytes: [UInt8]) -> UInt64? {
        guard bytes.count >= 16 else { return nil }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[8 + $1]) << (8 * $1) }
    }
}

extension FuseReply {
    /// `struct fuse_out_header`.
    static let headerSize = 16
}
