import Synchronization

/// A 24C02-style serial EEPROM (2 Kbit: 256 bytes, 8-byte pages), as Microchip's and Atmel's
/// data sheets describe it and Linux's at24 driver (`24c02`) uses it:
/// - a write's first byte sets the word address; the bytes after it are written from there,
///   the address's low 3 bits wrapping within the 8-byte page (a longer write overwrites the
///   page's first bytes, as the chip's page buffer does);
/// - a read starts at the current address and continues sequentially, wrapping from 0xFF to 0;
///   a write of the address alone followed by a read is the "random read";
/// - every access leaves the address after the last byte.
/// A write of data is stored in the `EepromFile`, when there is one, before it is acknowledged:
/// it survives the server, the VM and the host restarting. A write the file cannot take is not
/// acknowledged (and the memory keeps the file's content).
public final class Eeprom24C02: I2cEmulatedTarget, @unchecked Sendable {
    public static let size = 256
    public static let pageSize = 8

    private struct State {
        var bytes: [UInt8]
        var pointer: UInt8 = 0
    }
    private let state: Mutex<State>
    public let file: EepromFile?

    /// An EEPROM with the contents of `file` (created erased, all 0xFF, when missing), or only
    /// in memory (erased) without one.
    public init(file: EepromFile?) throws(EepromFileError) {
        self.file = file
        state = Mutex(State(bytes: try file?.load() ?? [UInt8](repeating: 0xFF, count: Self.size)))
    }

    /// The contents now (the host's view; tests).
    public var contents: [UInt8] { state.withLock { $0.bytes } }

    public func write(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first else { return true }
        return state.withLock { s in
            var next = s.bytes
            var pointer = first
            for byte in bytes.dropFirst() {
                next[Int(pointer)] = byte
                pointer = pointer & ~UInt8(Self.pageSize - 1) | (pointer &+ 1) & UInt8(Self.pageSize - 1)
            }
            if bytes.count > 1, next != s.bytes {
                if let file {
                    do { try file.store(next) } catch { return false }
                }
                s.bytes = next
            }
            s.pointer = pointer
            return true
        }
    }

    public func read(count: Int) -> [UInt8]? {
        state.withLock { s in
            var out: [UInt8] = []
            out.reserveCapacity(count)
            for _ in 0..<count {
                out.append(s.bytes[Int(s.pointer)])
                s.pointer &+= 1
            }
            return out
        }
    }
}
