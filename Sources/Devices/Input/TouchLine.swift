/// Why a line of the touch events protocol was ignored.
public enum TouchLineError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLong
    case notText
    case unknownCommand(String)
    case argumentCount(command: String, expected: String, got: Int)
    case badNumber(String)
    case contactOutOfRange(Int)

    public var description: String {
        switch self {
        case .tooLong: "longer than \(TouchLine.maxLength) bytes"
        case .notText: "not printable ASCII"
        case let .unknownCommand(c): "unknown command '\(c)' (touch, move or release)"
        case let .argumentCount(c, expected, got): "'\(c)' takes \(expected), not \(got) numbers"
        case let .badNumber(t): "'\(t)' is not a whole number of at most \(TouchLine.maxDigits) digits"
        case let .contactOutOfRange(c): "contact \(c) is not 0 to \(TouchTranslator.contacts - 1)"
        }
    }
}

/// The host's touch events protocol, one line per touch (the events socket of `avp serve input`):
///
///     touch X Y [CONTACT]     a contact touches at X, Y (pixels, 0,0 top left)
///     move X Y [CONTACT]      it moves there
///     release [CONTACT]       it lets go
///
/// CONTACT is 0 to 9 (default 0); numbers are decimal digits; words are separated by spaces or
/// tabs; a trailing CR is allowed; a blank line means nothing. Coordinates beyond the screen are
/// clamped to its edge by the touchscreen.
public enum TouchLine {
    /// Longest line, without its newline.
    public static let maxLength = 64
    static let maxDigits = 5

    /// The touch a line asks for, nil for a blank line.
    public static func parse(_ line: [UInt8]) throws(TouchLineError) -> TouchAction? {
        var bytes = line[...]
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        guard bytes.count <= maxLength else { throw .tooLong }
        guard bytes.allSatisfy({ (0x20...0x7e).contains($0) || $0 == 0x09 }) else { throw .notText }
        let words = bytes.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map { String(decoding: $0, as: UTF8.self) }
        guard let command = words.first else { return nil }
        guard ["touch", "move", "release"].contains(command) else { throw .unknownCommand(command) }
        var numbers: [Int] = []
        for word in words.dropFirst() { numbers.append(try number(word)) }
        switch command {
        case "touch", "move":
            guard numbers.count == 2 || numbers.count == 3 else {
                throw .argumentCount(command: command, expected: "X Y [CONTACT]", got: numbers.count)
            }
            let contact = try self.contact(numbers.count == 3 ? numbers[2] : 0)
            return command == "touch" ? .touch(contact: contact, x: numbers[0], y: numbers[1])
                                      : .move(contact: contact, x: numbers[0], y: numbers[1])
        case "release":
            guard numbers.count <= 1 else { throw .argumentCount(command: command, expected: "[CONTACT]", got: numbers.count) }
            return .release(contact: try contact(numbers.first ?? 0))
        default:
            throw .unknownCommand(command)
        }
    }

    private static func number(_ word: String) throws(TouchLineError) -> Int {
        guard (1...maxDigits).contains(word.utf8.count), word.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw .badNumber(word)
        }
        return word.utf8.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    private static func contact(_ value: Int) throws(TouchLineError) -> Int {
        guard (0..<TouchTranslator.contacts).contains(value) else { throw .contactOutOfRange(value) }
        return value
    }
}
