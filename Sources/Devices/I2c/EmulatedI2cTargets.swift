/// A target AVP emulates: it acknowledges (or not) each message of a transaction in turn, as a
/// chip on the bus would.
public protocol I2cEmulatedTarget: AnyObject, Sendable {
    /// A write message (`bytes` may be empty: SMBus Quick, i2cdetect's probe). False: not acknowledged.
    func write(_ bytes: [UInt8]) -> Bool
    /// A read message of `count` bytes (0: a zero-length probe). Nil: not acknowledged.
    func read(count: Int) -> [UInt8]?
}

/// The emulated targets of one VM, as one provider: each message goes to its address's target,
/// in order, until one is not acknowledged.
public final class EmulatedI2cTargets: I2cBusProvider, @unchecked Sendable {
    public let targets: [I2cAddress: any I2cEmulatedTarget]

    public init(_ targets: [I2cAddress: any I2cEmulatedTarget]) { self.targets = targets }

    public func transfer(_ messages: [I2cMessage]) -> [[UInt8]] {
        var results: [[UInt8]] = []
        for message in messages {
            guard let target = targets[message.address] else { break }
            switch message.operation {
            case let .read(count):
                guard let data = target.read(count: count), data.count == count else { return results }
                results.append(data)
            case let .write(bytes):
                guard target.write(bytes) else { return results }
                results.append([])
            }
        }
        return results
    }
}
