// libFuzzer target: a hostile vhost-user front end. The input is a stream of
// messages (12-byte header + payload), each optionally carrying eventfds or a
// small memfd, fed to the message decoder and to a back-end state machine
// serving the entropy device.
// Build and run: fuzz/run message
import Devices
import GuestMemory
import Logging
import SystemCalls
import VhostUser
import Virtio

private let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let backend = VhostUserBackend(device: EntropyDevice(logger: logger), logger: logger)
    var offset = 0
    while offset + VhostUserHeader.size + 1 <= bytes.count {
        // One control byte per message: low 2 bits = number of descriptors, bit 2 = memfd instead of eventfd.
        let control = bytes[offset]
        offset += 1
        let headerBytes = Array(bytes[offset..<offset + VhostUserHeader.size])
        offset += VhostUserHeader.size
        guard let header = try? VhostUserHeader(bytes: headerBytes) else { return 0 }
        let length = min(Int(header.size), bytes.count - offset)
        let payload = Array(bytes[offset..<offset + length])
        offset += length
        var fds: [FileDescriptor] = []
        for _ in 0..<Int(control & 3) {
            if control & 4 != 0 {
                if let fd = try? MemFD.create(name: "fuzz", size: 1 << 16) { fds.append(fd) }
            } else if let e = try? EventFD() {
                fds.append(e.descriptor)
            }
        }
        var h = header
        h.size = UInt32(payload.count)
        let message = VhostUserMessage(header: h, payload: payload, descriptors: fds)
        _ = try? VhostUserCommand.decode(message)
        do { _ = try backend.handle(message) } catch { return 0 }
        for (queue, _) in backend.activeKicks { backend.kick(queue: queue) }
    }
    backend.disconnect()
    return 0
}
