import Synchronization
import SystemCalls

/// A host I2C adapter for tests of the pass-through (`HostI2cBus`) on hosts without
/// `/dev/i2c-N`: targets are byte arrays read and written at a register pointer (a write's
/// first byte), addresses without one fail the transaction with ENXIO, as i2c-dev does when a
/// target does not acknowledge. Records every transaction it was given.
public final class FakeI2cAdapter: I2cTransfers, @unchecked Sendable {
    private struct State {
        var registers: [UInt16: [UInt8]]
        var pointers: [UInt16: Int] = [:]
        var transactions: [[I2cSegment]] = []
    }
    private let state: Mutex<State>

    /// `targets`: each address's registers.
    public init(targets: [UInt16: [UInt8]]) { state = Mutex(State(registers: targets)) }

    /// Every transaction as it was given (reads with zeroed data).
    public var transactions: [[I2cSegment]] { state.withLock { $0.transactions } }

    public func registers(of address: UInt16) -> [UInt8]? { state.withLock { $0.registers[address] } }

    public func transfer(_ segments: inout [I2cSegment]) throws(Errno) {
        let given = segments
        let answer: [I2cSegment]? = state.withLock { s in
            s.transactions.append(given)
            var out = given
            for i in out.indices {
                let address = out[i].address
                guard var registers = s.registers[address], !registers.isEmpty else { return nil }
                var pointer = s.pointers[address] ?? 0
                if out[i].isRead {
                    for k in out[i].data.indices {
                        out[i].data[k] = registers[pointer % registers.count]
                        pointer += 1
                    }
                } else if let first = out[i].data.first {
                    pointer = Int(first)
                    for byte in out[i].data.dropFirst() {
                        registers[pointer % registers.count] = byte
                        pointer += 1
                    }
                    s.registers[address] = registers
                }
                s.pointers[address] = pointer
            }
            return out
        }
        guard let answer else { throw Errno(6 /* ENXIO */, call: "ioctl(I2C_RDWR)") }
        segments = answer
    }
}
