#if canImport(Glibc)
import Glibc
#endif
import CAVPShim
import SystemCalls

/// A guest RAM region mapped into this process. Immutable once created; the
/// mapping lives as long as any `GuestMemory` or `GuestSlice` refers to it, so a
/// memory-table change never pulls memory out from under a request in flight.
public final class MappedRegion: @unchecked Sendable {
    public let descriptor: MemoryRegionDescriptor
    /// First byte of the region in this process (mapping base + mmap offset).
    let base: UnsafeMutableRawPointer
    private let mapping: UnsafeMutableRawPointer
    private let mappingLength: Int
    /// This mapping's entry in the SIGBUS guard (guard.c).
    private let guardSlot: Int32
    /// The file can no longer shrink under the mapping (F_SEAL_SHRINK, present or added by us).
    public let isSealedAgainstShrinking: Bool

    /// Maps `descriptor.size` bytes of `file` starting at `descriptor.mmapOffset`, shared and read-write.
    /// The file descriptor is not kept: the mapping holds the memory.
    /// `sealAgainstShrinking` is for back ends mapping a front end's file; the front end that owns
    /// the file (the Swift test front end) maps its own without sealing it.
    public init(descriptor: MemoryRegionDescriptor, file: FileDescriptor, sealAgainstShrinking: Bool = true) throws(GuestMemoryError) {
        try descriptor.validate()
        // Touching a mapping past the end of its file raises SIGBUS: refuse regions larger than the file.
        var st = stat()
        if fstat(file.rawValue, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
           UInt64(st.st_size) < descriptor.mmapOffset + descriptor.size {
            throw .invalidRegion("offset \(descriptor.mmapOffset) + size \(descriptor.size) is past the end of a \(st.st_size)-byte file")
        }
        // Map from file offset 0 so an mmap offset that is not page-aligned still works.
        let length = Int(descriptor.mmapOffset + descriptor.size)
        let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, file.rawValue, 0)
        guard let p, p != MAP_FAILED else { throw .mapFailed(errno: errno) }
        // A front end may still shrink the file later: seal it where the file allows (QEMU's
        // memory-backend-memfd is sealed already), and let the guard absorb the SIGBUS where it does not.
        isSealedAgainstShrinking = sealAgainstShrinking && avp_seal_against_shrinking(file.rawValue) == 1
        let slot = avp_guard_register(p, length)
        guard slot >= 0 else {
            munmap(p, length)
            throw .invalidRegion("too many guest memory mappings in this process")
        }
        guardSlot = slot
        mapping = p
        mappingLength = length
        base = p + Int(descriptor.mmapOffset)
        self.descriptor = descriptor
    }

    deinit {
        avp_guard_unregister(guardSlot)
        munmap(mapping, mappingLength)
    }

    /// A SIGBUS hit this mapping (the front end shrank the file behind it): its pages now read
    /// as zero and writes to them go nowhere. The guest memory is lost to this process; the device
    /// using it must stop (VIRTIO 1.2 §2.1.2, DEVICE_NEEDS_RESET).
    public var hasFaulted: Bool { avp_guard_faulted(guardSlot) != 0 }

    /// Guest-memory faults absorbed in this process so far; compare with an earlier value to learn,
    /// cheaply, whether any mapping needs checking.
    public static var faultGeneration: UInt64 { avp_guard_generation() }

    public var guestAddress: GuestAddress { descriptor.guestAddress }
    public var size: UInt64 { descriptor.size }
}
