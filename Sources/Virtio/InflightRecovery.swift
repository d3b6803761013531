/// What a queue found in its inflight region when it started (vhost-user.rst, "Inflight I/O
/// tracking", "When reconnecting"): the heads an earlier back end took and never returned, in
/// the order it took them, to be handed to the device again before any new request.
public struct InflightRecovery: Equatable, Sendable {
    /// Heads to resubmit, oldest first (by counter; equal counters by head).
    public var heads: [UInt16] = []
    /// The counter the next head taken gets: after every counter found.
    public var nextCounter: UInt64 = 0
    /// Used elements the earlier back end published without finishing their bookkeeping
    /// (the last batch), now cleared.
    public var completedBatch = 0
    /// Entries flagged with something other than 0 or 1, or beyond the ring's size: not heads
    /// the device can have taken; cleared and not resubmitted.
    public var ignoredEntries = 0
    /// The region was never used (version 0) and was initialized.
    public var fresh = false

    public init() {}
}

extension InflightQueueRegion {
    /// Brings the region in line with a ring of `ringSize` entries whose used index stands at
    /// `ringUsed`, and returns what is still in flight. Throws (the queue then needs a reset)
    /// for a region that cannot be read: an unknown version, fewer entries than the ring has,
    /// or a last batch that does not fit in the ring.
    public func recover(ringSize: Int, ringUsed: UInt16) throws(QueueError) -> InflightRecovery {
        guard ringSize <= descriptorCount else {
            throw .inflightRegion("\(descriptorCount) entries for a queue of \(ringSize)")
        }
        var result = InflightRecovery()
        switch version {
        case 0:
            initialize(usedIndex: ringUsed)
            result.fresh = true
            return result
        case Self.currentVersion:
            break
        case let other:
            throw .inflightRegion("unknown version \(other)")
        }
        result.completedBatch = try clearLastBatch(ringSize: ringSize, ringUsed: ringUsed)

        var found: [(counter: UInt64, head: UInt16)] = []
        for head in 0..<descriptorCount {
            let flag = inflightFlag(head)
            if flag == 1, head < ringSize {
                found.append((counter(head), UInt16(head)))
            } else if flag != 0 {
                result.ignoredEntries += 1
                setInflightFlag(head, 0)
            }
        }
        found.sort { $0.counter != $1.counter ? $0.counter < $1.counter : $0.head < $1.head }
        result.heads = found.map(\.head)
        result.nextCounter = found.last.map { $0.counter &+ 1 } ?? 0
        return result
    }

    /// Step 1 of "When reconnecting": a used index behind the ring's means the back end published
    /// the last batch's used elements but stopped before it cleared their flags; the batch's
    /// size is the difference, its heads the list from `lastBatchHead` through `next`.
    private func clearLastBatch(ringSize: Int, ringUsed: UInt16) throws(QueueError) -> Int {
        let recorded = usedIndex
        guard recorded != ringUsed else { return 0 }
        let batch = Int(ringUsed &- recorded)
        guard batch <= ringSize else {
            throw .inflightRegion("used index \(ringUsed) is \(batch) past the recorded \(recorded), more than the queue holds")
        }
        var head = lastBatchHead
        for _ in 0..<batch {
            guard Int(head) < ringSize else {
                throw .inflightRegion("last batch names head \(head) in a queue of \(ringSize)")
            }
            setInflightFlag(Int(head), 0)
            head = next(Int(head))
        }
        usedIndex = ringUsed
        return batch
    }
}
