import Devices

/// A disk given on the command line: `PATH[,ro][,serial=ID][,queues=N][,cache=writeback|writethrough][,direct]`.
public struct DiskSpecification: Sendable {
    public var options: BlockDeviceOptions

    public init(parsing text: String) throws {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let path = parts.first, !path.isEmpty else { throw PlatformError.invalidArgument("disk: missing image path in \(UserText.quoted(text))") }
        var options = BlockDeviceOptions(imagePath: path)
        for part in parts.dropFirst() {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            switch (kv[0], kv.count == 2 ? kv[1] : nil) {
            case ("ro", nil), ("readonly", nil): options.readOnly = true
            case ("direct", nil): options.direct = true
            case let ("serial", value?): options.serial = value
            case let ("queues", value?):
                let queues = PlatformLimits.blockQueues
                guard case let .value(n) = WholeNumber.read(value), queues.contains(n) else {
                    throw PlatformError.invalidArgument("disk: queues=\(UserText.shortened(value)) is not from \(queues.lowerBound) to \(queues.upperBound)")
                }
                options.queueCount = n
            case let ("cache", value?):
                guard let mode = BlockDeviceOptions.CacheMode(rawValue: value) else {
                    throw PlatformError.invalidArgument("disk: cache=\(value): use writeback or writethrough")
                }
                options.cache = mode
            default:
                throw PlatformError.invalidArgument("disk: unknown option '\(part)' (known: ro, direct, serial=, queues=, cache=)")
            }
        }
        self.options = options
    }
}
