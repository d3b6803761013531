import Glibc
import Logging
import Synchronization
import SystemCalls

/// A block's lines on a host GPIO chip (`/dev/gpiochipN`, the GPIO v2 uAPI): each line is
/// requested alone, as an input with both edges detected, and reconfigured in place
/// (GPIO_V2_LINE_SET_CONFIG_IOCTL) when a guest makes it an output. One thread reads the
/// inputs' edge events and reports them to the block. The server holds the lines from start to
/// stop, so no other host program drives them meanwhile. A line whose chip has no interrupt
/// for it (an I/O expander without its IRQ wired: the kernel refuses edge detection) is
/// requested as a plain input instead, with a log line: it reads and drives, but its changes
/// reach guests only when they read it, never as an interrupt.
///
/// Proven against a real kernel chip (gpio-sim, in a guest of AVP's own kernel:
/// Tests/GuestTests/GpioChipGuestTests.swift); the layout and event decoding are unit-tested.
public final class GpioChipLines: GpioLineProvider, @unchecked Sendable {
    public let lineNames: [String]
    public let source: String
    public let isSimulated = false
    public let offsets: [UInt32]

    private static let edgeInputFlags: GpioCharacterDevice.LineFlags = [.input, .edgeRising, .edgeFalling]
    private let chip: GpioCharacterDevice
    private let requests: [FileDescriptor]
    /// Each line's flags as an input: with edge detection where the chip can interrupt.
    private let inputFlags: [GpioCharacterDevice.LineFlags]
    private let logger: Logger
    private let epoll: Epoll
    private let stopEvent: EventFD
    private let thread = Mutex<OSThread?>(nil)

    public init(path: String, lines: [GpioChipLayout.Entry], logger: Logger) throws(GpioProviderError) {
        source = path
        self.logger = logger
        do {
            chip = try GpioCharacterDevice(path: path)
            var chipNames: [String] = []
            for offset in 0..<UInt32(chip.lineCount) { chipNames.append(try chip.lineInfo(offset: offset).name) }
            offsets = try GpioChipLayout.resolve(lines, chipNames: chipNames, chip: path)
            var requests: [FileDescriptor] = []
            var inputFlags: [GpioCharacterDevice.LineFlags] = []
            for (offset, entry) in zip(offsets, lines) {
                let (request, flags) = try Self.requestInput(chip, offset: offset)
                if flags != Self.edgeInputFlags {
                    logger.warning("gpio: \(path) line \(offset) ('\(entry.name)') has no interrupt: served without edge interrupts")
                }
                requests.append(request)
                inputFlags.append(flags)
            }
            self.requests = requests
            self.inputFlags = inputFlags
            epoll = try Epoll()
            stopEvent = try EventFD()
            try epoll.add(stopEvent.rawValue, token: UInt64.max)
            for (i, request) in requests.enumerated() {
                try request.setNonBlocking()
                try epoll.add(request.rawValue, token: UInt64(i))
            }
        } catch let error as Errno {
            throw .chip(path: path, operation: error.call, errno: error.code)
        } catch let error as GpioProviderError {
            throw error
        } catch {
            throw .chip(path: path, operation: "\(error)", errno: 0)
        }
        lineNames = lines.map(\.name)
    }

    deinit { for r in requests { r.close() } }

    /// Requests `offset` as an input with both edges detected, or as a plain input where the
    /// kernel cannot detect edges on it (gpio-cdev needs the line's IRQ: ENXIO or ENODEV).
    private static func requestInput(_ chip: GpioCharacterDevice, offset: UInt32) throws(Errno) -> (FileDescriptor, GpioCharacterDevice.LineFlags) {
        do {
            return (try chip.requestLine(offset: offset, flags: edgeInputFlags, value: false, consumer: "avp-gpio"), edgeInputFlags)
        } catch {
            guard error.code == ENXIO || error.code == ENODEV else { throw error }
            return (try chip.requestLine(offset: offset, flags: .input, value: false, consumer: "avp-gpio"), .input)
        }
    }

    public func configure(line: Int, _ mode: GpioLineMode) throws(GpioProviderError) {
        guard requests.indices.contains(line) else { throw .noSuchLine(line) }
        do {
            switch mode {
            case .input: try GpioCharacterDevice.configure(requests[line], flags: inputFlags[line], value: false)
            case let .output(value): try GpioCharacterDevice.configure(requests[line], flags: .output, value: value)
            }
        } catch { throw .chip(path: source, operation: error.call, errno: error.code) }
    }

    public func value(of line: Int) throws(GpioProviderError) -> Bool {
        guard requests.indices.contains(line) else { throw .noSuchLine(line) }
        do { return try GpioCharacterDevice.value(of: requests[line]) } catch {
            throw .chip(path: source, operation: error.call, errno: error.code)
        }
    }

    public func setHostLevel(line: Int, _ value: Bool) throws(GpioProviderError) { throw .notSimulated(source: source) }

    public func start(reporting: @escaping @Sendable (Int, Bool) -> Void) throws(GpioProviderError) {
        do {
            let started = try OSThread(name: "avp-gpio-chip") { [self] in run(reporting) }
            thread.withLock { $0 = started }
        } catch { throw .chip(path: source, operation: "thread", errno: error.code) }
    }

    public func stop() {
        stopEvent.signal()
        thread.withLock { t -> OSThread? in
            defer { t = nil }
            return t
        }?.join()
    }

    private func run(_ report: @Sendable (Int, Bool) -> Void) {
        var buffer = [UInt8](repeating: 0, count: GpioLineEvent.size * 16)
        while true {
            guard let events = try? epoll.wait(timeoutMilliseconds: -1) else { return }
            for event in events {
                guard event.token != UInt64.max else { return }
                let line = Int(event.token)
                guard requests.indices.contains(line) else { continue }
                let count = buffer.withUnsafeMutableBytes { (try? requests[line].read(into: $0)) ?? 0 }
                for e in GpioLineEvent.parse(Array(buffer[..<count])) { report(line, e.rising) }
            }
        }
    }
}
