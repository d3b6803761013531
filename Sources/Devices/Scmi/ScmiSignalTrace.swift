#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// A simulated vehicle's signals as a CSV time series: a header `time_s,<signal>,...` and rows
/// of numbers (times in seconds, strictly increasing from 0 or more), e.g.
///
///     time_s,speed,coolant,cabin,battery
///     0,0,20,21,12.6
///     10,13.9,60,21.5,13.9
///
/// played in a loop whose period is the last row's time, each value interpolated linearly
/// between rows or held until the next row (`Mode.step`). A pure value: parsing is bounded
/// (file size, columns, rows) and every number must be finite.
public struct ScmiSignalTrace: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable, Codable {
        case interpolate, step
    }

    public static let maxBytes = 8 << 20
    public static let maxSignals = 64
    public static let maxRows = 100_000
    public static let maxNameLength = 31

    public let signals: [String]
    public let times: [Double]
    /// values[row][signal]
    public let values: [[Double]]
    public let mode: Mode

    public init(csv text: String, mode: Mode = .interpolate) throws(ScmiTraceError) {
        guard text.utf8.count <= Self.maxBytes else { throw .tooLarge(text.utf8.count) }
        var lines = text.split(whereSeparator: \.isNewline).map { $0.trimmed(where: \.isWhitespace) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !lines.isEmpty else { throw .noHeader }
        let header = lines.removeFirst().split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmed() }
        guard header.first == "time_s" else { throw .noHeader }
        let names = Array(header.dropFirst())
        guard !names.isEmpty else { throw .noSignals }
        guard names.count <= Self.maxSignals else { throw .tooManySignals(names.count) }
        var seen: Set<String> = []
        for name in names {
            guard Self.isValidName(name) else { throw .badName(name) }
            guard seen.insert(name).inserted else { throw .duplicate(name) }
        }
        guard !lines.isEmpty else { throw .noRows }
        guard lines.count <= Self.maxRows else { throw .tooManyRows(lines.count) }
        var times: [Double] = [], values: [[Double]] = []
        times.reserveCapacity(lines.count)
        for (i, line) in lines.enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmed() }
            guard fields.count == names.count + 1 else { throw .wrongFieldCount(row: i + 1, fields.count, expected: names.count + 1) }
            var numbers: [Double] = []
            for field in fields {
                guard field.utf8.count <= 32, let v = Double(field), v.isFinite else { throw .notANumber(row: i + 1, String(field.prefix(32))) }
                numbers.append(v)
            }
            let t = numbers.removeFirst()
            guard t >= 0, times.last.map({ t > $0 }) ?? true else { throw .timesNotIncreasing(row: i + 1) }
            times.append(t)
            values.append(numbers)
        }
        signals = names
        self.times = times
        self.values = values
        self.mode = mode
    }

    /// Loop period: the last row's time (0 for a single row: constant values).
    public var period: Double { times.last ?? 0 }

    /// The signal's value `seconds` after the start of playback.
    public func value(of signal: Int, at seconds: Double) -> Double {
        guard signals.indices.contains(signal), !times.isEmpty else { return 0 }
        var t = max(seconds, 0)
        if period > 0 { t = t.truncatingRemainder(dividingBy: period) }
        if t <= times[0] { return values[0][signal] }
        // The last row whose time is ≤ t (binary search).
        var low = 0, high = times.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if times[mid] <= t { low = mid } else { high = mid - 1 }
        }
        guard low + 1 < times.count, mode == .interpolate else { return values[low][signal] }
        let (t0, t1) = (times[low], times[low + 1])
        let (v0, v1) = (values[low][signal], values[low + 1][signal])
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    }

    /// 1 to 31 characters: letters, digits, '_', '-', '.'.
    public static func isValidName(_ name: String) -> Bool {
        (1...maxNameLength).contains(name.utf8.count)
            && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x5F || $0 == 0x2D || $0 == 0x2E }
    }
}

public enum ScmiTraceError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooLarge(Int)
    case noHeader
    case noSignals
    case tooManySignals(Int)
    case badName(String)
    case duplicate(String)
    case noRows
    case tooManyRows(Int)
    case wrongFieldCount(row: Int, Int, expected: Int)
    case notANumber(row: Int, String)
    case timesNotIncreasing(row: Int)

    public var description: String {
        switch self {
        case let .tooLarge(n): "the signal file has \(n) bytes, more than \(ScmiSignalTrace.maxBytes)"
        case .noHeader: "the signal file's first line is not the header time_s,SIGNAL,..."
        case .noSignals: "the signal file's header names no signal after time_s"
        case let .tooManySignals(n): "\(n) signals is more than \(ScmiSignalTrace.maxSignals)"
        case let .badName(n): "signal name \(UserTextLite.quoted(n)) is not 1 to 31 letters, digits, '_', '-' or '.'"
        case let .duplicate(n): "signal '\(n)' is named twice"
        case .noRows: "the signal file has no rows of values"
        case let .tooManyRows(n): "\(n) rows is more than \(ScmiSignalTrace.maxRows)"
        case let .wrongFieldCount(row, n, expected): "row \(row) has \(n) fields, not \(expected)"
        case let .notANumber(row, text): "row \(row): \(UserTextLite.quoted(text)) is not a finite number"
        case let .timesNotIncreasing(row): "row \(row): times must start at 0 or later and increase"
        }
    }
}
