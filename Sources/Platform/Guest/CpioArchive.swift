/// A "newc" cpio archive (the initramfs format, Linux Documentation/driver-api/early-userspace/buffer-format.rst),
/// built in memory. Tests append one to the base initramfs to add their script:
/// Linux unpacks concatenated archives in order.
public struct CpioArchive: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var inode: UInt32 = 1
    private var directories: Set<String> = []

    public init() {}

    /// Adds a directory and any missing parents (paths are relative to the root: "usr/lib").
    public mutating func addDirectory(_ path: String, mode: UInt32 = 0o755) {
        let trimmed = path.split(separator: "/").map(String.init)
        for depth in 1...max(1, trimmed.count) where !trimmed.isEmpty {
            let dir = trimmed.prefix(depth).joined(separator: "/")
            if directories.insert(dir).inserted { append(dir, mode: 0o040000 | mode, data: []) }
        }
    }

    /// Adds a regular file, creating missing parent directories.
    public mutating func addFile(_ path: String, contents: [UInt8], mode: UInt32 = 0o644) {
        let parts = path.split(separator: "/").map(String.init)
        if parts.count > 1 { addDirectory(parts.dropLast().joined(separator: "/")) }
        append(parts.joined(separator: "/"), mode: 0o100000 | mode, data: contents)
    }

    public mutating func addFile(_ path: String, text: String, mode: UInt32 = 0o644) {
        addFile(path, contents: Array(text.utf8), mode: mode)
    }

    /// The archive with its TRAILER!!! entry.
    public func archive() -> [UInt8] {
        var copy = self
        copy.append("TRAILER!!!", mode: 0, data: [], isTrailer: true)
        return copy.bytes
    }

    private mutating func append(_ name: String, mode: UInt32, data: [UInt8], isTrailer: Bool = false) {
        let nameBytes = Array(name.utf8) + [0]
        let fields: [UInt32] = [
            isTrailer ? 0 : inode, mode, 0, 0, 1, 0, UInt32(data.count),
            0, 0, 0, 0, UInt32(nameBytes.count), 0,
        ]
        if !isTrailer { inode += 1 }
        var header = "070701"
        for f in fields {
            let hex = String(f, radix: 16, uppercase: true)
            header += String(repeating: "0", count: 8 - hex.count) + hex
        }
        bytes += Array(header.utf8)
        bytes += nameBytes
        pad()
        bytes += data
        pad()
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
}
