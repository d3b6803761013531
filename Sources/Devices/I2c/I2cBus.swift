/// One VM's I2C bus: its targets by address — the allow-list: an address without a target
/// answers every request VIRTIO_I2C_MSG_ERR, as an empty address on a real bus is not
/// acknowledged — and the providers behind them.
public final class I2cBus: @unchecked Sendable {
    private let providers: [I2cAddress: any I2cBusProvider]

    public init(_ providers: [I2cAddress: any I2cBusProvider]) { self.providers = providers }

    /// The addresses this VM may use, in order.
    public var addresses: [I2cAddress] { providers.keys.sorted() }

    public func allows(_ address: I2cAddress) -> Bool { providers[address] != nil }

    /// Runs one transaction: consecutive messages for the same provider go to it together (a
    /// host adapter's repeated START); a failure ends the transaction. Returns what
    /// `I2cBusProvider.transfer` does.
    public func transfer(_ messages: [I2cMessage]) -> [[UInt8]] {
        var results: [[UInt8]] = []
        var start = 0
        while start < messages.count {
            guard let provider = providers[messages[start].address] else { return results }
            var end = start + 1
            while end < messages.count, let next = providers[messages[end].address], next === provider { end += 1 }
            let run = Array(messages[start..<end])
            let done = provider.transfer(run)
            // Keep only well-formed answers: a read returns exactly its count.
            for (message, data) in zip(run, done) {
                switch message.operation {
                case let .read(count) where data.count != count: return results
                case .write where !data.isEmpty: return results
                default: results.append(data)
                }
            }
            guard done.count == run.count else { return results }
            start = end
        }
        return results
    }
}
