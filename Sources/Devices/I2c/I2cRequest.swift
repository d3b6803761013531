/// One virtio-i2c request (VIRTIO 1.2 §5.16.6.1) as the device reads it from a descriptor
/// chain: `virtio_i2c_out_hdr` (le16 addr, le16 padding, le32 flags) in the device-readable
/// part, then the optional `buf` (readable for a write, writable for a read), then the one
/// status byte of `virtio_i2c_in_hdr`, device-writable. Linux's i2c-virtio sends one request
/// per `i2c_msg`, FAIL_NEXT on every one of a transfer but the last.
///
/// `init(header:readableLength:writableLength:)` is the pure parse: from the header bytes and
/// the chain's lengths to a request or the reason it is refused. The device answers a refused
/// request VIRTIO_I2C_MSG_ERR (or, without a status byte, returns it with nothing written).
public struct I2cRequest: Sendable, Equatable {
    public enum Direction: Sendable, Equatable {
        /// The device fills `count` bytes (VIRTIO_I2C_FLAGS_M_RD).
        case read(count: Int)
        /// The device sends the `count` bytes after the header.
        case write(count: Int)
    }

    public var address: I2cAddress
    public var direction: Direction
    /// VIRTIO_I2C_FLAGS_FAIL_NEXT: if this request fails, the next one fails too (same transfer).
    public var failNext: Bool

    /// sizeof(virtio_i2c_out_hdr).
    public static let headerSize = 8
    /// sizeof(virtio_i2c_in_hdr).
    public static let statusSize = 1
    /// The longest `buf` AVP carries: a message of a 24C02 is at most 256 bytes, and host buses
    /// take 8 KiB (i2c-dev); anything longer is refused, never allocated.
    public static let maxLength = 4096

    /// VIRTIO_I2C_FLAGS_FAIL_NEXT (bit 0) and VIRTIO_I2C_FLAGS_M_RD (bit 1); the rest are reserved
    /// (§5.16.6.1: "reserved as zero").
    public static let failNextFlag: UInt32 = 1 << 0
    public static let readFlag: UInt32 = 1 << 1

    /// VIRTIO_I2C_MSG_OK and VIRTIO_I2C_MSG_ERR.
    public static let statusOK: UInt8 = 0
    public static let statusError: UInt8 = 1

    public init(address: I2cAddress, direction: Direction, failNext: Bool) {
        self.address = address
        self.direction = direction
        self.failNext = failNext
    }

    /// Parses a request whose chain has `readableLength` device-readable bytes, starting with
    /// `header` (its first `headerSize` bytes, fewer if the chain has fewer), and
    /// `writableLength` device-writable ones.
    public init(header: [UInt8], readableLength: Int, writableLength: Int) throws(I2cRequestError) {
        guard header.count >= Self.headerSize, readableLength >= Self.headerSize else {
            throw .headerTooShort(readable: readableLength)
        }
        guard writableLength >= Self.statusSize else { throw .noStatusByte }
        let wire = UInt16(header[0]) | UInt16(header[1]) << 8
        let flags = (0..<4).reduce(UInt32(0)) { $0 | UInt32(header[4 + $1]) << (8 * UInt32($1)) }
        guard flags & ~(Self.failNextFlag | Self.readFlag) == 0 else { throw .reservedFlags(flags) }
        guard let address = I2cAddress(wire: wire) else { throw .unsupportedAddress(wire) }
        let isRead = flags & Self.readFlag != 0
        let payloadIn = readableLength - Self.headerSize
        let payloadOut = writableLength - Self.statusSize
        let direction: Direction
        if isRead {
            // §5.16.6.1: for a read the buffer is write-only for the device.
            guard payloadIn == 0 else { throw .readWithReadableBuffer(bytes: payloadIn) }
            direction = .read(count: payloadOut)
        } else {
            guard payloadOut == 0 else { throw .writeWithWritableBuffer(bytes: payloadOut) }
            direction = .write(count: payloadIn)
        }
        switch direction {
        case let .read(count), let .write(count):
            guard count <= Self.maxLength else { throw .tooLong(count) }
        }
        self.init(address: address, direction: direction, failNext: flags & Self.failNextFlag != 0)
    }

    /// FAIL_NEXT as the header has it, for a request refused after all: true when the header
    /// is too short to tell (the safe side: a broken request never lets its group's next run).
    public static func failNext(header: [UInt8]) -> Bool {
        guard header.count >= Self.headerSize else { return true }
        return header[4] & UInt8(Self.failNextFlag) != 0
    }

    /// The buffer's length.
    public var length: Int {
        switch direction {
        case let .read(count), let .write(count): count
        }
    }
}

/// Why a request was refused before reaching a target.
public enum I2cRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    case headerTooShort(readable: Int)
    case noStatusByte
    case reservedFlags(UInt32)
    /// 10-bit mode or bit 0 set.
    case unsupportedAddress(UInt16)
    case readWithReadableBuffer(bytes: Int)
    case writeWithWritableBuffer(bytes: Int)
    case tooLong(Int)
    /// No target of this VM has the address (its allow-list).
    case addressNotAllowed(I2cAddress)

    public var description: String {
        switch self {
        case let .headerTooShort(n): "\(n) device-readable bytes cannot hold the \(I2cRequest.headerSize)-byte virtio_i2c_out_hdr"
        case .noStatusByte: "no device-writable byte for the status"
        case let .reservedFlags(f): "reserved flag bits set (flags 0x\(String(f, radix: 16)))"
        case let .unsupportedAddress(a): "addr 0x\(String(a, radix: 16)) is not a 7-bit address (10-bit addressing is not supported)"
        case let .readWithReadableBuffer(n): "a read request (M_RD) has \(n) device-readable buffer bytes"
        case let .writeWithWritableBuffer(n): "a write request has \(n) device-writable buffer bytes besides its status"
        case let .tooLong(n): "a \(n)-byte message is over \(I2cRequest.maxLength) bytes"
        case let .addressNotAllowed(a): "address \(a) is not one of this VM's targets"
        }
    }
}
