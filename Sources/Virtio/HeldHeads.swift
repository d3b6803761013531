/// The descriptor heads a device has taken from the available ring and not yet put in the used
/// ring: one bit per head of the queue. A head the driver makes available while its bit is set is
/// either a driver that broke VIRTIO 1.2 §2.7 (a buffer is the device's until it is used) or a
/// device that lost track after a restart; either way taking it would complete it twice.
struct HeldHeads {
    private var words: [UInt64]

    init(size: Int) { words = Array(repeating: 0, count: (size + 63) / 64) }

    /// Marks `head` held; false if it already was (or lies outside the queue).
    mutating func insert(_ head: UInt16) -> Bool {
        let (word, bit) = (Int(head) / 64, UInt64(1) << (UInt64(head) % 64))
        guard word < words.count, words[word] & bit == 0 else { return false }
        words[word] |= bit
        return true
    }

    mutating func remove(_ head: UInt16) {
        let word = Int(head) / 64
        guard word < words.count else { return }
        words[word] &= ~(UInt64(1) << (UInt64(head) % 64))
    }
}
