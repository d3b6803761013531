import GuestMemory
import SystemCalls

/// Guest RAM this process creates itself and can share over a Unix socket, the
/// way QEMU's `memory-backend-memfd,share=on` does: used by the Swift vhost-user
/// front end (tests, benchmarks, conformance probes).
public struct SharedMemoryRegion: Sendable {
    public let region: MappedRegion
    /// The memfd behind the region, sent to back ends with SET_MEM_TABLE / ADD_MEM_REG.
    public let file: FileDescriptor

    /// A zero-filled memfd region of `size` bytes at `guestAddress`. Its front-end
    /// address is `guestAddress + frontendBias`: any value works, since a back end only
    /// uses it to translate ring addresses; a bias makes address-space mix-ups show.
    /// `sealable`: a memfd that accepts seals (MFD_ALLOW_SEALING), like QEMU's; a back end seals
    /// it against shrinking when it maps it.
    public init(guestAddress: GuestAddress, size: UInt64, frontendBias: UInt64 = 0x7f00_0000_0000, sealable: Bool = false) throws {
        file = try MemFD.create(name: "avp-guest-ram", size: Int(size), sealable: sealable)
        let descriptor = MemoryRegionDescriptor(
            guestAddress: guestAddress, size: size,
            frontendAddress: FrontendAddress(guestAddress.raw &+ frontendBias), mmapOffset: 0)
        region = try MappedRegion(descriptor: descriptor, file: file, sealAgainstShrinking: false)
    }

    public var descriptor: MemoryRegionDescriptor { region.descriptor }
}
