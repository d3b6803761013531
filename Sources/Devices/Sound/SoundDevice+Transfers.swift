import GuestMemory
import SystemCalls
import Virtio

/// The txq, rxq and eventq of `SoundDevice` (VIRTIO 1.2 §5.14.6.8 and §5.14.6.5).
///
/// An I/O message is `struct virtio_snd_pcm_xfer` (the stream ID), then the frames (device-
/// readable on the txq, device-writable on the rxq), then `struct virtio_snd_pcm_status`
/// in its last 8 device-writable bytes. Its status is OK once its frames were played or
/// recorded, IO_ERR otherwise — an unknown stream, a stream in the wrong direction or not
/// prepared, frames not whole, more than the negotiated buffer — or when RELEASE returns it.
extension SoundDevice {
    static let transferHeaderSize = 4
    static let transferStatusSize = 8

    func processTransfers(_ queue: DeviceQueue, direction: SoundDirection) {
        repeat {
            while let chain = queue.pop() {
                let status: SoundStatus
                do {
                    guard try take(chain, direction: direction) else { continue }
                    status = .ok
                } catch {
                    statistics.refusedTransfers += 1
                    refuse("\(direction == .output ? "txq" : "rxq") message \(chain.head): \(error); IO_ERR")
                    status = .ioError
                }
                queue.complete(chain, written: writeStatus(status, latency: 0, frames: [], into: chain))
            }
        } while queue.rearm()
        queue.notifyIfNeeded()
    }

    /// Why an I/O message is answered IO_ERR at once.
    struct TransferRefusal: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Hands a message to its stream (false), or says it is answered OK at once (true: an output
    /// message without frames has nothing to play), or why it is refused.
    private func take(_ chain: DescriptorChain, direction: SoundDirection) throws(TransferRefusal) -> Bool {
        guard chain.writableLength >= Self.transferStatusSize else {
            throw TransferRefusal("\(chain.writableLength) writable bytes leave no room for the status")
        }
        var reader = chain.reader()
        guard chain.readableLength >= Self.transferHeaderSize, let id = try? reader.read(UInt32.self) else {
            throw TransferRefusal("no stream ID (\(chain.readableLength) readable bytes)")
        }
        guard id < UInt32(streams.count) else { throw TransferRefusal("unknown stream \(id) (the card has \(streams.count))") }
        let stream = streams[Int(id)]
        guard stream.direction == direction else { throw TransferRefusal("stream \(id) is an \(stream.direction) stream") }
        let bytes: Int
        switch direction {
        case .output:
            bytes = chain.readableLength - Self.transferHeaderSize
            if bytes == 0, stream.state.transferParameters != nil { return true }
        case .input:
            guard chain.readableLength == Self.transferHeaderSize else {
                throw TransferRefusal("\(chain.readableLength - Self.transferHeaderSize) device-readable bytes after the header")
            }
            bytes = chain.writableLength - Self.transferStatusSize
        }
        do { try stream.check(bytes: bytes) } catch { throw TransferRefusal("stream \(id): \(error)") }
        var transfer: PCMTransfer<DescriptorChain>
        switch direction {
        case .output:
            guard let frames = try? reader.readBytes(bytes) else { throw TransferRefusal("unreadable frames") }
            transfer = .output(chain, frames: frames)
        case .input:
            transfer = .input(chain, capacity: bytes)
        }
        transfer.arrival = MonotonicClock.nanoseconds()
        statistics.transfers += 1
        if stream.enqueue(transfer) { events.append(.pcmXrun, data: id) }
        return false
    }

    /// Returns the messages every stream's clock (or a RELEASE) finished.
    func returnFinished() {
        for stream in streams { returnFinished(stream) }
    }

    func returnFinished(_ stream: PCMStream) {
        let finished = stream.takeFinished()
        guard !finished.isEmpty, let queue = queues[stream.direction == .output ? Self.txQueue : Self.rxQueue] else { return }
        let now = MonotonicClock.nanoseconds()
        for f in finished {
            if f.status == .ok { statistics.latency.record(nanoseconds: now &- f.transfer.arrival) }
            let recorded = stream.direction == .input ? f.transfer.frames : []
            queue.complete(f.transfer.message, written: writeStatus(f.status, latency: f.latencyBytes, frames: recorded, into: f.transfer.message))
        }
        queue.notifyIfNeeded()
    }

    /// Writes recorded `frames` at the start of the writable part and the status into its last
    /// 8 bytes; returns the used length (frames and status: what Linux's virtio_snd reads back).
    func writeStatus(_ status: SoundStatus, latency: UInt32, frames: [UInt8], into chain: DescriptorChain) -> Int {
        let statusOffset = chain.writableLength - Self.transferStatusSize
        guard statusOffset >= 0, frames.count <= statusOffset else { return 0 }
        var writer = chain.writer()
        do {
            try writer.write(frames)
            try writer.skip(statusOffset - frames.count)
            try writer.write(status.rawValue)
            try writer.write(latency)
        } catch {
            refuse("message \(chain.head): \(error)")
            return 0
        }
        return frames.count + Self.transferStatusSize
    }

    /// Puts pending events into the driver's eventq buffers (8-byte `virtio_snd_event`s).
    func deliverEvents() {
        guard !events.isEmpty, let queue = queues[Self.eventQueue] else { return }
        var delivered = false
        while !events.isEmpty, queue.hasAvailable || (queue.rearm() && queue.hasAvailable), let chain = queue.pop() {
            guard chain.readableLength == 0, chain.writableLength >= 8 else {
                refuse("eventq buffer \(chain.head) (\(chain.readableLength) readable, \(chain.writableLength) writable bytes) cannot take an event")
                queue.complete(chain, written: 0)
                continue
            }
            let event = events.removeFirst()
            var writer = chain.writer()
            do {
                try writer.write(event.code.rawValue)
                try writer.write(event.data)
                statistics.events += 1
            } catch {
                refuse("eventq buffer \(chain.head): \(error)")
            }
            queue.complete(chain, written: writer.written)
            delivered = true
        }
        if delivered { queue.notifyIfNeeded() }
    }
}

extension ChainWriter {
    /// Leaves `count` bytes as they are (counted as written).
    mutating func skip(_ count: Int) throws(GuestMemoryError) {
        _ = try slices(count)
    }
}
