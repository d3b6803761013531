/// One option of a device kind: its key in the platform file and its schema, written
/// once; the schema, the JSON Schema, the decoding and the foreign-option check all
/// come from this list.
public protocol DeviceOption: Sendable {
    var name: String { get }
    var schema: SchemaValue { get }
}

/// An option whose value reads as `Value`; `options[key]` gives it typed.
public struct OptionKey<Value: OptionValueType>: DeviceOption {
    public let name: String
    public let schema: SchemaValue

    public init(_ name: String, _ schema: SchemaValue) {
        self.name = name
        self.schema = schema
    }
}
