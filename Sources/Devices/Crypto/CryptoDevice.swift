import GuestMemory
import Logging
import Synchronization
import Virtio

/// virtio-crypto (VIRTIO 1.2 §5.9) behind QEMU's cryptodev-vhost-user for one VM: QEMU keeps
/// the control queue and the configuration space, and forwards session creation and closing
/// as vhost-user messages (`CryptoSessionDevice`); the device serves the data queue (vring 0)
/// with symmetric cipher requests (§5.9.7.2.1): AES-CBC, which QEMU advertises, and AES-CTR
/// and AES-XTS for a driver that asks anyway. Hash, MAC, AEAD, asymmetric and chained
/// sessions are refused. The ciphers come from the system's libcrypto (`OpenSSLCipher`).
///
/// Keys live in `SecretBytes`, wiped when their session closes, at reset (a driver reset or the
/// VMM gone) and when the device goes away; a VM has at most `maxSessions` open. A request gets
/// a status byte whenever the chain has a device-writable byte for it; a chain without one
/// comes back with nothing written. Refusals are logged at a sampled rate. Nothing a guest
/// sends makes the device allocate more than a 16-byte IV and the chain's slice lists.
public final class CryptoDevice: CryptoSessionDevice, @unchecked Sendable {
    public static let defaultMaxSessions = 64

    public let deviceType = VirtioDeviceType.crypto
    /// One data queue; QEMU keeps the control queue.
    public let queueCount = 1
    public let deviceFeatures: VirtioFeatures = []
    public let maxSessions: Int

    private let logger: Logger
    private let factory: CipherEngineFactory
    // Server-thread state: sessions come and go between the queue's requests, on the same thread.
    private var table: CryptoSessionTable
    private var sessionRefusals = LogSampler()
    private var requestRefusals = LogSampler()
    private let counters = Mutex(CryptoCounters())

    public convenience init(maxSessions: Int = CryptoDevice.defaultMaxSessions, logger: Logger) {
        self.init(maxSessions: maxSessions, factory: OpenSSLCipherFactory(), logger: logger)
    }

    /// A device whose sessions get their ciphers from `factory`.
    public init(maxSessions: Int = CryptoDevice.defaultMaxSessions, factory: CipherEngineFactory, logger: Logger) {
        self.maxSessions = max(0, maxSessions)
        self.factory = factory
        self.logger = logger
        table = CryptoSessionTable(limit: self.maxSessions)
    }

    deinit { table.closeAll() }

    /// Sessions open now.
    public var openSessions: Int { counters.withLock { $0.openSessions } }
    /// Requests completed with status OK.
    public var requestsServed: UInt64 { counters.withLock { $0.requestsServed } }
    /// Requests completed with any other status (or none, for want of a writable byte).
    public var requestsRefused: UInt64 { counters.withLock { $0.requestsRefused } }
    /// Source bytes enciphered or deciphered by requests served.
    public var bytesProcessed: UInt64 { counters.withLock { $0.bytesProcessed } }

    // MARK: Sessions (vhost-user messages, server thread)

    public func createCryptoSession(_ payload: [UInt8]) -> [UInt8] {
        do {
            let setup = try CipherSessionSetup.decode(payload)
            let id = try table.open(setup, factory: factory)
            logger.debug("crypto session \(id): \(setup.algorithm)-\(setup.key.count * 8) \(setup.direction) (\(setup.layout) payload)")
            publishSessionCount()
            return setup.layout.reply(sessionID: Int64(id))
        } catch {
            if sessionRefusals.record() {
                logger.warning("crypto session refused (\(sessionRefusals.count) so far): \(error)")
            }
            return CryptoSessionLayout.refusal(size: payload.count)
        }
    }

    public func closeCryptoSession(_ id: UInt64) -> Bool {
        let closed = table.close(id)
        if closed { logger.debug("crypto session \(id) closed") }
        publishSessionCount()
        return closed
    }

    public func reset() {
        table.closeAll()
        publishSessionCount()
    }

    /// The key storage of an open session, for tests that check it is wiped on close (server-thread
    /// state: call it only while the server is idle).
    func keyStorage(ofSession id: UInt64) -> SecretBytes? { table.session(id)?.key }

    // MARK: Data queue

    public func process(_ queue: DeviceQueue) {
        queue.drain { serve($0) }
    }

    /// Answers one request; returns the bytes written (destination and status).
    func serve(_ chain: DescriptorChain) -> Int {
        guard let statusSlice = chain.writable.last, statusSlice.count > 0 else {
            refuse(chain, "no device-writable byte for the status")
            return 0
        }
        let status: CryptoStatus
        var written = 0
        do {
            written = try execute(chain)
            status = .ok
        } catch {
            status = error.status
            refuse(chain, "\(status): \(error)")
        }
        do { try statusSlice.store(status.rawValue, at: statusSlice.count - 1) } catch {
            refuse(chain, "status byte: \(error)")
            return 0
        }
        if status == .ok {
            counters.withLock { c in
                c.requestsServed += 1
                c.bytesProcessed += UInt64(written)
            }
        }
        return written + 1
    }

    private func execute(_ chain: DescriptorChain) throws(CryptoRequestRefusal) -> Int {
        var reader = chain.reader()
        let headerBytes: [UInt8]
        do { headerBytes = try reader.readBytes(min(chain.readableLength, CryptoRequestHeader.size)) } catch {
            throw .guestMemory("\(error)")
        }
        guard let header = CryptoRequestHeader(bytes: headerBytes) else { throw .headerTooShort(readable: chain.readableLength) }
        let plan = try CryptoRequest.plan(header, readable: chain.readableLength, writable: chain.writableLength) { id in
            table.session(id).map { ($0.algorithm, $0.direction) }
        }
        guard let session = table.session(plan.sessionID) else { throw .unknownSession(plan.sessionID) }
        var writer = chain.writer()
        let iv: [UInt8], source: [GuestSlice], destination: [GuestSlice]
        do {
            iv = try reader.readBytes(plan.ivLength)
            source = try reader.slices(plan.length)
            destination = try writer.slices(plan.length)
        } catch {
            throw .guestMemory("\(error)")
        }
        // The slices keep guest memory mapped while the engine works on their addresses.
        defer { withExtendedLifetime((source, destination)) {} }
        let failure = iv.withUnsafeBytes { (ivBytes) -> CipherEngineError? in
            do throws(CipherEngineError) {
                try session.engine.run(iv: ivBytes, source: source.map(\.ioVector), destination: destination.map(\.ioVector),
                                       length: plan.length)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw .cipher(failure) }
        return plan.length
    }

    private func refuse(_ chain: DescriptorChain, _ reason: String) {
        counters.withLock { $0.requestsRefused += 1 }
        if requestRefusals.record() {
            logger.warning("crypto request \(chain.head) (\(requestRefusals.count) refused so far): \(reason)")
        }
    }

    private func publishSessionCount() {
        let open = table.count
        counters.withLock { $0.openSessions = open }
    }
}

/// What `CryptoDevice` reports to other threads.
struct CryptoCounters {
    var openSessions = 0
    var requestsServed: UInt64 = 0
    var requestsRefused: UInt64 = 0
    var bytesProcessed: UInt64 = 0
}
