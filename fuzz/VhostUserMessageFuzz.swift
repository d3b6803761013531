// libFuzzer target: a hostile vhost-user front end. The input is a stream of
// messages (control byte, 12-byte header, payload) fed to the message decoder and
// to a back-end state machine serving the entropy device. The control byte chooses
// the descriptors that travel with each message — including the ones that once took
// a server down: a memfd the front end shrinks under the back end's mapping (SIGBUS),
// and blocking eventfds or pipes as kick/call descriptors (a read that never returns).
//
// Control byte: bits 0-1 number of descriptors; bits 2-3 their kind (0 eventfd,
// 1 memfd of 64 KiB, 2 blocking eventfd, 3 pipe read end); bit 4 shrinks every memfd
// sent so far to 0 bytes before the message; bit 5 makes new memfds sealable.
// Seeds: fuzz/seeds/message (fuzz/seeds/make-message-seeds).
// The raw input also goes, as one byte stream, through the server's framing parser
// (VhostUserMessageReader). Build and run: fuzz/run message
import CAVPShim
import Devices
import Glibc
import GuestMemory
import Logging
import SystemCalls
import VhostUser
import Virtio

private let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }

/// Descriptors of one kind for one message; keeps what must outlive it (pipe write ends, memfds).
private struct DescriptorFactory {
    var memfds: [FileDescriptor] = []
    var keep: [FileDescriptor] = []

    mutating func make(kind: UInt8, sealable: Bool) -> FileDescriptor? {
        switch kind {
        case 0:
            return try? EventFD().descriptor
        case 1:
            guard let fd = try? MemFD.create(name: "fuzz", size: 1 << 16, sealable: sealable) else { return nil }
            memfds.append(fd)
            return fd
        case 2:
            let raw = eventfd(0, Int32(EFD_CLOEXEC))
            return raw >= 0 ? FileDescriptor(adopting: raw) : nil
        default:
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { return nil }
            keep.append(FileDescriptor(adopting: ends[1]))
            return FileDescriptor(adopting: ends[0])
        }
    }

    func shrinkMemfds() {
        for fd in memfds { _ = ftruncate(fd.rawValue, 0) }
    }
}

/// The framing parser the server reads sockets with: the same bytes, as a stream that ends.
private func readFraming(_ bytes: [UInt8]) {
    guard let (near, far) = try? UnixSocket.pair(), (try? near.descriptor.setNonBlocking()) != nil else { return }
    if !bytes.isEmpty { try? far.send(bytes) }
    far.shutdown()
    var reader = VhostUserMessageReader()
    for _ in 0..<1024 {
        guard let outcome = try? reader.next(from: near) else { return }
        if case .message = outcome { continue }
        return
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    readFraming(bytes)
    let backend = VhostUserBackend(device: EntropyDevice(logger: logger), logger: logger)
    var factory = DescriptorFactory()
    var offset = 0
    while offset + VhostUserHeader.size + 1 <= bytes.count {
        let control = bytes[offset]
        offset += 1
        let headerBytes = Array(bytes[offset..<offset + VhostUserHeader.size])
        offset += VhostUserHeader.size
        guard let header = try? VhostUserHeader(bytes: headerBytes) else { break }
        let length = min(Int(header.size), bytes.count - offset)
        let payload = Array(bytes[offset..<offset + length])
        offset += length
        if control & 0x10 != 0 { factory.shrinkMemfds() }
        var fds: [FileDescriptor] = []
        for _ in 0..<Int(control & 3) {
            if let fd = factory.make(kind: (control >> 2) & 3, sealable: control & 0x20 != 0) { fds.append(fd) }
        }
        var h = header
        h.size = UInt32(payload.count)
        let message = VhostUserMessage(header: h, payload: payload, descriptors: fds)
        _ = try? VhostUserCommand.decode(message)
        do { _ = try backend.handle(message) } catch { break }
        // What the server does after every event: stop on a memory fault, serve kicks.
        if backend.checkMemoryFault() != nil { break }
        for (queue, _) in backend.activeKicks { backend.kick(queue: queue) }
        if backend.checkMemoryFault() != nil { break }
    }
    backend.disconnect()
    return 0
}
