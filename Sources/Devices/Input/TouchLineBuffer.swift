/// Splits one connection's byte stream into the lines of the touch events protocol. Holds at
/// most one line: a line longer than `TouchLine.maxLength` (and its CR) is skipped up to its
/// newline and reported once, so a client that never sends a newline costs a fixed amount.
struct TouchLineBuffer: Sendable {
    enum Piece: Equatable, Sendable {
        /// A complete line, without its newline.
        case line([UInt8])
        /// A line that was too long, skipped.
        case overlong
    }

    private var pending: [UInt8] = []
    private var skipping = false

    /// The lines `bytes` completes, in order.
    mutating func feed(_ bytes: [UInt8]) -> [Piece] {
        var pieces: [Piece] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                pieces.append(skipping ? .overlong : .line(pending))
                pending.removeAll(keepingCapacity: true)
                skipping = false
            } else if !skipping {
                pending.append(byte)
                if pending.count > TouchLine.maxLength + 1 {
                    pending.removeAll(keepingCapacity: true)
                    skipping = true
                }
            }
        }
        return pieces
    }
}
