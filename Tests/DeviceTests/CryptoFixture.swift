import AVPTestSupport
@testable import Devices
import Foundation
import GuestMemory
import Logging
import SystemCalls
import Testing
import VhostUser
import Virtio

/// One crypto device on its vhost-user server, driven by the Swift front end the way QEMU's
/// cryptodev-vhost-user and Linux's virtio-crypto skcipher driver do (VIRTIO 1.2 §5.9): sessions
/// through CREATE/CLOSE_CRYPTO_SESSION, requests on the data queue as a header, an IV and the
/// source in device-readable buffers, then the destination and the status byte device-writable.
final class CryptoFixture {
    let directory: String
    let device: CryptoDevice
    let server: VhostUserServer
    let driver: GuestDriver

    init(maxSessions: Int = CryptoDevice.defaultMaxSessions) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avp-crypto-\(try SystemRandom.uint64())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let logger = Logger(label: "test.crypto")
        device = CryptoDevice(maxSessions: maxSessions, logger: logger)
        server = try VhostUserServer(socketPath: "\(directory)/crypto.sock", device: device, logger: logger)
        try server.start()
        driver = try GuestDriver.start(socketPath: "\(directory)/crypto.sock", queueSizes: [64])
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var dataq: DriverQueue { driver.queues[0] }

    /// CREATE_CRYPTO_SESSION with `payload` as is; the reply's session id (checked: same size).
    func createSession(raw payload: [UInt8]) throws -> Int64 {
        let reply = try #require(try driver.frontend.send(.createCryptoSession(payload)))
        #expect(reply.payload.count == payload.count, "the reply has the size of the request")
        #expect(reply.header.request == VhostUserRequest.createCryptoSession.rawValue)
        if payload.count == CryptoSessionLayout.qemu72.size || payload.count == CryptoSessionLayout.qemu10.size {
            return try #require(CryptoSessionLayout.sessionID(inReply: reply.payload))
        }
        return reply.payload.allSatisfy { $0 == 0xFF } ? -1 : 0
    }

    func createSession(_ direction: CipherDirection, key: [UInt8], algorithm: CipherAlgorithm = .aesCBC,
                       layout: CryptoSessionLayout = .qemu10) throws -> Int64 {
        try createSession(raw: CryptoSessionPayload(algorithm: algorithm, direction: direction, key: key).encode(layout))
    }

    /// CLOSE_CRYPTO_SESSION with REPLY_ACK: whether the back end closed it.
    func closeSession(_ id: Int64) throws -> Bool {
        let reply = try #require(try driver.frontend.send(.closeCryptoSession(UInt64(bitPattern: id)), ack: true))
        return try driver.frontend.u64(reply) == 0
    }

    struct Result {
        var status: UInt8
        var used: UInt32
        var destination: [UInt8]
    }

    /// Sends one request and waits for it. `sourceSplit`/`destinationSplit` cut the source and the
    /// destination into descriptors of these sizes (the rest in a last one). The destination
    /// starts filled with 0xEE; `destinationRoom` defaults to `header.destinationLength`.
    func request(_ header: CryptoRequestHeader, iv: [UInt8], source: [UInt8], sourceSplit: [Int] = [],
                 destinationRoom: Int? = nil, destinationSplit: [Int] = [], statusByte: Bool = true,
                 headerBytes: Int = CryptoRequestHeader.size) throws -> Result {
        var readable = [try buffer(Array(header.bytes.prefix(headerBytes)))]
        if !iv.isEmpty { readable.append(try buffer(iv)) }
        readable += try pieces(source, sourceSplit).map(buffer)
        let room = destinationRoom ?? Int(header.destinationLength)
        let destination = try pieces([UInt8](repeating: 0xEE, count: room), destinationSplit).map(buffer)
        let status = try buffer([0xEE])
        let head = try dataq.ring.add(readable: readable, writable: destination + (statusByte ? [status] : []))
        dataq.kick()
        let used = try #require(try dataq.waitForUsed().first { $0.head == head })
        let out = try destination.flatMap { try $0.bytes(count: $0.count) }
        return Result(status: try status.bytes(count: 1)[0], used: used.length, destination: out)
    }

    /// A cipher request as Linux's driver builds it: dst as long as src.
    func cipher(_ session: Int64, _ opcode: UInt32, iv: [UInt8], _ source: [UInt8], sourceSplit: [Int] = [],
                destinationSplit: [Int] = []) throws -> Result {
        let header = CryptoRequestHeader(opcode: opcode, sessionID: UInt64(bitPattern: session), ivLength: UInt32(iv.count),
                                         sourceLength: UInt32(source.count), destinationLength: UInt32(source.count))
        return try request(header, iv: iv, source: source, sourceSplit: sourceSplit, destinationSplit: destinationSplit)
    }

    private func buffer(_ bytes: [UInt8]) throws -> GuestSlice {
        let slice = try driver.allocate(max(bytes.count, 1))
        try slice.write(bytes)
        return try slice.subslice(at: 0, count: bytes.count)
    }

    private func pieces(_ bytes: [UInt8], _ split: [Int]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var at = 0
        for size in split where at < bytes.count {
            let end = min(bytes.count, at + size)
            out.append(Array(bytes[at..<end]))
            at = end
        }
        if at < bytes.count || out.isEmpty { out.append(Array(bytes[at...])) }
        return out.filter { !$0.isEmpty }
    }
}

/// Known answers from NIST SP 800-38A (Appendix F).
enum SP80038A {
    static let plaintext = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
        + "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
    static let cbcIV = hex("000102030405060708090a0b0c0d0e0f")
    /// F.2.1 CBC-AES128.Encrypt (F.2.2 decrypts it back).
    static let key128 = hex("2b7e151628aed2a6abf7158809cf4f3c")
    static let cbc128 = hex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
        + "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7")
    /// F.2.5 CBC-AES256.Encrypt (F.2.6 decrypts it back).
    static let key256 = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
    static let cbc256 = hex("f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
        + "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b")
    /// F.5.1 CTR-AES128.Encrypt.
    static let ctrCounter = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
    static let ctr128 = hex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
        + "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee")

    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }
}

enum CryptoOp {
    static let encrypt = CryptoCodes.cipherEncrypt
    static let decrypt = CryptoCodes.cipherDecrypt
}
