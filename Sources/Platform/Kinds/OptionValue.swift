import Yams
import ServerCommands

/// A device option's value as the platform file writes it, kept as text: the schema
/// has checked its shape, and each `DeviceOption` reads it into its type (numbers with
/// `WholeNumber`, never with the YAML resolver).
public enum OptionValue: Decodable, Sendable, Equatable {
    case scalar(String)
    case list([OptionValue])

    public init(from decoder: Decoder) throws {
        if var items = try? decoder.unkeyedContainer() {
            var list: [OptionValue] = []
            while !items.isAtEnd { list.append(try items.decode(OptionValue.self)) }
            self = .list(list)
        } else {
            self = .scalar(try decoder.singleValueContainer().decode(String.self))
        }
    }
}

/// The options written for one device or shared server (every key but `type`, `name`
/// and `server`), read through the kind's `DeviceOption` keys.
public struct DeviceOptions: Decodable, Sendable, Equatable {
    public var values: [String: OptionValue]

    public init(_ values: [String: OptionValue] = [:]) { self.values = values }

    /// Keys the container holds that are not the given structural ones.
    init(from decoder: Decoder, excluding structural: Set<String>) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        var values: [String: OptionValue] = [:]
        for key in container.allKeys where !structural.contains(key.stringValue) {
            values[key.stringValue] = try container.decode(OptionValue.self, forKey: key)
        }
        self.values = values
    }

    public init(from decoder: Decoder) throws { try self.init(from: decoder, excluding: []) }

    public var isEmpty: Bool { values.isEmpty }

    public subscript<Value>(_ option: OptionKey<Value>) -> Value? {
        values[option.name].flatMap(Value.read)
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// A type an option's value reads into.
public protocol OptionValueType: Sendable {
    static func read(_ value: OptionValue) -> Self?
}

extension String: OptionValueType {
    public static func read(_ value: OptionValue) -> String? {
        if case let .scalar(text) = value { return text }
        return nil
    }
}

extension Bool: OptionValueType {
    /// YAML's booleans, as the schema check accepted them.
    public static func read(_ value: OptionValue) -> Bool? {
        if case let .scalar(text) = value { return Node.scalar(.init(text)).bool }
        return nil
    }
}

extension WholeNumber: OptionValueType {
    public static func read(_ value: OptionValue) -> WholeNumber? {
        guard case let .scalar(text) = value, case let .value(n) = WholeNumber.read(text) else { return nil }
        return WholeNumber(n)
    }
}

extension MemorySize: OptionValueType {
    public static func read(_ value: OptionValue) -> MemorySize? {
        guard case let .scalar(text) = value, case let .mebibytes(n) = MemorySize.read(text) else { return nil }
        return MemorySize(mebibytes: n)
    }
}

extension Array: OptionValueType where Element: OptionValueType {
    public static func read(_ value: OptionValue) -> [Element]? {
        guard case let .list(items) = value else { return nil }
        let read = items.compactMap(Element.read)
        return read.count == items.count ? read : nil
    }
}
