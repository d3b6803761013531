import Foundation

/// Facts about the host CPU that guest launches need.
public enum HostCPU {
    /// The host's TSC frequency in kHz (from /proc/cpuinfo "cpu MHz"), for `tsc_early_khz=` under TCG.
    public static func tscKHz() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("cpu MHz") {
            guard let value = line.split(separator: ":").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) else { continue }
            return Int(value * 1000)
        }
        return nil
    }
}
