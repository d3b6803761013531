import SystemCalls

/// One stream between a guest port and a host process (a Unix socket), with the
/// credit accounting of VIRTIO 1.2 §5.10.6.3 for both directions.
final class HostConnection {
    struct Key: Hashable { var guestPort: UInt32; var hostPort: UInt32 }

    let key: Key
    let socket: UnixSocket
    /// The guest answered (host-initiated) or AVP answered (guest-initiated).
    var established: Bool
    /// The socket may have data (edge-triggered readiness, cleared on EAGAIN).
    var readable = false
    var hostClosed = false
    /// Bytes read from the socket, not yet given to the guest.
    var staged: [UInt8] = []
    /// Bytes from the guest, not yet written to the socket (bounded by our buffer allocation).
    var pending: [UInt8] = []
    var wantsWritable = false

    // Credit: the guest's receive buffer and what it consumed; what we sent it.
    var guestBufferAllocation: UInt32 = 0
    var guestForwardCount: UInt32 = 0
    var sentToGuest: UInt32 = 0
    // Our side: bytes from the guest consumed (written to the socket), and when we last said so.
    var forwardCount: UInt32 = 0
    var announcedForwardCount: UInt32 = 0

    init(key: Key, socket: UnixSocket, established: Bool) {
        self.key = key
        self.socket = socket
        self.established = established
    }

    /// Bytes the guest can still take.
    var guestCredit: Int { max(0, Int(guestBufferAllocation) - Int(sentToGuest &- guestForwardCount)) }
}
