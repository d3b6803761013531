import Synchronization

/// An LM75-style digital temperature sensor (register map of TI's/NXP's LM75A data sheets,
/// Linux's `lm75` driver) whose temperature the host sets (`setCelsius`, the control socket).
///
/// Registers, chosen by the pointer (a write's first byte; 0–3, others not acknowledged):
/// - 0 temperature, read-only: 16 bits, most significant byte first; the temperature in 0.5 °C
///   steps as a 9-bit two's complement number in bits 15–7, bits 6–0 zero
///   (+21.5 °C = 0x1580, −0.5 °C = 0xFF80, −55 °C = 0xC900, +125 °C = 0x7D00);
/// - 1 configuration: 8 bits, stored and read back (no effect: no alarm output);
/// - 2 T_HYST (default 75 °C, 0x4B00) and 3 T_OS (default 80 °C, 0x5000): 16 bits as register 0,
///   stored and read back.
/// A read returns the pointed register's bytes over and over (MSB, LSB, MSB, …) and never moves
/// the pointer. Note for SMBus reads: `i2cget … w` (read word) takes the low byte first, so it
/// shows the register byte-swapped: 21.5 °C reads 0x8015.
public final class TemperatureSensor: I2cEmulatedTarget, @unchecked Sendable {
    /// What an LM75 measures.
    public static let range: ClosedRange<Double> = -55...125

    private struct State {
        var halfDegrees: Int16
        var pointer: UInt8 = 0
        var configuration: UInt8 = 0
        var hysteresis: UInt16 = 0x4B00
        var overTemperature: UInt16 = 0x5000
    }
    private let state: Mutex<State>

    /// A sensor reading `celsius` (rounded to 0.5 °C); nil outside `range`.
    public init?(celsius: Double) {
        guard let half = Self.halfDegrees(celsius) else { return nil }
        state = Mutex(State(halfDegrees: half))
    }

    /// The temperature the sensor reads now, in °C (a multiple of 0.5).
    public var celsius: Double { Double(state.withLock { $0.halfDegrees }) / 2 }

    /// Sets the temperature (from any thread); false, unchanged, outside `range` or not finite.
    @discardableResult
    public func setCelsius(_ celsius: Double) -> Bool {
        guard let half = Self.halfDegrees(celsius) else { return false }
        state.withLock { $0.halfDegrees = half }
        return true
    }

    /// `celsius` in 0.5 °C steps, rounded to the nearest; nil outside `range`.
    public static func halfDegrees(_ celsius: Double) -> Int16? {
        guard celsius.isFinite, range.contains(celsius) else { return nil }
        return Int16((celsius * 2).rounded())
    }

    /// The temperature register's value for `halfDegrees`.
    public static func register(halfDegrees: Int16) -> UInt16 { UInt16(bitPattern: halfDegrees << 7) }

    /// The temperature a register value means, in °C (bits 6–0 ignored).
    public static func celsius(register: UInt16) -> Double { Double(Int16(bitPattern: register) >> 7) / 2 }

    public func write(_ bytes: [UInt8]) -> Bool {
        guard let pointer = bytes.first else { return true }
        guard pointer <= 3 else { return false }
        let data = bytes.dropFirst()
        return state.withLock { s in
            s.pointer = pointer
            guard !data.isEmpty else { return true }
            let word = UInt16(data.first!) << 8 | UInt16(data.dropFirst().first ?? 0)
            switch pointer {
            case 1: s.configuration = data.first!
            case 2: s.hysteresis = word & 0xFF80
            case 3: s.overTemperature = word & 0xFF80
            default: return false  // the temperature register is read-only
            }
            return true
        }
    }

    public func read(count: Int) -> [UInt8]? {
        state.withLock { s in
            let bytes: [UInt8]
            switch s.pointer {
            case 0: bytes = Self.bigEndian(Self.register(halfDegrees: s.halfDegrees))
            case 1: bytes = [s.configuration]
            case 2: bytes = Self.bigEndian(s.hysteresis)
            default: bytes = Self.bigEndian(s.overTemperature)
            }
            return (0..<count).map { bytes[$0 % bytes.count] }
        }
    }

    private static func bigEndian(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
}
