import Logging
import Synchronization

/// AVP's touchscreen: a virtio-input device described as a multi-touch absolute pointer of
/// `width` x `height` pixels (INPUT_PROP_DIRECT, BTN_TOUCH and BTN_LEFT, ABS_X/Y and the
/// ABS_MT_* axes of protocol B), fed with `TouchAction`s from any thread.
///
/// When frames are lost (the guest did not take them, or no driver ran), the next frame is the
/// whole touch state (`TouchTranslator.snapshot`), so the guest never keeps a contact the host
/// has released.
public final class Touchscreen: Sendable {
    public static let defaultName = "AVP touch"
    /// Sides a touchscreen may have, in pixels.
    public static let sides = 1...16384

    public let device: InputDevice
    public let width: Int
    public let height: Int

    private struct State {
        var translator: TouchTranslator
        /// The guest may not have the state the translator has: send a snapshot next.
        var stale = false
    }
    private let state: Mutex<State>

    public init(width: Int, height: Int, name: String = Touchscreen.defaultName, logger: Logger) throws {
        precondition(Self.sides.contains(width) && Self.sides.contains(height), "touchscreen of \(width)x\(height)")
        self.width = width
        self.height = height
        device = try InputDevice(description: .touchscreen(width: width, height: height, name: name), logger: logger)
        state = Mutex(State(translator: TouchTranslator(width: width, height: height)))
    }

    /// Sends one touch to the guest (if it changes anything).
    public func apply(_ action: TouchAction) {
        state.withLock { s in
            guard let frame = s.translator.frame(for: action) else { return }
            var outcome = device.inject(s.stale ? s.translator.snapshot() : frame)
            if case .queuedDroppingOlder = outcome { outcome = device.inject(s.translator.snapshot()) }
            s.stale = !outcome.reachesGuest
        }
    }
}

extension InputDeviceDescription {
    /// The description `Touchscreen` gives its driver. Axis maxima are the last pixel; the
    /// device IDs are AVP's own ("AV", touch 1) on BUS_VIRTUAL.
    public static func touchscreen(width: Int, height: Int, name: String = Touchscreen.defaultName) -> InputDeviceDescription {
        let x = AxisRange(minimum: 0, maximum: Int32(clamping: width - 1))
        let y = AxisRange(minimum: 0, maximum: Int32(clamping: height - 1))
        return InputDeviceDescription(
            name: name, serial: "avp-touch-\(width)x\(height)",
            identity: Identity(bus: InputCode.Bus.virtual, vendor: 0x4156, product: 0x0001, version: 1),
            properties: [InputCode.Property.direct],
            events: [InputCode.EventType.key: [InputCode.Key.left, InputCode.Key.touch],
                     InputCode.EventType.absolute: [InputCode.Axis.x, InputCode.Axis.y, InputCode.Axis.multiTouchSlot,
                                                    InputCode.Axis.multiTouchPositionX, InputCode.Axis.multiTouchPositionY,
                                                    InputCode.Axis.multiTouchTrackingID]],
            axes: [InputCode.Axis.x: x, InputCode.Axis.y: y,
                   InputCode.Axis.multiTouchSlot: AxisRange(minimum: 0, maximum: Int32(TouchTranslator.contacts - 1)),
                   InputCode.Axis.multiTouchPositionX: x, InputCode.Axis.multiTouchPositionY: y,
                   InputCode.Axis.multiTouchTrackingID: AxisRange(minimum: 0, maximum: TouchTranslator.maxTrackingID)])
    }
}
