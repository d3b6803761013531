/// A bounded FIFO of interleaved samples: one stream's frames between its clock thread (which
/// appends a guest period at a time) and the mixer's (which takes a mixer period at a time).
/// Appending beyond the capacity drops the oldest frames: memory stays bounded whatever a
/// clock does.
struct SampleRing: Sendable {
    let channels: Int
    let capacityFrames: Int
    private var storage: [Float]
    private var head = 0
    private(set) var frames = 0

    init(channels: Int, capacityFrames: Int) {
        precondition(channels > 0 && capacityFrames > 0)
        self.channels = channels
        self.capacityFrames = capacityFrames
        storage = [Float](repeating: 0, count: channels * capacityFrames)
    }

    /// Appends whole frames; returns how many old frames were dropped to make room.
    @discardableResult
    mutating func append(_ samples: [Float]) -> Int {
        let count = samples.count / channels
        let dropped = max(0, frames + count - capacityFrames)
        if dropped > 0 { discard(dropped) }
        let skip = max(0, count - capacityFrames)
        var tail = (head + frames) % capacityFrames
        for f in skip..<count {
            for c in 0..<channels { storage[tail * channels + c] = samples[f * channels + c] }
            tail = tail + 1 == capacityFrames ? 0 : tail + 1
        }
        frames += count - skip
        return dropped + skip
    }

    /// Appends `count` frames of silence; returns frames dropped.
    @discardableResult
    mutating func appendSilence(_ count: Int) -> Int {
        append([Float](repeating: 0, count: min(count, capacityFrames) * channels)) + max(0, count - capacityFrames)
    }

    /// Adds up to `count` frames into `mix` (interleaved, `channels` wide) from its start, each
    /// sample times a gain going linearly from `gain.from` to `gain.to` over `count` frames;
    /// returns the frames taken and the sum of the squares of what was added (for the meter).
    mutating func mix(into mix: inout [Float], count: Int, gain: (from: Float, to: Float)) -> (frames: Int, energy: Double) {
        let taken = min(count, frames)
        let step = count > 0 ? (gain.to - gain.from) / Float(count) : 0
        let channels = channels, capacity = capacityFrames, head = head
        var energy: Float = 0
        mix.withUnsafeMutableBufferPointer { out in
            storage.withUnsafeBufferPointer { ring in
                // At most two runs: to the end of the storage, then from its start.
                var f = 0
                while f < taken {
                    let at = (head + f) % capacity
                    let run = min(taken - f, capacity - at)
                    for k in 0..<run {
                        let g = gain.from + step * Float(f + k + 1)
                        let src = (at + k) * channels, dst = (f + k) * channels
                        for c in 0..<channels {
                            let x = ring[src + c] * g
                            out[dst + c] += x
                            energy += x * x
                        }
                    }
                    f += run
                }
            }
        }
        discard(taken)
        return (taken, Double(energy))
    }

    mutating func discard(_ count: Int) {
        let n = min(count, frames)
        head = (head + n) % capacityFrames
        frames -= n
    }
}
