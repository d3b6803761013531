#if canImport(Glibc)
import Glibc
#endif
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

    /// Maps `descriptor.size` bytes of `file` starting at `descriptor.mmapOffset`, shared and read-write.
    /// The file descriptor is not kept: the mapping holds the memory.
    public init(descriptor: MemoryRegionDescriptor, file: FileDescriptor) throws(GuestMemoryError) {
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
        mapping = p
        mappingLength = length
        base = p + Int(descriptor.mmapOffset)
        self.descriptor = descriptor
    }

    deinit { munmap(mapping, mappingLength) }

    public var guestAddress: GuestAddress { descriptor.guestAddress }
    public var size: UInt64 { descriptor.size }
}
