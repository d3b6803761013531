import GuestMemory

/// VHOST_USER_SET_VRING_ADDR's payload: ring locations in the front end's address space.
public struct VringAddress: Equatable, Sendable {
    public static let payloadSize = 40
    public var index: UInt32
    /// Bit 0: VHOST_VRING_F_LOG (dirty logging of the used ring); AVP does no logging.
    public var flags: UInt32
    public var descriptorTable: FrontendAddress
    public var usedRing: FrontendAddress
    public var availableRing: FrontendAddress
    public var log: UInt64

    public init(index: UInt32, flags: UInt32 = 0, descriptorTable: FrontendAddress, usedRing: FrontendAddress,
                availableRing: FrontendAddress, log: UInt64 = 0) {
        self.index = index
        self.flags = flags
        self.descriptorTable = descriptorTable
        self.usedRing = usedRing
        self.availableRing = availableRing
        self.log = log
    }
}
