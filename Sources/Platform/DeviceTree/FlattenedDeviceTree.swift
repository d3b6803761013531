/// The flattened device tree (DTB) encoding, version 17 (devicetree.org
/// specification v0.4 §5): header, empty memory reservation map, structure
/// block and strings block, all big-endian.
public enum FlattenedDeviceTree {
    static let magic: UInt32 = 0xd00d_feed
    static let beginNode: UInt32 = 1, endNode: UInt32 = 2, prop: UInt32 = 3, nop: UInt32 = 4, end: UInt32 = 9
    static let headerSize = 40

    /// The DTB of `root`, its labels resolved to phandles (`DeviceTreeNode.resolvingPhandles`).
    public static func encode(_ root: DeviceTreeNode, bootCPU: UInt32 = 0) -> [UInt8] {
        let root = root.resolvingPhandles()
        var structure: [UInt8] = []
        var strings: [UInt8] = []
        var offsets: [String: Int] = [:]

        func u32(_ v: UInt32, into b: inout [UInt8]) { for i in 0..<4 { b.append(UInt8(truncatingIfNeeded: v >> (24 - 8 * i))) } }
        func pad(_ b: inout [UInt8]) { while b.count % 4 != 0 { b.append(0) } }
        func nameOffset(_ name: String) -> Int {
            if let o = offsets[name] { return o }
            let o = strings.count
            strings += Array(name.utf8) + [0]
            offsets[name] = o
            return o
        }
        func emit(_ node: DeviceTreeNode) {
            u32(beginNode, into: &structure)
            structure += Array(node.name.utf8) + [0]
            pad(&structure)
            for (name, value) in node.properties {
                let data = value.encoded
                u32(prop, into: &structure)
                u32(UInt32(data.count), into: &structure)
                u32(UInt32(nameOffset(name)), into: &structure)
                structure += data
                pad(&structure)
            }
            node.children.forEach(emit)
            u32(endNode, into: &structure)
        }
        emit(root)
        u32(end, into: &structure)

        let reservationMap = [UInt8](repeating: 0, count: 16)   // one terminating (0, 0) entry
        let offReservation = headerSize
        let offStructure = offReservation + reservationMap.count
        let offStrings = offStructure + structure.count
        let total = offStrings + strings.count
        var out: [UInt8] = []
        for v in [magic, UInt32(total), UInt32(offStructure), UInt32(offStrings), UInt32(offReservation),
                  17, 16, bootCPU, UInt32(strings.count), UInt32(structure.count)] {
            u32(v, into: &out)
        }
        return out + reservationMap + structure + strings
    }
}
