#if canImport(Glibc)
import Glibc
#endif

/// What the mixer played, per role and in all, over the last minute: the RMS level of each
/// role's streams after their gains (so ducking, volume and mute show) and of the mix, in
/// dBFS per `windowFrames` slice. What `avp audio --plot` draws; fixed memory.
struct LevelMeter: Sendable {
    /// Slices kept: a minute of 100 ms slices.
    static let capacity = 600
    let windowFrames: Int
    let roles: [String]
    private var energy: [Double]
    private var mixEnergy = 0.0
    private var frames = 0
    private(set) var history: [[Double]]
    private(set) var mixHistory: [Double] = []

    init(roles: [String], rate: Int) {
        self.roles = roles
        windowFrames = max(1, rate / 10)
        energy = [Double](repeating: 0, count: roles.count)
        history = [[Double]](repeating: [], count: roles.count)
    }

    /// One mixer period: each role's summed square samples (all channels), the mix's, and its frames × channels.
    mutating func add(roleEnergy: [String: Double], mix: Double, samples: Int, channels: Int) {
        for (i, role) in roles.enumerated() { energy[i] += roleEnergy[role] ?? 0 }
        mixEnergy += mix
        frames += samples / channels
        guard frames >= windowFrames else { return }
        let count = Double(frames * channels)
        for i in roles.indices {
            history[i].append(Self.decibels(energy[i] / count))
            if history[i].count > Self.capacity { history[i].removeFirst(history[i].count - Self.capacity) }
            energy[i] = 0
        }
        mixHistory.append(Self.decibels(mixEnergy / count))
        if mixHistory.count > Self.capacity { mixHistory.removeFirst(mixHistory.count - Self.capacity) }
        mixEnergy = 0
        frames = 0
    }

    /// dBFS of a mean square, floored at −120 (silence must still encode as a number).
    static func decibels(_ meanSquare: Double) -> Double {
        meanSquare > 1e-12 ? max(-120, 10 * log10(meanSquare)) : -120
    }
}
