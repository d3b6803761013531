// libFuzzer target: FUSE requests from a virtio-fs guest that controls every byte (VIRTIO 1.2 §5.11).
// The first input byte is the target's own: bit 0 set rewrites the header's `len` to the request's
// true length (so inputs reach the arguments without having to guess it), bit 1 parses with the
// 16-byte fuse_setxattr_in (FUSE_SETXATTR_EXT). The rest is one request for FuseRequest.parse, the
// single parser of the request queues: it must refuse or decode, never trap. A refusal must name a
// reason the bytes show; a decoded request is re-checked: the header reads back, names are
// non-empty without NUL (entry names without '/') and within NAME_MAX, write data lies inside the
// request's arguments, a batch of forgets fits. Decoded INITs go through FuseNegotiation, and
// decoded names through the READDIRPLUS packer, whose records stay 8-byte aligned within the limit.
//
// With bit 2 of the first byte set, the rest lays out a guest's RAM with a request queue (bit 3:
// the hiprio queue) and its chains (FuzzGuest), which one FsDevice executes on a small share of
// its own: whatever the descriptors claim about the readable request and the writable reply, it
// must answer or refuse, never trap or allocate beyond its bounds. The share lives in a fresh
// temporary directory, files are capped at 8 MiB (RLIMIT_FSIZE; SIGXFSZ ignored) and the share is
// emptied every 256 inputs, so a long run cannot fill the disk.
// Build and run: fuzz/run fs
@testable import Devices
import Foundation
import Virtio

private let share: String = {
    var limit = rlimit(rlim_cur: 8 << 20, rlim_max: 8 << 20)
    setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit)
    signal(SIGXFSZ, SIG_IGN)
    let path = NSTemporaryDirectory() + "avp-fuse-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()
nonisolated(unsafe) private var device: FsDevice?
nonisolated(unsafe) private var deviceInputs = 0

/// A share with a directory, a file and a symlink, and a device past INIT serving it.
private func freshDevice() -> FsDevice {
    try? FileManager.default.removeItem(atPath: share)
    try? FileManager.default.createDirectory(atPath: share + "/d", withIntermediateDirectories: true)
    try? "file".write(toFile: share + "/d/f", atomically: false, encoding: .utf8)
    try? FileManager.default.createSymbolicLink(atPath: share + "/l", withDestinationPath: "/etc/passwd")
    let d = FsDevice(store: try! PassthroughStore(sharedDirectory: share, readOnly: false, maxNodes: 64, maxHandles: 16), logger: FuzzGuest.logger)
    d.acknowledge(features: VirtioFeatures.transport.union(d.deviceFeatures))
    d.initialized = true
    return d
}

private func runDevice(_ data: UnsafePointer<UInt8>, _ size: Int) {
    deviceInputs += 1
    if device == nil || deviceInputs % 256 == 0 { device = freshDevice() }
    guard let device, let ring = FuzzGuest.queue(data + 1, size - 1, features: [.version1, .ringIndirectDescriptors]) else { return }
    let queue = DeviceQueue(index: data[0] & 8 != 0 ? 0 : 1, ring: ring, notifier: NullNotifier(), logger: FuzzGuest.logger)
    device.queueStarted(queue)
    device.process(queue)
    precondition(device.store.nodeCount <= 64 && device.store.handleCount <= 16)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    if data[0] & 4 != 0 {
        runDevice(data, size)
        return 0
    }
    var bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] & 1 != 0, bytes.count >= 4 {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: bytes.count).littleEndian) { bytes.replaceSubrange(0..<4, with: $0) }
    }
    let extended = data[0] & 2 != 0
    let header: FuseInHeader, request: FuseRequest
    do {
        (header, request) = try FuseRequest.parse(bytes, extendedSetxattr: extended)
    } catch {
        checkRefusal(error, bytes)
        return 0
    }
    // The header reads back, all but its last 2 bytes (padding, not kept).
    precondition(Int(header.length) == bytes.count && header.bytes.prefix(38) == bytes.prefix(38))
    let end = bytes.count - Int(header.extensionUnits) * 8
    precondition(end >= FuseInHeader.size)
    check(request, header: header, bytes: bytes, end: end)
    return 0
}

private func checkRefusal(_ error: FuseParseError, _ bytes: [UInt8]) {
    switch error {
    case let .shortHeader(got): precondition(got == bytes.count && got < FuseInHeader.size)
    case let .tooLarge(got): precondition(got == bytes.count && got > FuseRequest.maxRequestBytes)
    case let .lengthMismatch(header, actual): precondition(actual == bytes.count && Int(header) != actual && word(bytes, 0) == header)
    case let .extensionsTooLong(units, available): precondition(Int(units) * 8 > available)
    case let .bodyTooShort(opcode, needed, got): precondition(needed > got && opcode == word(bytes, 4))
    case let .nameNotTerminated(opcode), let .emptyName(opcode), let .nameContainsSlash(opcode), let .nameTooLong(opcode, _):
        precondition(opcode == word(bytes, 4))
    }
    precondition(!error.description.isEmpty)
}

private func check(_ request: FuseRequest, header: FuseInHeader, bytes: [UInt8], end: Int) {
    let arguments = end - FuseInHeader.size
    switch request {
    case let .lookup(name), let .unlink(name), let .rmdir(name), let .mknod(name, _, _, _), let .mkdir(name, _, _),
         let .link(_, name), let .create(name, _, _, _, _):
        entryName(name, arguments)
    case let .symlink(name, target):
        entryName(name, arguments)
        string(target, limit: FuseRequest.maxSymlinkTargetBytes)
        precondition(name.count + target.count + 2 <= arguments)
    case let .rename(_, oldName, newName, flags):
        entryName(oldName, arguments)
        entryName(newName, arguments)
        precondition(header.opcode == 45 || flags == 0)
    case let .setxattr(name, value, _):
        string(name, limit: FuseRequest.maxNameBytes)
        precondition(8 + name.count + 1 + value.count <= arguments && value.count == Int(word(bytes, 40)))
    case let .getxattr(name, _), let .removexattr(name):
        string(name, limit: FuseRequest.maxNameBytes)
    case let .write(_, _, data, _):
        // The data is the request's own bytes, after fuse_write_in, before any extension.
        precondition(data.startIndex == FuseInHeader.size + 40 && data.endIndex <= end && data.count == Int(word(bytes, 56)))
        precondition(data.elementsEqual(bytes[data.startIndex..<data.endIndex]))
        precondition(data.count <= FuseRequest.maxRequestBytes - FuseInHeader.size - 40)
    case let .batchForget(forgets):
        precondition(8 + forgets.count * 16 <= arguments && forgets.count == Int(word(bytes, 40)))
    case let .initialize(major, minor, _, flags):
        precondition(flags >> 32 == 0 || flags & (1 << 30) != 0, "flags2 without INIT_EXT")
        switch FuseNegotiation().negotiate(request) {
        case let .accepted(reply)?:
            precondition(major == 7 && reply.minor <= minor && reply.minor <= FuseNegotiation.newestMinor && reply.bytes.count == 64)
            precondition(reply.flags.subtracting(.initExtension).isSubset(of: FuseInitFlags(rawValue: flags)))
            precondition(!reply.flags.contains(.writebackCache) && !reply.flags.contains(.mapAlignment))
        case let .refused(errno)?: precondition(errno == 71 && (major < 7 || minor < FuseNegotiation.oldestMinor))
        case .proposeOlderMajor?: precondition(major > 7)
        case nil: preconditionFailure("an INIT not negotiated")
        }
    case let .unsupported(opcode):
        precondition(opcode == header.opcode)
    default:
        break
    }
}

/// A directory entry name: the parser's rules, and the packer takes it into an aligned record.
private func entryName(_ name: [UInt8], _ arguments: Int) {
    string(name, limit: FuseRequest.maxNameBytes)
    precondition(!name.contains(UInt8(ascii: "/")) && name.count < arguments)
    var packer = FuseDirectoryPacker(size: 4096, plus: name.count & 1 == 0)
    while packer.append(name: name, inode: 2, offset: UInt64(packer.count + 1), type: 8, entry: nil) {}
    precondition(packer.bytes.count <= 4096 && packer.bytes.count % 8 == 0
        && packer.bytes.count == packer.count * FuseDirectoryPacker.recordSize(nameLength: name.count, plus: packer.plus))
}

private func string(_ value: [UInt8], limit: Int) {
    precondition(!value.isEmpty && value.count <= limit && !value.contains(0))
}

private func word(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
}
