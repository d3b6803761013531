/// Latencies counted in 100 µs buckets up to one second (and one bucket beyond): enough to
/// give percentiles of audio message completion (periods of 1 ms and more) in fixed memory.
public struct LatencyHistogram: Sendable, Equatable {
    public static let bucketMicroseconds = 100
    static let bucketCount = 10_000

    private var buckets = [Int](repeating: 0, count: bucketCount + 1)
    public private(set) var count = 0

    public init() {}

    public mutating func record(nanoseconds: UInt64) {
        let bucket = Int(min(UInt64(Self.bucketCount), nanoseconds / UInt64(Self.bucketMicroseconds * 1000)))
        buckets[bucket] += 1
        count += 1
    }

    /// The latency in µs below which `fraction` (0 to 1) of the recorded ones lie (the upper
    /// edge of that bucket); nil when nothing was recorded.
    public func percentile(_ fraction: Double) -> Int? {
        guard count > 0 else { return nil }
        let rank = max(1, Int((fraction * Double(count)).rounded(.up)))
        var seen = 0
        for (i, n) in buckets.enumerated() {
            seen += n
            if seen >= rank { return (i + 1) * Self.bucketMicroseconds }
        }
        return (Self.bucketCount + 1) * Self.bucketMicroseconds
    }
}
