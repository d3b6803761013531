import GuestMemory

/// virtio-blk requests on one queue (VIRTIO 1.2 §5.2.6), one at a time, in buffers
/// allocated once: header, data, status byte.
final class BlockProbeIO {
    let session: ProbeSession
    let queue: DriverQueue
    /// Bytes moved by READ and WRITE: a multiple of the logical block size.
    let transferBytes: Int
    private let header: GuestSlice
    private let data: GuestSlice
    private let status: GuestSlice
    private let id: GuestSlice
    private let segment: GuestSlice

    init(session: ProbeSession, queue: DriverQueue, transferBytes: Int) throws(ProbeError) {
        self.session = session
        self.queue = queue
        self.transferBytes = transferBytes
        header = try session.buffer(16)
        data = try session.buffer(transferBytes)
        status = try session.buffer(1)
        id = try session.buffer(BlockProbeSpec.idBytes)
        segment = try session.buffer(16)
    }

    /// The status byte (VIRTIO_BLK_S_*) of one request, or why none came.
    private func request(_ type: BlockProbeSpec.RequestType, sector: UInt64, readable: [GuestSlice],
                         writable: [GuestSlice]) -> Result<UInt8, ProbeStepFailure> {
        do {
            try header.store(type.rawValue, at: 0)
            try header.store(UInt32(0), at: 4)
            try header.store(sector, at: 8)
            // Not a status a device writes: shows a request completed without one.
            try status.store(UInt8(0xff), at: 0)
        } catch {
            return .failure(.init("\(error)"))
        }
        switch session.exchange(on: queue, readable: [header] + readable, writable: writable + [status]) {
        case let .failure(failure): return .failure(failure)
        case .success:
            do { return .success(try status.load(UInt8.self, at: 0)) } catch { return .failure(.init("\(error)")) }
        }
    }

    /// READ of `transferBytes` at `sector`: the status and the bytes (when OK).
    func read(sector: UInt64) -> Result<(UInt8, [UInt8]), ProbeStepFailure> {
        data.fill(0xa5)
        return request(.read, sector: sector, readable: [], writable: [data]).flatMap { status in
            do { return .success((status, try data.bytes(count: transferBytes))) } catch { return .failure(.init("\(error)")) }
        }
    }

    /// WRITE of `bytes` (exactly `transferBytes`) at `sector`.
    func write(sector: UInt64, bytes: [UInt8]) -> Result<UInt8, ProbeStepFailure> {
        do { try data.write(bytes) } catch { return .failure(.init("\(error)")) }
        return request(.write, sector: sector, readable: [data], writable: [])
    }

    func flush() -> Result<UInt8, ProbeStepFailure> { request(.flush, sector: 0, readable: [], writable: []) }

    /// GET_ID: the status and the serial up to its first NUL.
    func getID() -> Result<(UInt8, String), ProbeStepFailure> {
        id.fill(0)
        return request(.getID, sector: 0, readable: [], writable: [id]).flatMap { status in
            do {
                let bytes = try id.bytes(count: BlockProbeSpec.idBytes).prefix { $0 != 0 }
                return .success((status, String(decoding: bytes.map { $0 >= 0x20 && $0 < 0x7f ? $0 : UInt8(ascii: "?") }, as: UTF8.self)))
            } catch {
                return .failure(.init("\(error)"))
            }
        }
    }

    /// DISCARD of one segment `{sector, num_sectors, flags 0}` (§5.2.6: unmap is zero for discard).
    func discard(sector: UInt64, count: UInt32) -> Result<UInt8, ProbeStepFailure> {
        do {
            try segment.store(sector, at: 0)
            try segment.store(count, at: 8)
            try segment.store(UInt32(0), at: 12)
        } catch {
            return .failure(.init("\(error)"))
        }
        return request(.discard, sector: 0, readable: [segment], writable: [])
    }
}

extension Result where Success == UInt8, Failure == ProbeStepFailure {
    /// `OK`, `IOERR`, ... or the failure, for evidence.
    var statusText: String {
        switch self {
        case let .success(status): BlockProbeSpec.statusName(status)
        case let .failure(failure): "failed: \(failure)"
        }
    }

    var isOK: Bool { (try? get()) == 0 }
}
