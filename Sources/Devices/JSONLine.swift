#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// The control sockets' encoding: one JSON object per line, keys sorted (stable for tests and
/// people reading a capture), no newline inside. The caller adds the newline when sending.
public enum JSONLine {
    public static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { [UInt8]($0) } ?? Array("{}".utf8)
    }

    /// A line of at most `maxLine` bytes as `T`; nil if it is too long or not one.
    public static func decode<T: Decodable>(_ type: T.Type, from line: [UInt8], maxLine: Int) -> T? {
        guard line.count <= maxLine else { return nil }
        return try? JSONDecoder().decode(type, from: Data(line))
    }
}
