/// Where a GPIO block's lines are: simulated lines in memory (`SimulatedGpioLines`) or a host
/// GPIO character device (`GpioChipLines`, the GPIO v2 uAPI). `GpioBlock` is the provider's one
/// user: it calls `configure`, `value` and `setHostLevel` under its lock, and gets the host's
/// asynchronous changes (a chip line's edge) through `start`'s callback.
public protocol GpioLineProvider: AnyObject, Sendable {
    /// The lines' names, in the provider's order (a line's index is its place here).
    var lineNames: [String] { get }
    /// Where the lines are, for messages: "simulated", "/dev/gpiochip0".
    var source: String { get }
    /// Whether the host sets the lines' input levels (`setHostLevel`): simulated lines only.
    var isSimulated: Bool { get }
    /// Makes `line` an input, or an output driving `value`.
    func configure(line: Int, _ mode: GpioLineMode) throws(GpioProviderError)
    /// The level on `line` now: the driven value of an output, the sensed level of an input.
    func value(of line: Int) throws(GpioProviderError) -> Bool
    /// The level the host applies to input `line` (simulated lines; a chip refuses).
    func setHostLevel(line: Int, _ value: Bool) throws(GpioProviderError)
    /// Starts reporting asynchronous host-side changes (line, new level) from any thread;
    /// the callback must not be called while the provider holds a lock of its own.
    func start(reporting: @escaping @Sendable (Int, Bool) -> Void) throws(GpioProviderError)
    func stop()
}

/// What a line is set to.
public enum GpioLineMode: Sendable, Equatable {
    case input
    case output(Bool)
}

public enum GpioProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    case noSuchLine(Int)
    case notSimulated(source: String)
    case chip(path: String, operation: String, errno: Int32)
    case lineNotFound(name: String, chip: String)
    case badOffset(name: String, offset: UInt32, chipLines: Int)
    case duplicateOffset(UInt32)

    public var description: String {
        switch self {
        case let .noSuchLine(l): "no line \(l)"
        case let .notSimulated(source): "the line's level comes from \(source), not from the host's control socket"
        case let .chip(path, operation, errno): "\(path): \(operation) failed: errno \(errno)"
        case let .lineNotFound(name, chip): "\(chip) has no line named '\(name)'; give its offset (NAME=OFFSET)"
        case let .badOffset(name, offset, lines): "line '\(name)': offset \(offset) is not below the chip's \(lines) lines"
        case let .duplicateOffset(offset): "offset \(offset) is given to two lines"
        }
    }
}
