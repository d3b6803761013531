import Foundation
@testable import Platform
import SystemCalls
import Testing

/// What pass-through ({AVPS-v2.0-9}, {AVPS-v2.0-33}) reads of the host: PCI addresses, sysfs
/// (a tree of the test's own), the `avp up` preconditions, and descriptors a child inherits.
@Suite struct PassthroughHost {
    let s: Scratch
    /// A fake /sys and /dev under the scratch directory.
    let sys: String, dev: String
    init() throws {
        s = try Scratch()
        sys = s.directory + "/sys"
        dev = s.directory + "/dev"
        try FileManager.default.createDirectory(atPath: sys + "/bus/pci/devices", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: sys + "/class/net/eth1", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dev + "/vfio", withIntermediateDirectories: true)
    }

    /// A PCI function in the fake sysfs, bound to `driver` (nil: unbound), in IOMMU group 7.
    func addFunction(_ address: String, driver: String?) throws {
        let path = sys + "/bus/pci/devices/" + address
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        if let driver { try FileManager.default.createSymbolicLink(atPath: path + "/driver", withDestinationPath: "../../../bus/pci/drivers/" + driver) }
        try FileManager.default.createSymbolicLink(atPath: path + "/iommu_group", withDestinationPath: "../../../kernel/iommu_groups/7")
    }

    /// The diagnostics of resolving one usb-host device of q35 VM 'a' against the fake sysfs.
    func check(_ pci: String) -> [Diagnostic] {
        var rules = KindRules(report: DiagnosticReport(marks: [:]), platformName: "p", profile: .development, directory: s.directory, checkFiles: true)
        rules.host = HostPCI(root: sys)
        rules.machine = .q35
        rules.user = .vm("a", index: 0)
        rules.at = "vms[0].devices[0]"
        _ = UsbHostKind.resolve(DeviceOptions(["pci": .scalar(pci)]), rules: &rules)
        return rules.report.diagnostics
    }

    @Test("AVPS-v2.0-33 (partial: configuration only): PCI addresses are DDDD:BB:DD.F or BB:DD.F, normalised to lower case with the domain")
    func pciAddresses() {
        #expect(PCIAddress("00:14.0")?.description == "0000:00:14.0")
        #expect(PCIAddress("0000:3A:1F.7")?.description == "0000:3a:1f.7")
        let last = PCIAddress("ffff:ff:1f.7")
        #expect(last?.domain == 0xffff && last?.bus == 0xff && last?.device == 0x1f && last?.function == 7)
        for bad in ["", "00:14", "00:14.", "0:14.0", "000:00:14.0", "00000:00:14.0", "00:20.0", "00:14.8", "00:14.00", "zz:14.0",
                    "00:14.0:0", "0000:00:14.0 ", "+0:14.0", "0000:00:1٤.0", "00::14.0"] {
            #expect(PCIAddress(bad) == nil, "\(bad)")
        }
    }

    @Test("AVPS-v2.0-33 (partial: configuration only): avp check warns when sysfs has no such function or it is not bound to vfio-pci")
    func sysfsWarnings() throws {
        let missing = check("00:14.0")
        #expect(missing.map(\.severity) == [.warning])
        #expect(missing.first?.message == "PCI function 0000:00:14.0 (a USB host controller) does not exist on this host; avp up will refuse to start the VM on this host")

        try addFunction("0000:00:14.0", driver: "xhci_hcd")
        let bound = check("00:14.0")
        #expect(bound.map(\.severity) == [.warning])
        #expect(bound.first?.message.contains("is bound to xhci_hcd, not to vfio-pci") == true, "\(bound)")
        #expect(bound.first?.fix?.contains("driverctl set-override 0000:00:14.0 vfio-pci") == true)

        try addFunction("0000:00:15.0", driver: nil)
        #expect(check("00:15.0").first?.message.contains("is not bound to a driver, not to vfio-pci") == true)

        try addFunction("0000:00:16.0", driver: "vfio-pci")
        #expect(check("0000:00:16.0").isEmpty)
        #expect(HostPCI(root: sys).iommuGroup(PCIAddress("00:16.0")!) == "7")
    }

    @Test("AVPS-v2.0-9 (partial: configuration only): avp up refuses VFIO without /dev/vfio, an unbound function or a missing macvtap parent")
    func upPreconditions() throws {
        let p = try s.plan("""
            profile: development
            vms:
              - {name: a, kernel: vmlinuz, initrd: initrd, devices: [{type: net, host-device: 'vfio:03:00.0'}, {type: net, host-device: 'macvtap:eth1'}]}
            """, stateDirectory: s.directory + "/state")
        let host = HostPCI(root: sys)
        func problem() -> String? {
            do { try HostDevicePreconditions.verify(p, host: host, devices: dev); return nil } catch { return "\(error)" }
        }
        #expect(problem()?.contains("VM 'a' is given PCI function 0000:03:00.0 with VFIO, but \(dev)/vfio/vfio does not exist") == true, "\(problem() ?? "")")
        _ = FileManager.default.createFile(atPath: dev + "/vfio/vfio", contents: nil)
        #expect(problem()?.contains("but this host has no such function") == true, "\(problem() ?? "")")
        try addFunction("0000:03:00.0", driver: "ixgbe")
        #expect(problem()?.contains("but it is bound to ixgbe, not to vfio-pci") == true, "\(problem() ?? "")")
        try FileManager.default.removeItem(atPath: sys + "/bus/pci/devices/0000:03:00.0")
        try addFunction("0000:03:00.0", driver: "vfio-pci")
        #expect(problem()?.contains("its IOMMU group has no") == true, "\(problem() ?? "")")
        _ = FileManager.default.createFile(atPath: dev + "/vfio/7", contents: nil)
        #expect(problem() == nil)
        try FileManager.default.removeItem(atPath: sys + "/class/net/eth1")
        #expect(problem()?.contains("VM 'a' is given host interface eth1 (macvtap), which this host does not have") == true, "\(problem() ?? "")")
    }

    @Test("AVPS-v2.0-9 (partial: configuration only): a child gets an inherited descriptor at the number its -netdev tap,fd= names")
    func inheritedDescriptor() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        // As Macvtap.openTap leaves it: close-on-exec, above the targets.
        let source = fcntl(ends[0], F_DUPFD_CLOEXEC, 100)
        close(ends[0])
        defer { close(source) }
        _ = "through fd 3\n".withCString { write(ends[1], $0, strlen($0)) }
        close(ends[1])
        let log = s.directory + "/child.log"
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "cat <&3; cat <&4 || echo no fd 4"], logPath: log,
                                     inheriting: [(source: source, target: 3)])
        let deadline = Date().addingTimeInterval(10)
        while child.isRunning, Date() < deadline { usleep(10_000) }
        child.kill()
        let output = try String(contentsOfFile: log, encoding: .utf8)
        #expect(output.hasPrefix("through fd 3\n") && output.contains("no fd 4"), "\(output)")
    }
}
