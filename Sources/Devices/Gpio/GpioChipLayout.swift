/// Which chip offset each of a block's lines is: given by the platform (`NAME=OFFSET`) or found
/// by the line's name among the chip's (`gpioinfo` shows them). Pure, so it is tested without a chip.
public enum GpioChipLayout {
    /// One line of the block: its name and, if given, its offset on the chip.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var offset: UInt32?
        public init(name: String, offset: UInt32?) {
            self.name = name
            self.offset = offset
        }
    }

    /// The offsets of `entries` on a chip whose lines are named `chipNames` (index = offset).
    public static func resolve(_ entries: [Entry], chipNames: [String], chip: String) throws(GpioProviderError) -> [UInt32] {
        var offsets: [UInt32] = [], used: Set<UInt32> = []
        for entry in entries {
            let offset: UInt32
            if let given = entry.offset {
                guard Int(given) < chipNames.count else { throw .badOffset(name: entry.name, offset: given, chipLines: chipNames.count) }
                offset = given
            } else {
                guard let found = chipNames.firstIndex(of: entry.name) else { throw .lineNotFound(name: entry.name, chip: chip) }
                offset = UInt32(found)
            }
            guard used.insert(offset).inserted else { throw .duplicateOffset(offset) }
            offsets.append(offset)
        }
        return offsets
    }
}

/// One `struct gpio_v2_line_event` (include/uapi/linux/gpio.h): u64 timestamp_ns, u32 id
/// (1 rising, 2 falling), u32 offset, u32 seqno, u32 line_seqno, u32 padding[6].
public struct GpioLineEvent: Sendable, Equatable {
    public static let size = 48
    public var nanoseconds: UInt64
    public var rising: Bool
    public var offset: UInt32
    public var lineSequence: UInt32

    public init(nanoseconds: UInt64, rising: Bool, offset: UInt32, lineSequence: UInt32) {
        self.nanoseconds = nanoseconds
        self.rising = rising
        self.offset = offset
        self.lineSequence = lineSequence
    }

    /// The events in `bytes` (whole events only; an unknown id is skipped).
    public static func parse(_ bytes: [UInt8]) -> [GpioLineEvent] {
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        var events: [GpioLineEvent] = []
        var at = 0
        while at + size <= bytes.count {
            let ns = UInt64(u32(at)) | UInt64(u32(at + 4)) << 32
            let id = u32(at + 8)
            if id == 1 || id == 2 {
                events.append(GpioLineEvent(nanoseconds: ns, rising: id == 1, offset: u32(at + 12), lineSequence: u32(at + 20)))
            }
            at += size
        }
        return events
    }
}
