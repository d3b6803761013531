import ArgumentParser
import VhostUser

/// `--vm name=NAME,listen=SOCKET|connect=SOCKET`: one VM of a server that serves several (the GPU
/// and I2C servers), by the name the platform gives it and the endpoint its VMM meets.
public struct VMEndpointOption: Sendable, Equatable {
    public var name: String
    public var endpoint: VhostUserServer.Endpoint

    public init(name: String, endpoint: VhostUserServer.Endpoint) {
        self.name = name
        self.endpoint = endpoint
    }

    public init(parsing text: String) throws {
        let fields = try KeyValueList(parsing: text, what: "vm \(UserText.quoted(text))", known: ["name", "listen", "connect"])
        let name = try fields.required("name")
        guard Self.isValidName(name) else { throw ValidationError("vm \(UserText.quoted(text)): name= is a VM name such as ivi") }
        self.init(name: name, endpoint: try fields.endpoint())
    }

    /// A platform's VM name: 1 to 31 of a-z, 0-9 and '-'.
    public static func isValidName(_ name: String) -> Bool {
        (1...31).contains(name.utf8.count) && name.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d }
    }

    public var text: String {
        var fields = KeyValueList(what: "vm")
        fields.append("name", name)
        fields.append(endpoint)
        return fields.text
    }
}
