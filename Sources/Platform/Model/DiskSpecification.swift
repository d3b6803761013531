import ArgumentParser
import Devices
import ServerCommands

/// A disk given on the command line of `avp run`:
/// `PATH[,ro][,direct][,serial=ID][,queues=N][,cache=writeback|writethrough]`.
public struct DiskSpecification: Sendable {
    public var options: BlockDeviceOptions

    public init(parsing text: String) throws {
        let path = text.prefix { $0 != "," }
        guard !path.isEmpty else { throw ValidationError("disk: missing image path in \(UserText.quoted(text))") }
        let rest = text.dropFirst(path.count + 1)
        let fields = rest.isEmpty ? KeyValueList(what: "disk") :
            try KeyValueList(parsing: String(rest), what: "disk \(UserText.quoted(text))",
                             known: ["serial", "queues", "cache"], flags: ["ro", "readonly", "direct"])
        var options = BlockDeviceOptions(imagePath: String(path))
        options.readOnly = fields.has("ro") || fields.has("readonly")
        options.direct = fields.has("direct")
        options.serial = fields.value("serial") ?? ""
        if let value = fields.value("queues") {
            let queues = PlatformLimits.blockQueues
            guard case let .value(n) = WholeNumber.read(value), queues.contains(n) else {
                throw ValidationError("disk: queues=\(UserText.shortened(value)) is not from \(queues.lowerBound) to \(queues.upperBound)")
            }
            options.queueCount = n
        }
        if let value = fields.value("cache") {
            guard let mode = BlockDeviceOptions.CacheMode(rawValue: value) else {
                throw ValidationError("disk: cache=\(UserText.shortened(value)): use writeback or writethrough")
            }
            options.cache = mode
        }
        self.options = options
    }
}
