/// One open cipher session of a VM.
final class CryptoSession {
    let id: UInt64
    let algorithm: CipherAlgorithm
    let direction: CipherDirection
    /// The key, wiped when the session closes (the engine borrows it only to re-key).
    let key: SecretBytes
    let engine: CipherEngine

    init(id: UInt64, setup: CipherSessionSetup, engine: CipherEngine) {
        self.id = id
        algorithm = setup.algorithm
        direction = setup.direction
        key = setup.key
        self.engine = engine
    }
}

/// A VM's open sessions, at most `limit` of them. Ids count up from 1 and are never reused,
/// so a closed (or reset) id can never name a later session; they stay below 2^63, the
/// int64 QEMU reads them as.
struct CryptoSessionTable {
    let limit: Int
    private var sessions: [UInt64: CryptoSession] = [:]
    private var nextID: UInt64 = 1

    init(limit: Int) { self.limit = limit }

    var count: Int { sessions.count }

    func session(_ id: UInt64) -> CryptoSession? { sessions[id] }

    /// Keys a new session; returns its id.
    mutating func open(_ setup: CipherSessionSetup, factory: CipherEngineFactory) throws(CryptoSessionRefusal) -> UInt64 {
        guard sessions.count < limit else {
            setup.key.wipe()
            throw .tooManySessions(limit: limit)
        }
        let engine: CipherEngine
        do { engine = try factory.makeEngine(algorithm: setup.algorithm, direction: setup.direction, key: setup.key) } catch {
            setup.key.wipe()
            throw .keyRejected(error)
        }
        let id = nextID
        nextID += 1
        sessions[id] = CryptoSession(id: id, setup: setup, engine: engine)
        return id
    }

    /// Closes a session, wiping its key; false if there is none with this id.
    mutating func close(_ id: UInt64) -> Bool {
        guard let session = sessions.removeValue(forKey: id) else { return false }
        session.key.wipe()
        return true
    }

    /// Closes every session (device reset, the front end gone).
    mutating func closeAll() {
        for session in sessions.values { session.key.wipe() }
        sessions = [:]
    }
}
