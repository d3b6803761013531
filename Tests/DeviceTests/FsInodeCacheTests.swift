@testable import Devices
import Foundation
import SystemCalls
import Testing

/// More files than open descriptors: the store closes the descriptors of the nodes used longest
/// ago and reopens them from file handles, so a guest may know more files than the server's
/// RLIMIT_NOFILE — and a reopened node is still the same file, wherever it moved, or ESTALE.
@Suite struct FsInodeCache {
    let share: String

    init() throws {
        share = temporaryShare("cache")
        try FileManager.default.createDirectory(atPath: share + "/d", withIntermediateDirectories: true)
        for i in 0..<200 { try "file \(i)".write(toFile: share + "/d/f\(i)", atomically: false, encoding: .utf8) }
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: share) }


    func contents(_ store: PassthroughStore, _ node: UInt64) throws -> String {
        let handle = try store.open(node, flags: UInt32(O_RDONLY))
        defer { store.release(handle) }
        return String(decoding: try store.read(handle, offset: 0, size: 100), as: UTF8.self)
    }

    @Test("200 files known with 16 descriptors: each reads back as itself, reopened by handle; the open count stays bounded")
    func moreFilesThanDescriptors() throws {
        defer { cleanUp() }
        let store = try PassthroughStore(sharedDirectory: share, readOnly: false, maxOpenNodes: 16)
        let d = try store.lookup(1, Array("d".utf8))
        let nodes = try (0..<200).map { try store.lookup(d.node, Array("f\($0)".utf8)).node }
        #expect(store.nodeCount == 202)
        #expect(store.openNodeCount <= 16)
        for (i, node) in nodes.enumerated() {
            #expect(try contents(store, node) == "file \(i)")
            #expect(store.openNodeCount <= 16)
        }
        #expect(store.nodeReopens >= 150, "most nodes had to be reopened: \(store.nodeReopens)")
        for node in nodes { store.forget(node, count: 1) }
        #expect(store.nodeCount == 2)
    }

    @Test("a closed node follows its file through a rename on the host; once the file is deleted it is ESTALE, not another file")
    func renamedAndDeleted() throws {
        defer { cleanUp() }
        let store = try PassthroughStore(sharedDirectory: share, readOnly: false, maxOpenNodes: 16)
        let d = try store.lookup(1, Array("d".utf8))
        let first = try store.lookup(d.node, Array("f0".utf8)).node
        let second = try store.lookup(d.node, Array("f1".utf8)).node
        for i in 2..<60 { _ = try store.attributes(try store.lookup(d.node, Array("f\(i)".utf8)).node) }
        try FileManager.default.moveItem(atPath: share + "/d/f0", toPath: share + "/moved")
        try FileManager.default.removeItem(atPath: share + "/d/f1")
        try "new".write(toFile: share + "/d/f1", atomically: false, encoding: .utf8)
        let reopensBefore = store.nodeReopens
        #expect(try contents(store, first) == "file 0")
        #expect(errnoCode { _ = try store.attributes(second) } == ESTALE, "the name now holds another file")
        #expect(store.nodeReopens == reopensBefore + 1, "the first was reopened from its handle")
    }
}
