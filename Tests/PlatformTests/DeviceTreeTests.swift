import Foundation
import Platform
import Testing

@Suite struct DeviceTrees {
    @Test func flattenedTreeHasTheV17HeaderAndLayout() {
        let tree = DeviceTreeNode("", properties: [("compatible", .string("a")), ("#size-cells", .cells([2]))],
                                  children: [DeviceTreeNode("chosen", properties: [("bootargs", .string("quiet")), ("x", .empty)])])
        let dtb = FlattenedDeviceTree.encode(tree)
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 << 8 | UInt32(dtb[at + $1]) } }
        #expect(u32(0) == 0xd00d_feed)
        #expect(Int(u32(4)) == dtb.count)
        #expect(u32(20) == 17 && u32(24) == 16)
        let structure = Int(u32(8)), strings = Int(u32(12))
        #expect(u32(structure) == 1)                        // FDT_BEGIN_NODE for the root
        #expect(u32(strings - 4) == 9)                      // FDT_END closes the structure block
        #expect(Array(dtb[strings...]).split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                == ["compatible", "#size-cells", "bootargs", "x"])
    }

    /// dtc (device-tree-compiler) must read what AVP writes, and find the nodes a VM needs.
    @Test("AVPS-v2.0-3, AVPS-v2.0-42: dtc decompiles a VM's tree with memory, CPUs, devices and a kaslr-seed")
    func dtcReadsTheVMTree() throws {
        let s = try Scratch()
        let r = s.load("""
            profile: development
            vms:
              - {name: ivi, machine: microvm, cpus: 2, memory: 3G, kernel: vmlinuz, initrd: initrd, cmdline: quiet,
                 devices: [{type: entropy}, {type: block, image: disk.img}, {type: console}]}
            """)
        let platform = try #require(r.platform)
        let tree = try VirtualHardware.deviceTree(platform: platform, vm: platform.vms[0], plan: nil)
        let dtb = s.directory + "/ivi.dtb"
        try Data(FlattenedDeviceTree.encode(tree)).write(to: URL(fileURLWithPath: dtb))
        let dtc = Process()
        dtc.executableURL = URL(fileURLWithPath: "/usr/bin/dtc")
        dtc.arguments = ["-q", "-I", "dtb", "-O", "dts", dtb]
        let out = Pipe()
        dtc.standardOutput = out
        try dtc.run()
        let dts = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        dtc.waitUntilExit()
        #expect(dtc.terminationStatus == 0)
        for node in ["chosen {", "memory@0 {", "memory@100000000 {", "cpus {", "cpu@1 {", "virtio_mmio@feb00000 {",
                     "virtio_mmio@feb00200 {", "virtio_mmio@feb00400 {"] {
            #expect(dts.contains(node), "missing \(node) in\n\(dts)")
        }
        #expect(dts.contains("kaslr-seed = <0x"))
        #expect(dts.contains("rng-seed = [") || dts.contains("rng-seed = <"))
        #expect(dts.contains("bootargs = \"quiet\""))
        #expect(dts.contains("compatible = \"virtio,mmio\""))
        // A fresh seed every time.
        let again = try VirtualHardware.deviceTree(platform: platform, vm: platform.vms[0], plan: nil)
        #expect(again.child("chosen")?.property("kaslr-seed") != tree.child("chosen")?.property("kaslr-seed"))
        // Our own source rendering is accepted by dtc too.
        let dtsPath = s.directory + "/ivi.dts"
        try DeviceTreeSource.render(tree).write(toFile: dtsPath, atomically: true, encoding: .utf8)
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: "/usr/bin/dtc")
        compile.arguments = ["-q", "-I", "dts", "-O", "dtb", "-o", s.directory + "/again.dtb", dtsPath]
        try compile.run()
        compile.waitUntilExit()
        #expect(compile.terminationStatus == 0)
    }
}
