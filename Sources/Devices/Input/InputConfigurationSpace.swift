/// `struct virtio_input_config` (VIRTIO 1.2 §5.8.4), 136 bytes: u8 select, u8 subsel, u8 size,
/// u8 reserved[5], then a 128-byte union. The driver writes select and subsel, then reads size
/// and the union. Only select and subsel are writable; writes elsewhere are ignored (QEMU's
/// vhost-user front ends write the whole space back on every driver write, §5.8.5.1 lets the
/// device keep the rest), and reads or writes outside the space are refused, never trapping.
struct InputConfigurationSpace: Sendable {
    static let size = 136
    static let unionOffset = 8
    static let unionSize = 128

    let description: InputDeviceDescription
    private(set) var select: UInt8 = 0
    private(set) var subsel: UInt8 = 0
    /// The whole space for the current select/subsel, rebuilt on every write of them (a
    /// front end may read all 136 bytes for each byte the driver reads).
    private(set) var image: [UInt8]

    init(description: InputDeviceDescription) {
        self.description = description
        image = [UInt8](repeating: 0, count: Self.size)
    }

    /// `count` bytes at `offset`, or nil if any lies outside the space.
    func read(offset: Int, count: Int) -> [UInt8]? {
        guard offset >= 0, count >= 0, offset <= Self.size, count <= Self.size - offset else { return nil }
        return Array(image[offset..<offset + count])
    }

    /// Applies the bytes that fall on select (0) or subsel (1); false if any lies outside the space.
    mutating func write(offset: Int, bytes: [UInt8]) -> Bool {
        guard offset >= 0, offset <= Self.size, bytes.count <= Self.size - offset else { return false }
        var changed = false
        for (i, byte) in bytes.enumerated() {
            switch offset + i {
            case 0: changed = changed || select != byte; select = byte
            case 1: changed = changed || subsel != byte; subsel = byte
            default: break
            }
        }
        if changed { rebuild() }
        return true
    }

    /// Back to select 0 (VIRTIO_INPUT_CFG_UNSET), as after a device reset.
    mutating func reset() {
        select = 0
        subsel = 0
        rebuild()
    }

    private mutating func rebuild() {
        let payload = description.payload(select: select, subsel: subsel).prefix(Self.unionSize)
        var bytes = [UInt8](repeating: 0, count: Self.size)
        bytes[0] = select
        bytes[1] = subsel
        bytes[2] = UInt8(payload.count)
        bytes.replaceSubrange(Self.unionOffset..<Self.unionOffset + payload.count, with: payload)
        image = bytes
    }
}
