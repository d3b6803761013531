#if canImport(Glibc)
import Glibc
#endif

/// AVPS v2.0 entropy requirements a vhost-user-rng back end alone decides:
/// {AVPS-v2.0-40} a good entropy source, {AVPS-v2.0-41} per VIRTIO 1.2 §5.4 (one requestq whose
/// device-writable buffers the device fills with random bytes).
public enum EntropyProbe {
    /// Bytes the probe collects.
    public static let sampleBytes = 64 * 1024
    static let bufferBytes = 16 * 1024
    /// At most this many requests, however little each returns.
    static let maxRequests = 64
    /// Pearson's χ² over the 256 byte values (255 degrees of freedom: mean 255, σ ≈ 22.6);
    /// 400 is about 6σ, so a good source fails it essentially never.
    public static let chiSquareLimit = 400.0

    public static func run(_ session: ProbeSession) -> [ProbeFinding] {
        var evidence = session.featureEvidence
        let deviceBits = session.offeredFeatures & ProbeSession.deviceSpecificMask
        evidence.append("device-specific feature bits offered: 0x\(String(deviceBits, radix: 16)) (§5.4.3 defines none)")
        var checks: [(String, Bool)] = [("VIRTIO_F_VERSION_1 not offered", session.offers(bit: 32))]
        if let queues = session.queueNum { checks.append(("GET_QUEUE_NUM is 0", queues >= 1)) }

        var sample: [UInt8] = []
        var requests = 0
        var failure: String?
        do {
            let queue = try session.startQueue(0)
            let buffer = try session.buffer(bufferBytes)
            while sample.count < sampleBytes, requests < maxRequests, failure == nil {
                requests += 1
                buffer.fill(0)
                switch session.exchange(on: queue, readable: [], writable: [buffer]) {
                case let .failure(why): failure = "request \(requests): \(why)"
                case let .success(length):
                    guard length > 0, Int(length) <= bufferBytes else {
                        failure = "request \(requests): used length \(length) for a \(bufferBytes)-byte buffer"
                        break
                    }
                    sample += (try? buffer.bytes(count: Int(length))) ?? []
                }
            }
        } catch {
            failure = "\(error)"
        }
        evidence.append("requestq: \(requests) request(s) of \(bufferBytes) bytes returned \(sample.count) bytes"
            + (failure.map { "; \($0)" } ?? ""))
        checks.append(("the requestq did not serve device-writable buffers", failure == nil && sample.count >= sampleBytes))
        let requirement41 = ProbeFinding.checks(41, checks, met: "one requestq serving random bytes as VIRTIO 1.2 §5.4",
                                                evidence: evidence)

        let statistics = ByteStatistics(sample)
        let quality = [
            "sample: \(sample.count) bytes, \(statistics.distinctValues) distinct byte values, "
                + "bin counts \(statistics.minimumCount)...\(statistics.maximumCount) (expected \(sample.count / 256))",
            "χ² over 256 bins: \(rounded(statistics.chiSquare)) (limit \(Int(chiSquareLimit))), "
                + "Shannon entropy \(rounded(statistics.entropyBitsPerByte)) bits/byte, repeated 64-byte block: \(yes(statistics.repeatedBlock))",
        ]
        let requirement40 = ProbeFinding.checks(40, [
            ("fewer than \(sampleBytes) bytes came", sample.count >= sampleBytes),
            ("the bytes are constant", statistics.distinctValues > 1),
            ("a 64-byte block repeats", !statistics.repeatedBlock),
            ("byte histogram far from uniform (χ² \(rounded(statistics.chiSquare)))", statistics.chiSquare < chiSquareLimit),
        ], met: "\(sample.count) bytes look uniformly random", evidence: quality)
        return [requirement40, requirement41]
    }

    static func rounded(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        let hundredths = Int((value * 100).rounded())
        let fraction = abs(hundredths % 100)
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// A byte histogram and what the probe derives from it.
struct ByteStatistics {
    var distinctValues = 0
    var minimumCount = 0
    var maximumCount = 0
    var chiSquare = Double.infinity
    var entropyBitsPerByte = 0.0
    var repeatedBlock = false

    init(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        var counts = [Int](repeating: 0, count: 256)
        for byte in bytes { counts[Int(byte)] += 1 }
        distinctValues = counts.filter { $0 > 0 }.count
        minimumCount = counts.min() ?? 0
        maximumCount = counts.max() ?? 0
        let expected = Double(bytes.count) / 256
        chiSquare = counts.reduce(0.0) { sum, count in sum + (Double(count) - expected) * (Double(count) - expected) / expected }
        entropyBitsPerByte = counts.reduce(0.0) { sum, count in
            guard count > 0 else { return sum }
            let p = Double(count) / Double(bytes.count)
            return sum - p * log2(p)
        }
        var blocks = Set<ArraySlice<UInt8>>()
        for start in stride(from: 0, to: bytes.count - 63, by: 64) where !blocks.insert(bytes[start..<start + 64]).inserted {
            repeatedBlock = true
            break
        }
    }
}
