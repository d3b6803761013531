// libFuzzer target: the QMP messages AVP's supervisor reads from QEMU's monitor socket for the
// watchdog ({AVPS-v2.0-35}; Sources/Platform/Launch/QmpMessage.swift, compiled into this target
// on its own: the Platform module is not among the fuzz objects). The bytes are fed to a
// QmpLineReader in chunks whose sizes the first byte chooses; every line must parse or be
// refused with a QmpError, never trap, and no kept string may exceed its bound.
// Build and run: fuzz/run qmp
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let chunk = Int(data[0]) + 1
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    var reader = QmpLineReader()
    var results: [Result<QmpMessage, QmpError>] = []
    var start = 0
    while start < bytes.count {
        let end = min(bytes.count, start + chunk)
        results += reader.feed(bytes[start..<end])
        start = end
    }
    // Whole-buffer parsing agrees with the chunked reader on every complete line.
    var whole = QmpLineReader()
    precondition(whole.feed(bytes) == results, "chunking changed what was read")
    for case let .success(message) in results {
        switch message {
        case let .event(name, data):
            precondition(!name.isEmpty && name.utf8.count <= QmpMessage.maxString)
            precondition(data.allSatisfy { $0.key.utf8.count <= QmpMessage.maxString && $0.value.utf8.count <= QmpMessage.maxString })
        case let .failure(id, errorClass, description):
            precondition((id?.utf8.count ?? 0) <= QmpMessage.maxString && errorClass.utf8.count <= QmpMessage.maxString
                && description.utf8.count <= QmpMessage.maxString)
        case .greeting, .success:
            break
        }
    }
    return 0
}
