import Synchronization

/// Frames waiting to be delivered to one port, kept per sending port and taken
/// round-robin: a VM that floods fills only its own share (bounded), and frames
/// from every other sender still get through. A VM that stops taking frames costs
/// the senders nothing but drops: its inbox holds at most `perSenderLimit` frames and
/// `perSenderByteLimit` bytes per sender, however long it stays stuck. Written by
/// senders' threads, read by the receiving port's thread.
final class FrameInbox: Sendable {
    /// Frames kept per sender before new ones are dropped.
    static let perSenderLimit = 256
    /// Bytes kept per sender (256 jumbo frames would be 16 MiB; 256 standard ones fit).
    static let perSenderByteLimit = 4 << 20

    /// A FIFO with O(1) take: frames before `head` are consumed and dropped in bulk.
    private struct Queue {
        var frames: [[UInt8]] = []
        var head = 0
        var bytes = 0
        var count: Int { frames.count - head }
        mutating func take() -> [UInt8] {
            let frame = frames[head]
            frames[head] = []
            head += 1
            bytes -= frame.count
            if head == frames.count {
                frames.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64, head * 2 >= frames.count {
                // A receiver that keeps up only just never empties the queue: drop the consumed
                // front now and then, or `frames` would grow for as long as the stream lasts.
                frames.removeFirst(head)
                head = 0
            }
            return frame
        }
    }

    private struct State {
        var queues: [Int: Queue] = [:]
        var order: [Int] = []
        var next = 0
        var count = 0
        var bytes = 0
        var peakBytes = 0
    }
    private let state = Mutex(State())

    /// Queues a frame from `sender`; false if that sender's share is full (the frame is dropped).
    func put(_ frame: [UInt8], from sender: Int) -> Bool {
        state.withLock { s in
            if s.queues[sender] == nil { s.queues[sender] = Queue(); s.order.append(sender) }
            guard s.queues[sender]!.count < Self.perSenderLimit,
                  s.queues[sender]!.bytes + frame.count <= Self.perSenderByteLimit else { return false }
            s.queues[sender]!.frames.append(frame)
            s.queues[sender]!.bytes += frame.count
            s.count += 1
            s.bytes += frame.count
            s.peakBytes = max(s.peakBytes, s.bytes)
            return true
        }
    }

    /// The next frame and its sender, rotating over senders; nil when empty.
    func take() -> (sender: Int, frame: [UInt8])? {
        state.withLock { s in
            guard s.count > 0 else { return nil }
            for _ in 0..<s.order.count {
                let sender = s.order[s.next % s.order.count]
                s.next = (s.next + 1) % s.order.count
                if s.queues[sender]!.count > 0 {
                    let frame = s.queues[sender]!.take()
                    s.count -= 1
                    s.bytes -= frame.count
                    return (sender, frame)
                }
            }
            return nil
        }
    }

    var isEmpty: Bool { state.withLock { $0.count == 0 } }

    /// Frames and bytes waiting now, and the most bytes that ever waited.
    var depth: (frames: Int, bytes: Int, peakBytes: Int) { state.withLock { ($0.count, $0.bytes, $0.peakBytes) } }

    /// Slots the queues hold, consumed ones included (what the inbox costs beyond its frames).
    var retainedSlots: Int { state.withLock { $0.queues.values.reduce(0) { $0 + $1.frames.count } } }

    /// Forgets every waiting frame (the VM reset); the peak stays, a statistic of the port's life.
    func removeAll() { state.withLock { $0 = State(peakBytes: $0.peakBytes) } }
}
