#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// One message of a combined I2C transaction, as the host's adapter takes it: a 7-bit
/// target address, and the bytes to write or a buffer of the length to read.
public struct I2cSegment: Sendable, Equatable {
    public var address: UInt16
    public var isRead: Bool
    /// What a write sends; for a read, as many bytes as it reads (their values are replaced).
    public var data: [UInt8]

    public init(address: UInt16, isRead: Bool, data: [UInt8]) {
        self.address = address
        self.isRead = isRead
        self.data = data
    }
}

/// Something that runs combined I2C transactions: the host's `/dev/i2c-N` (`I2cDevFile`), or a
/// test double (AVPTestSupport's `FakeI2cAdapter`).
public protocol I2cTransfers: AnyObject {
    /// Runs `segments` as one transaction (repeated START between them, STOP after the last),
    /// filling the reads' `data`. All or nothing: a thrown error means the transaction failed
    /// somewhere (a target did not acknowledge, the bus is stuck) and no read data is valid.
    func transfer(_ segments: inout [I2cSegment]) throws(Errno)
}

/// A host I2C adapter's character device (`/dev/i2c-N`, Linux i2c-dev), driven with I2C_RDWR
/// (linux/i2c-dev.h): combined transactions of at most `maxSegments` messages of at most
/// `maxLength` bytes each, as the kernel's i2c-dev allows.
public final class I2cDevFile: I2cTransfers, @unchecked Sendable {
    /// I2C_RDWR_IOCTL_MAX_MSGS.
    public static let maxSegments = Int(AVP_I2C_MAX_MESSAGES)
    /// i2c-dev refuses longer messages (8192 bytes).
    public static let maxLength = 8192

    public let path: String
    private let descriptor: FileDescriptor

    /// Opens `path` read-write and checks, with I2C_FUNCS, that its adapter takes plain I2C
    /// messages (I2C_FUNC_I2C); an SMBus-only adapter cannot serve I2C_RDWR.
    public init(path: String) throws(Errno) {
        self.path = path
        descriptor = try FileDescriptor.open(path, flags: O_RDWR)
        var functions: UInt64 = 0
        let r = avp_i2c_functions(descriptor.rawValue, &functions)
        guard r == 0 else { throw Errno(-r, call: "ioctl(I2C_FUNCS) on \(path)") }
        guard functions & UInt64(AVP_I2C_FUNC_I2C) != 0 else {
            throw Errno(EOPNOTSUPP, call: "\(path): the adapter has no plain I2C transfers (I2C_FUNC_I2C)")
        }
    }

    public func transfer(_ segments: inout [I2cSegment]) throws(Errno) {
        guard !segments.isEmpty, segments.count <= Self.maxSegments,
              segments.allSatisfy({ $0.data.count <= Self.maxLength && $0.address < 0x80 }) else {
            throw Errno(EINVAL, call: "I2C_RDWR")
        }
        let count = segments.count
        var addresses = segments.map(\.address)
        var flags = segments.map { $0.isRead ? UInt16(AVP_I2C_READ) : 0 }
        var lengths = segments.map { UInt16($0.data.count) }
        // One buffer for every message's bytes, handed to the kernel as pointers into it.
        var storage = segments.flatMap(\.data)
        let r: Int32 = storage.withUnsafeMutableBufferPointer { all in
            var pointers: [UnsafeMutablePointer<UInt8>?] = []
            var offset = 0
            for length in lengths {
                pointers.append(length == 0 ? nil : all.baseAddress.map { $0 + offset })
                offset += Int(length)
            }
            return pointers.withUnsafeBufferPointer { p in
                avp_i2c_rdwr(descriptor.rawValue, &addresses, &flags, &lengths, p.baseAddress, UInt32(count))
            }
        }
        guard r >= 0 else { throw Errno(-r, call: "ioctl(I2C_RDWR) on \(path)") }
        guard Int(r) == count else { throw Errno(EIO, call: "ioctl(I2C_RDWR) on \(path): \(r) of \(count) messages") }
        var offset = 0
        for i in segments.indices {
            let length = segments[i].data.count
            if segments[i].isRead { segments[i].data = Array(storage[offset..<offset + length]) }
            offset += length
        }
    }
}
