import GuestMemory
import SystemCalls
import VhostUser
import Virtio

/// The inflight-tracking area a back end handed out with GET_INFLIGHT_FD, as the front end keeps
/// it (QEMU's `struct vhost_inflight`): the descriptor to hand back with SET_INFLIGHT_FD after a
/// reconnect, and a mapping of its own to look at (or, in tests, to tamper with) the regions.
public final class InflightMemory: @unchecked Sendable {
    public let description: InflightDescription
    public let file: FileDescriptor
    public let memory: GuestMemory

    public init(description: InflightDescription, file: FileDescriptor) throws {
        self.description = description
        self.file = file
        let descriptor = MemoryRegionDescriptor(guestAddress: GuestAddress(0), size: description.mmapSize,
                                                frontendAddress: FrontendAddress(0), mmapOffset: description.mmapOffset)
        memory = try GuestMemory(regions: [try MappedRegion(descriptor: descriptor, file: file, sealAgainstShrinking: false)])
    }

    /// Queue `index`'s region, laid out as the back end lays it out (`InflightDescription.layout`).
    public func queueRegion(_ index: Int) throws -> InflightQueueRegion {
        guard let (stride, entries) = description.layout(maxQueueSize: 32768) else {
            throw VhostUserError.refused("inflight area of \(description.mmapSize) bytes cannot hold its queues")
        }
        return try InflightQueueRegion(memory: try memory.slice(at: GuestAddress(UInt64(index * stride)), count: stride),
                                       descriptorCount: entries)
    }
}
