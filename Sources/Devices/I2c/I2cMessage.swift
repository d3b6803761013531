/// One message of an I2C transaction, as the device hands it to a provider: a request that
/// passed every check, with its write bytes copied out of the guest.
public struct I2cMessage: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        case read(count: Int)
        case write([UInt8])
    }

    public var address: I2cAddress
    public var operation: Operation

    public init(address: I2cAddress, operation: Operation) {
        self.address = address
        self.operation = operation
    }

    public static func read(_ address: I2cAddress, _ count: Int) -> I2cMessage { I2cMessage(address: address, operation: .read(count: count)) }
    public static func write(_ address: I2cAddress, _ bytes: [UInt8]) -> I2cMessage { I2cMessage(address: address, operation: .write(bytes)) }
}

/// Where a VM's messages to some of its addresses go: emulated targets (`EmulatedI2cTargets`) or
/// a host adapter (`HostI2cBus`). Called on the device's queue thread only.
public protocol I2cBusProvider: AnyObject {
    /// Carries out `messages` as one I2C transaction (a repeated START between them, a STOP after
    /// the last) and returns one entry per message that succeeded, in order: the bytes read (as
    /// many as asked), empty for a write. Fewer entries than messages: the next message failed
    /// (no acknowledge, a bus error) and the rest were not attempted.
    func transfer(_ messages: [I2cMessage]) -> [[UInt8]]
}
