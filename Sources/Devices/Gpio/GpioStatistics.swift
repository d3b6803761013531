/// What a VM's GPIO device has done.
public struct GpioStatistics: Sendable, Equatable {
    public var requests = 0
    /// Requests answered VIRTIO_GPIO_STATUS_ERR.
    public var errors = 0
    /// Interrupts delivered (eventq buffers returned valid).
    public var interrupts = 0
}
