import Synchronization

/// Frames waiting to be delivered to one port, kept per sending port and taken
/// round-robin: a VM that floods fills only its own share (bounded), and frames
/// from every other sender still get through. Written by senders' threads, read by
/// the receiving port's thread.
final class FrameInbox: Sendable {
    /// Frames kept per sender before new ones are dropped.
    static let perSenderLimit = 256

    /// A FIFO with O(1) take: frames before `head` are consumed and dropped in bulk.
    private struct Queue {
        var frames: [[UInt8]] = []
        var head = 0
        var count: Int { frames.count - head }
        mutating func take() -> [UInt8] {
            let frame = frames[head]
            head += 1
            if head == frames.count { frames.removeAll(keepingCapacity: true); head = 0 }
            return frame
        }
    }

    private struct State {
        var queues: [Int: Queue] = [:]
        var order: [Int] = []
        var next = 0
        var count = 0
    }
    private let state = Mutex(State())

    /// Queues a frame from `sender`; false if that sender's share is full (the frame is dropped).
    func put(_ frame: [UInt8], from sender: Int) -> Bool {
        state.withLock { s in
            if s.queues[sender] == nil { s.queues[sender] = Queue(); s.order.append(sender) }
            guard s.queues[sender]!.count < Self.perSenderLimit else { return false }
            s.queues[sender]!.frames.append(frame)
            s.count += 1
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
                    return (sender, frame)
                }
            }
            return nil
        }
    }

    var isEmpty: Bool { state.withLock { $0.count == 0 } }

    func removeAll() { state.withLock { $0 = State() } }
}
