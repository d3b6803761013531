// libFuzzer target: the DTB reader (Sources/Platform/DeviceTree/FlattenedDeviceTreeReader.swift,
// compiled into this target with the tree and its writer: the Platform module is not among the
// fuzz objects). It reads trees QEMU dumps and trees AVP wrote, and a test reads back what a
// guest shows; any blob must decode or be refused with a DeviceTreeReadError, never trap, and
// what decodes must survive a write and a second read unchanged.
// Build and run: fuzz/run dtb
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let blob = Array(UnsafeBufferPointer(start: data, count: size))
    guard let tree = try? FlattenedDeviceTreeReader.decode(blob) else { return 0 }
    precondition(tree.allNodes().count <= size, "more nodes than bytes")
    let again = try? FlattenedDeviceTreeReader.decode(FlattenedDeviceTree.encode(tree))
    precondition(again == tree, "a decoded tree changed through encode and decode")
    return 0
}
