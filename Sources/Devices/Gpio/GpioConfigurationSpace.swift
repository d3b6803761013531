/// `struct virtio_gpio_config` (VIRTIO 1.2 §5.17.4): le16 ngpio, u8 padding[2],
/// le32 gpio_names_size. Read-only: a driver write is refused.
struct GpioConfigurationSpace: Sendable {
    static let size = 8
    let bytes: [UInt8]

    init(lineCount: Int, namesSize: Int) {
        let n = UInt16(clamping: lineCount), s = UInt32(clamping: namesSize)
        bytes = [UInt8(n & 0xFF), UInt8(n >> 8), 0, 0, UInt8(s & 0xFF), UInt8((s >> 8) & 0xFF), UInt8((s >> 16) & 0xFF), UInt8(s >> 24)]
    }

    /// `count` bytes at `offset`, or nil if any lies outside the space.
    func read(offset: Int, count: Int) -> [UInt8]? {
        guard offset >= 0, count >= 0, offset <= Self.size, count <= Self.size - offset else { return nil }
        return Array(bytes[offset..<offset + count])
    }
}
