// libFuzzer target: the parsers of host input no other target reaches. The first byte chooses:
//   0 a WAV file (the sound server's file source and recordings: WAVHeader.parse, whose format
//     must survive its own header);
//   1 the GPU display socket's byte stream from QEMU (VhostUserGpuMessageDecoder, fed in pieces:
//     headers of any size announced, payloads kept only up to the limit);
//   2 virtio-fs owner maps (IdRange/IdMap: `guest:host:count` entries; a mapped id maps back);
//   3 MAC addresses (the switch's port policies; what parses prints back to itself);
//   4 JSON lines of the control sockets (JSONLine.decode, bounded line length);
//   5 platform-file scalars: memory sizes and whole numbers (ServerCommands), GUIDs (Platform, compiled in):
//     what reads as a value reads the same from its own printed form; and UserText, which
//     quotes a file's text in messages: no control character, bidirectional override or
//     newline gets through, and the quote stays short.
// Build and run: fuzz/run host
import Devices
import ServerCommands
import Foundation

private struct ControlLine: Decodable {
    var command: String
    var vm: String?
    var value: Double?
    var values: [Int]?
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let text = String(decoding: bytes, as: UTF8.self)
    switch data[0] % 6 {
    case 0: checkWAV(bytes)
    case 1: checkDisplayStream(bytes, split: Int(data[0] >> 3))
    case 2: checkIdMap(text)
    case 3:
        if let mac = MACAddress(text) { precondition(MACAddress(mac.description) == mac, "a MAC address reads back") }
    case 4:
        if JSONLine.decode(ControlLine.self, from: bytes, maxLine: 1024) != nil { precondition(bytes.count <= 1024, "a line over the limit decoded") }
    default: checkScalars(text)
    }
    return 0
}

private func checkWAV(_ bytes: [UInt8]) {
    guard let (format, samples) = try? WAVHeader.parse(bytes) else { return }
    precondition(samples.count <= bytes.count && samples.endIndex <= bytes.count, "samples inside the file")
    let header = WAVHeader(format: format, dataBytes: UInt32(samples.count))
    guard let again = try? WAVHeader.parse(header.bytes) else { preconditionFailure("a header AVP writes reads back") }
    precondition(again.format == format, "the format survives its own header")
}

private func checkDisplayStream(_ bytes: [UInt8], split: Int) {
    let limit = split & 1 == 0 ? 0 : 64
    var decoder = VhostUserGpuMessageDecoder(keepingPayloadsUpTo: limit)
    let piece = max(1, split * 3 + 1)
    var start = 0
    var messages = 0
    while start < bytes.count {
        let end = min(bytes.count, start + piece)
        decoder.feed(bytes[start..<end]) { message in
            precondition(message.payload.count <= limit, "a payload over the limit was kept")
            precondition(message.payload.isEmpty || message.payload.count == Int(message.header.size), "a kept payload is whole")
            messages += 1
        }
        start = end
    }
    precondition(messages <= bytes.count / VhostUserGpuMessage.headerSize, "no message without its header")
}

private func checkIdMap(_ text: String) {
    let entries = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard let map = try? IdMap(parsing: Array(entries.prefix(8))) else { return }
    for id: UInt32 in [0, 1, 1000, 65534, 65535, UInt32.max] {
        if let host = map.host(forGuest: id) { precondition(map.guest(forHost: host) == id, "a mapped id maps back") }
    }
}

private func checkScalars(_ text: String) {
    if case let .mebibytes(n) = MemorySize.read(text) {
        precondition(n >= 0 && MemorySize.read(String(n)) == .mebibytes(n), "a size reads back as MiB")
    }
    if case let .value(n) = WholeNumber.read(text) {
        precondition(WholeNumber.read(String(n)) == .value(n), "a number reads back")
    }
    let quoted = UserText.quoted(text)
    precondition(!quoted.unicodeScalars.contains(where: UserText.isUnprintable), "unprintable characters escaped")
    precondition(quoted.unicodeScalars.count <= UserText.displayLimit * 10 + 3, "a quote stays short")
    if let guid = Guid(text) {
        precondition(guid.bytes.count == 16 && Guid(guid.description)?.bytes == guid.bytes, "a GUID reads back")
    }
}
