import Foundation

/// What this host's sysfs says about PCI functions and network interfaces: whether a
/// function exists, which driver it is bound to, its IOMMU group. `root` is `/sys`
/// (a test gives a directory of its own).
public struct HostPCI: Sendable {
    public var root: String

    public init(root: String = "/sys") { self.root = root }

    func devicePath(_ address: PCIAddress) -> String { "\(root)/bus/pci/devices/\(address)" }

    public func exists(_ address: PCIAddress) -> Bool { FileManager.default.fileExists(atPath: devicePath(address)) }

    /// The driver the function is bound to (`vfio-pci`, `xhci_hcd`, …), nil when unbound.
    public func driver(_ address: PCIAddress) -> String? { linkTarget(devicePath(address) + "/driver") }

    /// The function's IOMMU group number (`/dev/vfio/N`), nil without an IOMMU.
    public func iommuGroup(_ address: PCIAddress) -> String? { linkTarget(devicePath(address) + "/iommu_group") }

    /// Whether the host has a network interface of this name.
    public func hasInterface(_ name: String) -> Bool { FileManager.default.fileExists(atPath: "\(root)/class/net/\(name)") }

    /// The last path component of a symbolic link's target.
    private func linkTarget(_ path: String) -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) else { return nil }
        return target.split(separator: "/").last.map(String.init)
    }
}
