// libFuzzer target: virtio-crypto from a VMM and a guest that control every byte (VIRTIO 1.2 §5.9).
//   - first byte 0 mod 4: the bytes after it as a VHOST_USER_CREATE_CRYPTO_SESSION payload, cut or
//     padded to QEMU's 632 or 1072 bytes (bit 2 picks; bit 3 keeps the fuzzer's own size):
//     CipherSessionSetup.decode (a decoded key has a length its algorithm takes), then the device
//     answers it (same size; id -1 or a fresh one) and now and then closes a session;
//   - 1 mod 4: a 72-byte request header and chain lengths for CryptoRequest.plan against fixed
//     sessions (a plan stays inside the buffers, under the size bound, in whole blocks);
//   - 2 mod 4: the bytes lay out a guest's RAM with a data queue and its chains (FuzzGuest), which
//     the crypto device serves with its open sessions (ids 1 and up: CBC, CTR, XTS both ways);
//   - 3 mod 4: an oracle for CCrypto's scatter-gather walk: the bytes are cut into buffers at
//     positions they choose and enciphered; the result must equal the contiguous run.
// The device persists across inputs (sessions open, close and are reset now and then).
// Build and run: fuzz/run crypto
import Devices
import Glibc
import GuestMemory
import Logging
import Virtio

private let device = CryptoDevice(maxSessions: 16, logger: FuzzGuest.logger)
nonisolated(unsafe) private var inputs = 0   // libFuzzer calls the target on one thread

private func openStandardSessions() {
    let key = [UInt8](0..<64)
    for (algorithm, length) in [(CipherAlgorithm.aesCBC, 16), (.aesCTR, 32), (.aesXTS, 64)] {
        for direction in [CipherDirection.encrypt, .decrypt] {
            let payload = CryptoSessionPayload(algorithm: algorithm, direction: direction, key: Array(key[0..<length]))
            _ = device.createCryptoSession(payload.encode(.qemu10))
        }
    }
}

nonisolated(unsafe) private let engines: [CipherEngine] = [CipherAlgorithm.aesCBC, .aesCTR, .aesXTS].map { a in
    let key = [UInt8](repeating: 0x5A, count: a == .aesXTS ? 64 : 32).enumerated().map { UInt8($0.offset) ^ $0.element }
    return try! OpenSSLCipher(algorithm: a, direction: .encrypt, key: key.withUnsafeBytes { SecretBytes(copying: $0) })
}

private func sessionCase(_ data: UnsafePointer<UInt8>, _ size: Int) {
    var payload = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] & 8 == 0 {
        let target = data[0] & 4 == 0 ? CryptoSessionLayout.qemu72.size : CryptoSessionLayout.qemu10.size
        payload = Array(payload.prefix(target)) + [UInt8](repeating: 0, count: max(0, target - payload.count))
    }
    if let setup = try? CipherSessionSetup.decode(payload) {
        precondition(setup.algorithm.keyLengths.contains(setup.key.count) && setup.key.count <= 64)
        precondition(setup.layout.size == payload.count)
    }
    let before = device.openSessions
    let reply = device.createCryptoSession(payload)
    precondition(reply.count == payload.count, "the reply has the request's size")
    if let id = CryptoSessionLayout.sessionID(inReply: reply) {
        precondition(id == -1 || id > 0)
        precondition(device.openSessions == before + (id > 0 ? 1 : 0) && device.openSessions <= device.maxSessions)
    } else {
        precondition(reply.allSatisfy { $0 == 0xFF })
    }
    if data[0] & 0x30 == 0x30 { _ = device.closeCryptoSession(UInt64(data[0] >> 6) + UInt64(inputs % 24)) }
}

private func planCase(_ bytes: [UInt8]) {
    let padded = bytes + [UInt8](repeating: 0, count: max(0, 80 - bytes.count))
    guard let header = CryptoRequestHeader(bytes: padded) else { return }
    let readable = Int(padded.loadU32(72) >> UInt32(padded[79] & 31))
    let writable = Int(UInt32(padded[76]) | UInt32(padded[77]) << 8 | UInt32(padded[78]) << 16) << Int(padded[79] >> 5)
    let lookup: (UInt64) -> (algorithm: CipherAlgorithm, direction: CipherDirection)? = { id in
        guard id >= 1, id <= 6 else { return nil }
        return ([.aesCBC, .aesCTR, .aesXTS][Int(id - 1) / 2], id % 2 == 1 ? .encrypt : .decrypt)
    }
    do {
        let plan = try CryptoRequest.plan(header, readable: readable, writable: writable, lookup: lookup)
        let session = lookup(plan.sessionID)!
        precondition(readable >= CryptoRequestHeader.size + plan.ivLength + plan.length && writable >= plan.length + 1)
        precondition(plan.length <= CryptoRequest.maxDataLength && plan.length % session.algorithm.granule == 0)
        precondition(session.direction.opcode == header.opcode)
    } catch {
        _ = error.status
    }
}

private func oracleCase(_ data: UnsafePointer<UInt8>, _ size: Int) {
    let engine = engines[Int(data[0] >> 2) % 3]
    let granule = (data[0] >> 2) % 3 == 1 ? 1 : 16
    let cuts = Int(data[0] >> 4) + 1
    guard size > 1 + 16 + cuts else { return }
    let iv = Array(UnsafeBufferPointer(start: data + 1, count: 16))
    let positions = Array(UnsafeBufferPointer(start: data + 17, count: cuts))
    var input = Array(UnsafeBufferPointer(start: data + 17 + cuts, count: size - 17 - cuts))
    input.removeLast(input.count % granule)
    guard input.count >= 16 else { return }
    var sizes: [Int] = []
    var at = 0
    while at < input.count {
        sizes.append(min(input.count - at, Int(positions[sizes.count % positions.count]) % 40 + 1))
        at += sizes.last!
    }
    func vectors(_ base: UnsafeMutableRawPointer, _ sizes: [Int]) -> [iovec] {
        var offset = 0
        return sizes.map { n in
            defer { offset += n }
            return iovec(iov_base: base + offset, iov_len: n)
        }
    }
    // The destination is cut elsewhere than the source: the source's pieces in reverse order.
    func run(sourceSizes: [Int], destinationSizes: [Int]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: input.count)
        input.withUnsafeMutableBytes { s in
            output.withUnsafeMutableBytes { d in
                iv.withUnsafeBytes { v in
                    do {
                        try engine.run(iv: v, source: vectors(s.baseAddress!, sourceSizes),
                                       destination: vectors(d.baseAddress!, destinationSizes), length: s.count)
                    } catch { preconditionFailure("\(error)") }
                }
            }
        }
        return output
    }
    let whole = run(sourceSizes: [input.count], destinationSizes: [input.count])
    let scattered = run(sourceSizes: sizes, destinationSizes: sizes.reversed())
    precondition(whole == scattered, "a scattered run equals the contiguous one")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    if inputs == 0 { openStandardSessions() }
    switch data[0] & 3 {
    case 0:
        sessionCase(data, size)
    case 1:
        planCase(Array(UnsafeBufferPointer(start: data + 1, count: size - 1)))
    case 2:
        var features: VirtioFeatures = [.version1, .ringIndirectDescriptors]
        if data[0] & 4 != 0 { features.insert(.ringEventIndex) }
        guard let ring = FuzzGuest.queue(data + 1, size - 1, features: features) else { return 0 }
        device.process(DeviceQueue(index: 0, ring: ring, notifier: NullNotifier(), logger: FuzzGuest.logger))
    default:
        oracleCase(data, size)
    }
    inputs += 1
    if inputs % 256 == 0 {
        device.reset()
        precondition(device.openSessions == 0)
        openStandardSessions()
    }
    return 0
}

extension Array where Element == UInt8 {
    fileprivate func loadU32(_ at: Int) -> UInt32 {
        UInt32(self[at]) | UInt32(self[at + 1]) << 8 | UInt32(self[at + 2]) << 16 | UInt32(self[at + 3]) << 24
    }
}
