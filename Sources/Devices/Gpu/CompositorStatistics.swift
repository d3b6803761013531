#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// What a `Compositor` has done: compositions per display, and per safety region the CRC
/// checks made and how many found the display not showing the source's pixels (AVPS 2.8.4).
/// Region counts start over when `setPolicy` replaces a display's layers, because the
/// indices name the layers and regions of the policy in force.
public struct CompositorStatistics: Sendable, Equatable, CustomStringConvertible {
    /// A safety region: the display, the layer's index (bottom first) and the region's index in the layer.
    public struct Region: Sendable, Hashable, CustomStringConvertible {
        public var display: String
        public var layer: Int
        public var region: Int

        public init(display: String, layer: Int, region: Int) {
            self.display = display
            self.layer = layer
            self.region = region
        }

        public var description: String { "\(display) layer \(layer) region \(region)" }
    }

    public struct SafetyCount: Sendable, Equatable {
        /// Compositions in which the region was checked.
        public var checks = 0
        /// Checks whose output CRC differed from the source's (or whose source did not cover the region).
        public var mismatches = 0

        public init(checks: Int = 0, mismatches: Int = 0) {
            self.checks = checks
            self.mismatches = mismatches
        }
    }

    public var framesComposed: [String: Int] = [:]
    public var safety: [Region: SafetyCount] = [:]

    public init() {}

    /// One line: frames per display, then each region's failed and total checks.
    public var description: String {
        let frames = framesComposed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value) frames" }
        let regions = safety.sorted { ($0.key.display, $0.key.layer, $0.key.region) < ($1.key.display, $1.key.layer, $1.key.region) }
            .map { "\($0.key): \($0.value.mismatches) of \($0.value.checks) checks failed" }
        return (frames + regions).joined(separator: "; ")
    }

    /// `logs/gpu.json`'s layout: frames per display, and every safety region's counts.
    private struct File: Codable {
        struct Entry: Codable { var display: String; var layer: Int; var region: Int; var checks: Int; var mismatches: Int }
        var framesComposed: [String: Int]
        var safety: [Entry]
    }

    /// The statistics as JSON for `logs/gpu.json` (read back by `init(json:)`, for `avp status`).
    public var json: [UInt8] {
        let entries = safety.sorted { ($0.key.display, $0.key.layer, $0.key.region) < ($1.key.display, $1.key.layer, $1.key.region) }
            .map { File.Entry(display: $0.key.display, layer: $0.key.layer, region: $0.key.region, checks: $0.value.checks, mismatches: $0.value.mismatches) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return [UInt8]((try? encoder.encode(File(framesComposed: framesComposed, safety: entries))) ?? Data())
    }

    /// Statistics written by `json`; nil for anything else.
    public init?(json: [UInt8]) {
        guard let file = try? JSONDecoder().decode(File.self, from: Data(json)) else { return nil }
        framesComposed = file.framesComposed
        for e in file.safety {
            safety[Region(display: e.display, layer: e.layer, region: e.region)] = SafetyCount(checks: e.checks, mismatches: e.mismatches)
        }
    }
}
