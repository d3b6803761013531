/// The host end (CID 2) of a VM's vsock device, as Firecracker's `VsockBackend`: the device
/// hands it the guest's stream packets addressed to CID 2 and asks it for packets to put in
/// the guest's receive buffers. How it reaches host processes is its own business; the
/// device sees only packets. `VsockUnixMuxer` is the one over Unix sockets.
///
/// Called on the device's one thread only.
public protocol VsockHostSide: AnyObject {
    /// Descriptors the device's event loop watches for the host side.
    var eventDescriptors: [Int32] { get }
    /// One of `eventDescriptors` became readable.
    func handleEvent(descriptor: Int32)
    /// A stream packet from the guest to CID 2 (its source CID already checked by the device).
    func receive(fromGuest packet: VsockPacket)
    /// Whether `nextPacketForGuest` has something; may read from a host stream to find out,
    /// so that a receive buffer is taken only when something goes into it.
    func hasPacketForGuest() -> Bool
    /// The next packet for the guest, its payload at most `maxPayload` bytes (the room in the
    /// receive buffer after the header), or nil.
    func nextPacketForGuest(maxPayload: Int) -> VsockPacket?
    /// The guest went away (device reset): every stream ends.
    func reset()
    /// Bytes from the guest held for host streams that have not taken them yet: at most the
    /// buffer allocation announced per connection (§5.10.6.3), whatever the guest sends.
    var heldForHost: Int { get }
}

extension VsockHostSide {
    public var heldForHost: Int { 0 }
}
