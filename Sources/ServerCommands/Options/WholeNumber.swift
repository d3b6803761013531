/// A whole number in a platform file: decimal digits with an optional sign, as JSON
/// Schema's `integer` means it.
///
/// AVP reads numbers itself instead of through Yams' YAML 1.1 resolver. That resolver
/// also takes sexagesimal (`1:30` is 90), octal (`010` is 8) and `_` separators, and
/// its sexagesimal arithmetic traps on overflow (`cpus: 1:1:1:1:1:1:1:1:1:1:1:1`
/// crashed `avp check`). Here, nothing a file contains can trap: too many digits is
/// a value like any other, reported with the allowed range.
public struct WholeNumber: Codable, Sendable, Equatable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// How a scalar reads as a whole number.
    public enum Reading: Sendable, Equatable {
        case value(Int)
        /// Digits, but more than `Int` holds: outside every range a platform file allows.
        case tooLarge
        /// `010`: YAML 1.1 tools read it as octal 8, others as 10; AVP refuses to guess.
        case leadingZero
        case notANumber
    }

    public var value: Int

    public init(_ value: Int) { self.value = value }
    public init(integerLiteral value: Int) { self.value = value }

    public static func read(_ text: String) -> Reading {
        var digits = Substring(text)
        var negative = false
        if let sign = digits.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return .notANumber }
        if digits.count > 1, digits.first == "0" { return .leadingZero }
        var value = 0
        for digit in digits.utf8 {
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = shifted.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
            if o1 || o2 { return .tooLarge }
            value = next
        }
        return .value(negative ? -value : value)
    }

    /// Decodes the scalar's text with `read`, never with the YAML resolver.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard case let .value(value) = Self.read(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a whole number: \(UserText.quoted(text))")
        }
        self.value = value
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }

    public var description: String { String(value) }
}
