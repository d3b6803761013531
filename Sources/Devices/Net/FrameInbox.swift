import Synchronization

/// Frames waiting to be delivered to one port, kept per sending port and taken
/// round-robin: a VM that floods fills only its own share (bounded), and frames
/// from every other sender still get through. Written by senders' threads, read by
/// the receiving port's thread.
final class FrameInbox: Sendable {
    /// Frames kept per sender before new ones are dropped.
    static let perSenderLimit = 256

    private struct State {
        var queues: [Int: [[UInt8]]] = [:]
        var order: [Int] = []
        var next = 0
        var count = 0
    }
    private let state = Mutex(State())

    /// Queues a frame from `sender`; false if that sender's share is full (the frame is dropped).
    func put(_ frame: [UInt8], from sender: Int) -> Bool {
        state.withLock { s in
            if s.queues[sender] == nil { s.queues[sender] = []; s.order.append(sender) }
            guard s.queues[sender]!.count < Self.perSenderLimit else { return false }
            s.queues[sender]!.append(frame)
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
                if var queue = s.queues[sender], !queue.isEmpty {
                    let frame = queue.removeFirst()
                    s.queues[sender] = queue
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
