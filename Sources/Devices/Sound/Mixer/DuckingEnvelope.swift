#if canImport(Glibc)
import Glibc
#endif

/// How far one role is ducked now, moving toward what the ducking rules ask: down at the
/// attack rate of the rule that asks most, back up at the release rate of the rule that last
/// held it. Rates are in dB per second (a rule's attenuation over its attack or release
/// time), so a rule reaches its depth in exactly its attack time.
struct DuckingEnvelope: Sendable, Equatable {
    /// Current attenuation in dB (0: not ducked).
    private(set) var decibels = 0.0
    private var releaseRate = Double.infinity

    /// Moves `seconds` toward the deepest of `active` rules (none: back to 0).
    mutating func advance(toward active: [DuckingRule], seconds: Double) {
        if let deepest = active.max(by: { $0.decibels < $1.decibels }) {
            releaseRate = Self.rate(deepest.decibels, deepest.releaseMilliseconds)
            if deepest.decibels > decibels {
                decibels = min(deepest.decibels, decibels + Self.rate(deepest.decibels, deepest.attackMilliseconds) * seconds)
            } else {
                // A deeper rule ended, a shallower one still holds: release down to it.
                decibels = max(deepest.decibels, decibels - releaseRate * seconds)
            }
        } else {
            decibels = max(0, decibels - releaseRate * seconds)
        }
    }

    private static func rate(_ decibels: Double, _ milliseconds: Int) -> Double {
        milliseconds == 0 ? .infinity : decibels / (Double(milliseconds) / 1000)
    }
}

/// dB to a linear amplitude factor.
func amplitude(decibels: Double) -> Float { Float(pow(10, decibels / 20)) }
