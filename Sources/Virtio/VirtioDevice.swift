import SystemCalls
import GuestMemory

/// What a device implements; the transport (vhost-user today) owns sockets,
/// eventfds and threads and calls these on the device's one worker thread.
public protocol VirtioDevice: AnyObject {
    var deviceType: VirtioDeviceType { get }
    /// Number of virtqueues.
    var queueCount: Int { get }
    /// Largest queue size the device accepts.
    var maxQueueSize: UInt16 { get }
    /// Device-specific feature bits offered (the transport adds `VirtioFeatures.transport`).
    var deviceFeatures: VirtioFeatures { get }

    /// Bytes of device configuration space (VIRTIO 1.2 §4.x.2); 0 for devices without one.
    var configSize: Int { get }
    /// `count` bytes of configuration space at `offset`, or nil if out of range.
    func readConfig(offset: Int, count: Int) -> [UInt8]?
    /// A driver write to configuration space; false if refused.
    func writeConfig(offset: Int, bytes: [UInt8]) -> Bool
    /// The driver accepted these features (a subset of what was offered).
    func acknowledge(features: VirtioFeatures)
    /// A queue was started (rings mapped, kick armed).
    func queueStarted(_ queue: DeviceQueue)
    /// The driver made buffers available on `queue`.
    func process(_ queue: DeviceQueue)
    /// The queue is being stopped: finish or drop in-flight work before returning.
    func queueStopped(index: Int)
    /// Back to the initial state (driver reset, or the front end went away).
    func reset()
    /// Descriptors of the device's own (I/O completion, sockets) that the transport's
    /// event loop watches for it.
    var eventDescriptors: [Int32] { get }
    /// Changes whenever `eventDescriptors` does (a descriptor number can be reused for a
    /// new socket, so the numbers alone do not show a change).
    var eventGeneration: Int { get }
    /// One of `eventDescriptors` became readable.
    func handleEvent(descriptor: Int32)
}

extension VirtioDevice {
    public var maxQueueSize: UInt16 { 1024 }
    public var configSize: Int { 0 }
    public func readConfig(offset: Int, count: Int) -> [UInt8]? { count == 0 && offset == 0 ? [] : nil }
    public func writeConfig(offset: Int, bytes: [UInt8]) -> Bool { false }
    public func acknowledge(features: VirtioFeatures) {}
    public func queueStarted(_ queue: DeviceQueue) {}
    public func queueStopped(index: Int) {}
    public func reset() {}
    public var eventDescriptors: [Int32] { [] }
    public var eventGeneration: Int { 0 }
    public func handleEvent(descriptor: Int32) {}
}

/// A device that also talks to its VMM over a socket of its own, beside the queues:
/// vhost-user-gpu, whose front end hands over a socket for scanouts and the cursor
/// (VHOST_USER_GPU_SET_SOCKET). The device keeps the socket behind a type of its own
/// folder (the host side), never writing to it from the queue path directly.
public protocol DisplaySocketDevice: VirtioDevice {
    /// The VMM's new display socket, sent at every DRIVER_OK; any previous one is over.
    func displaySocketAttached(_ socket: UnixSocket)
}
