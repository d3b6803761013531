/// What one VM's I2C adapter did, for the server's log.
public struct I2cStatistics: Sendable, Equatable {
    /// Requests answered VIRTIO_I2C_MSG_OK.
    public var succeeded = 0
    /// Requests answered VIRTIO_I2C_MSG_ERR: a target did not acknowledge, or a FAIL_NEXT predecessor failed.
    public var failed = 0
    /// Requests refused as malformed, too long or for an address not allowed (also counted in `failed` when answered).
    public var refused = 0
    /// Transactions carried out (groups of FAIL_NEXT-chained requests).
    public var transactions = 0

    public init() {}
}
