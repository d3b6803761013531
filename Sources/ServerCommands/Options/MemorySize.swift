/// A memory size: a whole number of MiB (`512`), or a number with a binary unit
/// (`512M`, `2G`, `1.5G`, `65536K`, `512MiB`; K, M, G and T, case-insensitive).
///
/// Read with exact integer arithmetic: no floating point, so `1e300G`, `infM` and
/// `99999999999999999999G` are sizes too large or not sizes at all, never a trap.
/// A size must come to a whole number of MiB, which is what QEMU's `-m` is given.
public struct MemorySize: Codable, Sendable, Equatable, CustomStringConvertible {
    /// How a scalar reads as a memory size.
    public enum Reading: Sendable, Equatable {
        case mebibytes(Int)
        /// Well formed, but more than `Int` holds.
        case tooLarge
        /// Well formed, but not a whole number of MiB (e.g. `1000K`, `1.3G`).
        case fractionOfMiB
        case notASize
    }

    /// The syntax `read` accepts, as the JSON Schema pattern editors check.
    public static let pattern = "^[0-9]+(\\.[0-9]+)?[ \\t]*([KMGTkmgt][Ii]?[Bb]?)?$"

    public var mebibytes: Int

    public init(mebibytes: Int) { self.mebibytes = mebibytes }

    /// The size `text` names, or nil if it names none (`read` says why).
    public init?(parsing text: String) {
        guard case let .mebibytes(n) = Self.read(text) else { return nil }
        mebibytes = n
    }

    public static func read(_ text: String) -> Reading {
        let scalars = Array(text.unicodeScalars)
        var i = 0
        func digits() -> [UInt8] {
            var run: [UInt8] = []
            while i < scalars.count, let d = scalars[i].asciiDigit { run.append(d); i += 1 }
            return run
        }
        let whole = digits()
        guard !whole.isEmpty else { return .notASize }
        var fraction: [UInt8] = []
        if i < scalars.count, scalars[i] == "." {
            i += 1
            fraction = digits()
            guard !fraction.isEmpty else { return .notASize }
        }
        while i < scalars.count, scalars[i] == " " || scalars[i] == "\t" { i += 1 }
        // The unit in KiB; no unit means MiB.
        var unitKiB = 1024
        if i < scalars.count {
            switch scalars[i] {
            case "K", "k": unitKiB = 1
            case "M", "m": unitKiB = 1024
            case "G", "g": unitKiB = 1024 * 1024
            case "T", "t": unitKiB = 1024 * 1024 * 1024
            default: return .notASize
            }
            i += 1
            if i < scalars.count, scalars[i] == "i" || scalars[i] == "I" { i += 1 }
            if i < scalars.count, scalars[i] == "b" || scalars[i] == "B" { i += 1 }
            guard i == scalars.count else { return .notASize }
        }
        // Trailing zeros of the fraction change nothing; dropping them keeps 10^n small.
        while fraction.last == 0 { fraction.removeLast() }
        guard let wholeValue = decimal(whole), let kib = multiply(wholeValue, unitKiB) else { return .tooLarge }
        var total = kib
        if !fraction.isEmpty {
            guard fraction.count <= 18, let numerator = decimal(fraction), let scaled = multiply(numerator, unitKiB) else {
                return .fractionOfMiB
            }
            let denominator = (0..<fraction.count).reduce(1) { value, _ in value * 10 }
            guard scaled % denominator == 0 else { return .fractionOfMiB }
            let (sum, overflow) = total.addingReportingOverflow(scaled / denominator)
            if overflow { return .tooLarge }
            total = sum
        }
        guard total % 1024 == 0 else { return .fractionOfMiB }
        return .mebibytes(total / 1024)
    }

    private static func decimal(_ digits: [UInt8]) -> Int? {
        var value = 0
        for d in digits {
            guard let shifted = multiply(value, 10) else { return nil }
            let (next, overflow) = shifted.addingReportingOverflow(Int(d))
            if overflow { return nil }
            value = next
        }
        return value
    }

    private static func multiply(_ a: Int, _ b: Int) -> Int? {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : product
    }

    /// Decodes the scalar's text with `read` (a plain number is MiB), never with the YAML resolver.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard case let .mebibytes(n) = Self.read(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a memory size: \(UserText.quoted(text))")
        }
        mebibytes = n
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode("\(mebibytes)M")
    }

    public var description: String { mebibytes % 1024 == 0 ? "\(mebibytes / 1024)G" : "\(mebibytes)M" }
}

private extension Unicode.Scalar {
    var asciiDigit: UInt8? { ("0"..."9").contains(self) ? UInt8(value - 48) : nil }
}
