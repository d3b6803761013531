/// An I/O message the device holds (VIRTIO 1.2 §5.14.6.8): what identifies it to the driver
/// (the device's descriptor chain), and its frames in host memory — an output stream's copied
/// out of the guest when the message arrived, an input stream's recorded so far. Only the
/// server thread touches the chain (guest memory); the stream's clock thread moves frames.
struct PCMTransfer<Message: Sendable>: Sendable {
    let message: Message
    /// Output: the frames to play. Input: the frames recorded, up to `size`.
    var frames: [UInt8]
    /// Bytes of frames the message carries (output) or has room for (input).
    let size: Int
    /// Output: bytes played so far.
    var played = 0
    /// When the message arrived (CLOCK_MONOTONIC ns): its latency to completion is measured from it.
    var arrival: UInt64 = 0

    static func output(_ message: Message, frames: [UInt8]) -> PCMTransfer {
        PCMTransfer(message: message, frames: frames, size: frames.count)
    }

    static func input(_ message: Message, capacity: Int) -> PCMTransfer {
        var frames: [UInt8] = []
        frames.reserveCapacity(capacity)
        return PCMTransfer(message: message, frames: frames, size: capacity)
    }
}

/// A message the clock (or a RELEASE) finished, waiting for the server thread to return it
/// with its `virtio_snd_pcm_status`.
struct FinishedTransfer<Message: Sendable>: Sendable {
    var transfer: PCMTransfer<Message>
    var status: SoundStatus
    var latencyBytes: UInt32
}

/// One stream's messages between the server thread and the stream's clock: a FIFO bounded by
/// the driver's buffer size (§5.14.6.6.3: the device's buffer is no less than `buffer_bytes`,
/// and a driver never has more than that in flight), and what the clock finished.
///
/// An xrun is a message that comes late: the clock found the FIFO short at a tick (an output
/// stream played silence, an input stream had nowhere to put what it recorded) and the driver
/// then sent more while the stream still runs. A stream that simply ends (its last message
/// played, then STOP) starves too, but nothing comes late, so that is no xrun.
struct PCMTransferQueue<Message: Sendable>: Sendable {
    /// Bytes the stream may hold: the driver's buffer.
    let limit: Int
    private var pending: [PCMTransfer<Message>] = []
    private var first = 0
    private(set) var finished: [FinishedTransfer<Message>] = []
    /// Bytes of the messages held, pending or finished but not yet returned.
    private(set) var heldBytes = 0
    /// The clock found too little at a tick since the last message arrived.
    private(set) var starved = false
    /// Whether the clock runs (set by START and STOP).
    var running = false {
        didSet { if running != oldValue { starved = false } }
    }

    init(limit: Int) { self.limit = limit }

    var pendingCount: Int { pending.count - first }

    /// Whether a message of `size` more bytes fits in the buffer.
    func admits(_ size: Int) -> Bool { size <= limit - heldBytes }

    /// Queues a message that `admits`; true if it came late (an xrun).
    mutating func append(_ transfer: PCMTransfer<Message>) -> Bool {
        precondition(admits(transfer.size))
        pending.append(transfer)
        heldBytes += transfer.size
        let late = running && starved
        starved = false
        return late
    }

    /// Output: takes the next `count` bytes of frames in order into `period` (cleared first);
    /// messages played to their end are finished with OK, and their number returned. Marks the
    /// queue starved if it had fewer bytes.
    @discardableResult
    mutating func play(_ count: Int, into period: inout [UInt8], latencyBytes: UInt32) -> Int {
        period.removeAll(keepingCapacity: true)
        let before = finished.count
        while period.count < count, first < pending.count {
            var t = pending[first]
            let take = min(count - period.count, t.size - t.played)
            period.append(contentsOf: t.frames[t.played..<t.played + take])
            t.played += take
            if t.played == t.size {
                finish(t, .ok, latencyBytes: latencyBytes)
                popFirst()
            } else {
                pending[first] = t
            }
        }
        if period.count < count { starved = true }
        return finished.count - before
    }

    /// Changes the status of the last `count` finished messages (the sink failed to take them).
    mutating func setStatus(ofLast count: Int, _ status: SoundStatus) {
        for i in finished.indices.suffix(count) { finished[i].status = status }
    }

    /// Input: puts `frames` into the waiting messages in order; a full message is finished with
    /// OK. What finds no room is dropped, and marks the queue starved. Returns the messages
    /// finished and the bytes dropped.
    @discardableResult
    mutating func record(_ frames: ArraySlice<UInt8>) -> (finished: Int, dropped: Int) {
        let before = finished.count
        var rest = frames
        while !rest.isEmpty, first < pending.count {
            var t = pending[first]
            let take = min(rest.count, t.size - t.frames.count)
            t.frames.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            if t.frames.count == t.size {
                finish(t, .ok, latencyBytes: 0)
                popFirst()
            } else {
                pending[first] = t
            }
        }
        if !rest.isEmpty { starved = true }
        return (finished.count - before, rest.count)
    }

    /// Finishes every pending message with `status` (RELEASE: §5.14.6.6.5 completes them all;
    /// what was not played, or the part of an input message recorded, goes back as is).
    mutating func flush(_ status: SoundStatus) {
        while first < pending.count {
            finish(pending[first], status, latencyBytes: 0)
            popFirst()
        }
    }

    /// The finished messages, oldest first, handed over to be returned (no longer held).
    mutating func takeFinished() -> [FinishedTransfer<Message>] {
        let out = finished
        finished.removeAll(keepingCapacity: true)
        for f in out { heldBytes -= f.transfer.size }
        return out
    }

    /// Forgets everything (the queue went away: nothing can be returned).
    mutating func removeAll() {
        pending = []
        first = 0
        finished = []
        heldBytes = 0
        starved = false
    }

    private mutating func finish(_ transfer: PCMTransfer<Message>, _ status: SoundStatus, latencyBytes: UInt32) {
        finished.append(FinishedTransfer(transfer: transfer, status: status, latencyBytes: latencyBytes))
    }

    private mutating func popFirst() {
        pending[first] = pending[first].emptied
        first += 1
        if first > 32, first * 2 > pending.count {
            pending.removeFirst(first)
            first = 0
        }
    }
}

extension PCMTransfer {
    /// The same message without its frames (a slot of the FIFO already taken).
    fileprivate var emptied: PCMTransfer { PCMTransfer(message: message, frames: [], size: 0, arrival: arrival) }
}
