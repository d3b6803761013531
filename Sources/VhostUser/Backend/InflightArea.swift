#if canImport(Glibc)
import Glibc
#endif
import GuestMemory
import SystemCalls
import Virtio

/// The inflight-tracking area of INFLIGHT_SHMFD (vhost-user.rst, "Inflight I/O tracking"):
/// one `InflightQueueRegion` per queue, back to back, in memory the front end keeps while the
/// back end restarts. The back end makes a fresh area for GET_INFLIGHT_FD (a sealed memfd) and
/// maps whatever SET_INFLIGHT_FD hands it; the latter is the front end's and may be anything,
/// so the description is checked against what this device can have, the mapping against the
/// file (`MappedRegion`: regions past the end refused, shrinking sealed or absorbed by the
/// SIGBUS guard), and the contents by the queue when it starts (`InflightQueueRegion.recover`).
final class InflightArea {
    let description: InflightDescription
    /// Bytes per queue, and entries per queue (`InflightDescription.layout`).
    let stride: Int
    let entries: Int
    private let region: MappedRegion
    private let memory: GuestMemory

    /// The furthest into its file an area may start (QEMU hands back offset 0, as given).
    static let maxOffset: UInt64 = 1 << 30

    /// Maps the area SET_INFLIGHT_FD describes, for a device of `maxQueues` queues of at most `maxQueueSize`.
    init(_ description: InflightDescription, file: FileDescriptor, maxQueues: Int, maxQueueSize: Int) throws(VhostUserError) {
        let least = try Self.check(description, maxQueues: maxQueues, maxQueueSize: maxQueueSize)
        guard let (stride, entries) = description.layout(maxQueueSize: maxQueueSize) else {
            throw .refused("inflight area of \(description.mmapSize) bytes; \(description.queueCount) queues of \(description.queueSize) need \(least)")
        }
        let needed = stride * Int(description.queueCount)
        guard description.mmapOffset <= Self.maxOffset else {
            throw .refused("inflight area at offset \(description.mmapOffset), beyond \(Self.maxOffset)")
        }
        // Only the bytes the queues use are mapped, however large the front end says the area is.
        let descriptor = MemoryRegionDescriptor(guestAddress: GuestAddress(0), size: UInt64(needed),
                                                frontendAddress: FrontendAddress(0), mmapOffset: description.mmapOffset)
        do {
            region = try MappedRegion(descriptor: descriptor, file: file)
            memory = try GuestMemory(regions: [region])
        } catch {
            throw .refused("inflight area: \(error)")
        }
        self.description = description
        self.stride = stride
        self.entries = entries
    }

    /// Bytes the queues of `description` take; throws for counts this device cannot have.
    static func check(_ description: InflightDescription, maxQueues: Int, maxQueueSize: Int) throws(VhostUserError) -> Int {
        let queues = Int(description.queueCount), size = Int(description.queueSize)
        guard queues >= 1, queues <= maxQueues else {
            throw .refused("inflight area for \(queues) queues; the device has \(maxQueues)")
        }
        guard size >= 1, size <= maxQueueSize else {
            throw .refused("inflight area for queues of \(size); the device takes 1...\(maxQueueSize)")
        }
        return queues * InflightQueueRegion.size(queueSize: size)
    }

    /// GET_INFLIGHT_FD: a zero-filled memfd for `wanted` queues, sealed so that neither end can
    /// resize it under the other's mapping, and its description (offset 0). Each queue gets room
    /// for the largest ring the device accepts (`InflightDescription.layout`).
    static func create(_ wanted: InflightDescription, maxQueues: Int, maxQueueSize: Int) throws(VhostUserError) -> (InflightDescription, FileDescriptor) {
        _ = try check(wanted, maxQueues: maxQueues, maxQueueSize: maxQueueSize)
        let size = Int(wanted.queueCount) * InflightQueueRegion.size(queueSize: maxQueueSize)
        let file: FileDescriptor
        do { file = try MemFD.create(name: "avp-inflight", size: size, sealable: true) } catch {
            throw .refused("inflight area: \(error)")
        }
        let F_ADD_SEALS: Int32 = 1033, F_SEAL_SEAL: Int32 = 1, F_SEAL_SHRINK: Int32 = 2, F_SEAL_GROW: Int32 = 4
        guard fcntl(file.rawValue, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0 else {
            throw .refused("inflight area: cannot seal its memfd: \(Errno(errno))")
        }
        return (InflightDescription(mmapSize: UInt64(size), mmapOffset: 0, queueCount: wanted.queueCount,
                                    queueSize: wanted.queueSize), file)
    }

    /// Queue `index`'s region, or nil for a queue the area does not cover.
    func queueRegion(_ index: Int) throws(QueueError) -> InflightQueueRegion? {
        guard index >= 0, index < Int(description.queueCount) else { return nil }
        let memory: GuestSlice
        do { memory = try self.memory.slice(at: GuestAddress(UInt64(index * stride)), count: stride) } catch {
            throw .ringUnmapped(part: "inflight region", error)
        }
        return try InflightQueueRegion(memory: memory, descriptorCount: entries)
    }

    /// A SIGBUS hit the area (the front end shrank an unsealable file behind it).
    var hasFaulted: Bool { region.hasFaulted }
}
