import CAVPShim
import Glibc

/// A host GPIO chip (`/dev/gpiochipN`) through the GPIO v2 uAPI (Linux
/// Documentation/userspace-api/gpio/chardev.rst): its lines' names and one line request per
/// line, each its own descriptor whose reads return edge events.
public final class GpioCharacterDevice: Sendable {
    /// GPIO_V2_LINE_FLAG_* (include/uapi/linux/gpio.h).
    public struct LineFlags: OptionSet, Sendable {
        public let rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        public static let used = LineFlags(rawValue: 1 << 0)
        public static let input = LineFlags(rawValue: 1 << 2)
        public static let output = LineFlags(rawValue: 1 << 3)
        public static let edgeRising = LineFlags(rawValue: 1 << 4)
        public static let edgeFalling = LineFlags(rawValue: 1 << 5)
    }

    public let path: String
    public let descriptor: FileDescriptor
    public let name: String
    public let label: String
    public let lineCount: Int

    public init(path: String) throws(Errno) {
        self.path = path
        descriptor = try FileDescriptor.open(path, flags: O_RDWR | O_CLOEXEC)
        var nameBuffer = [CChar](repeating: 0, count: 32), labelBuffer = [CChar](repeating: 0, count: 32)
        var lines: UInt32 = 0
        let result = avp_gpio_chip_info(descriptor.rawValue, &nameBuffer, &labelBuffer, &lines)
        guard result == 0 else {
            descriptor.close()
            throw Errno(-result, call: "GPIO_GET_CHIPINFO_IOCTL")
        }
        name = Self.string(nameBuffer)
        label = Self.string(labelBuffer)
        lineCount = Int(lines)
    }

    deinit { descriptor.close() }

    /// Line `offset`'s name (empty if it has none) and flags.
    public func lineInfo(offset: UInt32) throws(Errno) -> (name: String, flags: LineFlags) {
        var nameBuffer = [CChar](repeating: 0, count: 32)
        var flags: UInt64 = 0
        let result = avp_gpio_line_info(descriptor.rawValue, offset, &nameBuffer, &flags)
        guard result == 0 else { throw Errno(-result, call: "GPIO_V2_GET_LINEINFO_IOCTL") }
        return (Self.string(nameBuffer), LineFlags(rawValue: flags))
    }

    /// Requests line `offset` alone with `flags` (and `value` when they ask for output).
    public func requestLine(offset: UInt32, flags: LineFlags, value: Bool, consumer: String) throws(Errno) -> FileDescriptor {
        let fd = avp_gpio_request_line(descriptor.rawValue, offset, flags.rawValue, value ? 1 : 0, consumer, 0)
        guard fd >= 0 else { throw Errno(-fd, call: "GPIO_V2_GET_LINE_IOCTL") }
        return FileDescriptor(adopting: fd)
    }

    /// GPIO_V2_LINE_SET_CONFIG_IOCTL on a one-line request.
    public static func configure(_ line: FileDescriptor, flags: LineFlags, value: Bool) throws(Errno) {
        let result = avp_gpio_line_set_config(line.rawValue, flags.rawValue, value ? 1 : 0)
        guard result == 0 else { throw Errno(-result, call: "GPIO_V2_LINE_SET_CONFIG_IOCTL") }
    }

    /// GPIO_V2_LINE_GET_VALUES_IOCTL on a one-line request.
    public static func value(of line: FileDescriptor) throws(Errno) -> Bool {
        let result = avp_gpio_line_get_value(line.rawValue)
        guard result >= 0 else { throw Errno(-result, call: "GPIO_V2_LINE_GET_VALUES_IOCTL") }
        return result == 1
    }

    /// GPIO_V2_LINE_SET_VALUES_IOCTL on a one-line request.
    public static func setValue(of line: FileDescriptor, _ value: Bool) throws(Errno) {
        let result = avp_gpio_line_set_value(line.rawValue, value ? 1 : 0)
        guard result == 0 else { throw Errno(-result, call: "GPIO_V2_LINE_SET_VALUES_IOCTL") }
    }

    /// Bytes of one `struct gpio_v2_line_event` as reads of a line request return it.
    public static var eventSize: Int { Int(avp_gpio_line_event_size()) }

    private static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
