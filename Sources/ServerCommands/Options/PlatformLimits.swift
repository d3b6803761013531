/// Every bound a platform file is checked against, in one place: the schema, the
/// loader and the rules read them from here, so the JSON Schema, the error messages
/// and the checks cannot disagree. Each bound is either a real limit of what AVP
/// starts (QEMU, the guest kernel, the virtio devices) or a size no vehicle platform
/// comes near, chosen so that a hostile or broken file is refused quickly and in
/// bounded memory instead of being processed for minutes.
public enum PlatformLimits {
    /// Bytes of a platform file, checked before anything parses it. A real file is a
    /// few KiB; 1 MiB leaves room for comments while keeping parsing well under a second.
    public static let fileBytes = 1 << 20

    /// Levels of nesting (mappings and lists inside each other). A platform file needs
    /// six; checked on libyaml's events before Yams composes (recursively) a tree.
    public static let nestingDepth = 32
    /// Nodes that aliases (`*name`) may repeat in all: enough to give 64 VMs the same
    /// device list, far too few for a "billion laughs" file to cost anything.
    public static let aliasedNodes = 1 << 16

    /// VMs of one platform: each is a QEMU process with its device servers.
    public static let vms = 64
    /// Shared device servers of one platform.
    public static let servers = 64
    /// Networks of one platform: each is an `avp serve switch` process.
    public static let networks = 64
    /// Devices of one VM: q35's root bus has about 30 free slots; sixteen is plenty and
    /// keeps the QEMU command line readable.
    public static let devicesPerVM = 16
    /// Devices of one microvm VM: QEMU's microvm machine has eight virtio-mmio transports.
    public static let devicesPerMicrovm = 8
    /// Displays of one platform, and layers of one display (a VM's GPU has 16 scanouts).
    public static let displays = 16
    public static let layersPerDisplay = 16
    /// Safety regions of one layer (each is checked on every composed frame).
    public static let safetyRegions = 16
    /// Audio roles and ducking rules of one platform.
    public static let audioRoles = 16
    public static let duckingRules = 64
    /// Extra source MACs of one interface (`allowed-macs`).
    public static let allowedMACs = 64
    /// vsock pairs: every pair of the largest platform.
    public static let vsockPairs = vms * (vms - 1) / 2

    /// Virtual CPUs of one VM. Without an IOMMU for interrupt remapping, x86 guests
    /// address CPUs by 8-bit xAPIC IDs, and ID 255 is the broadcast address.
    public static let cpus = 1...255
    /// Guest RAM in MiB: the Debian guest kernel needs 128 MiB to boot its initramfs; above
    /// 256 GiB, q35 places RAM beyond the 39 physical address bits common on hosts
    /// (RAM above the 2 GiB PCI hole is moved above 4 GiB).
    public static let memoryMiB = 128...(256 * 1024)
    /// Interface MTU: 68 is IPv4's minimum (RFC 791) and the virtio-net config field
    /// holding the MTU is 16 bits wide.
    public static let mtu = 68...65535
    /// Guest vsock CIDs: 0 (hypervisor), 1 (local) and 2 (host) are reserved, and Linux's
    /// vhost-vsock keeps CIDs to 32 bits with 0xFFFFFFFF meaning "any".
    public static let vsockCIDs = 3...0xFFFF_FFFE
    /// Request queues of a block device: what AVP's virtio-blk server accepts.
    public static let blockQueues = 1...64
    /// Open crypto sessions one VM may hold in `avp serve crypto` (each holds a key and a cipher context).
    public static let cryptoSessions = 1...4096
    /// Size of a block image AVP creates (`size:`), in MiB: 1 MiB up to 16 TiB, more than
    /// a vehicle's storage and within what ext4 and XFS hold as one sparse file.
    public static let imageMiB = 1...(16 << 20)

    /// Diagnostics reported for one file; a file with more has a bigger problem than
    /// any one of them, and printing thousands helps nobody.
    public static let diagnostics = 100
}
