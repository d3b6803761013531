/// The Linux input-layer values AVP's touch device uses (include/uapi/linux/input.h and
/// input-event-codes.h). virtio-input carries them unchanged: "the device's event types,
/// codes and configuration bitmaps are those of Linux evdev" (VIRTIO 1.2 §5.8).
public enum InputCode {
    /// `EV_*`: event types, also the `subsel` of an EV_BITS configuration query.
    public enum EventType {
        public static let synchronization: UInt16 = 0x00
        public static let key: UInt16 = 0x01
        public static let absolute: UInt16 = 0x03
        public static let led: UInt16 = 0x11
    }

    /// `SYN_*`: codes of EV_SYN.
    public enum Synchronization {
        /// Ends a frame: the guest applies the events before it at once.
        public static let report: UInt16 = 0x00
    }

    /// `BTN_*`: codes of EV_KEY.
    public enum Key {
        public static let left: UInt16 = 0x110
        public static let touch: UInt16 = 0x14a
    }

    /// `ABS_*`: codes of EV_ABS.
    public enum Axis {
        public static let x: UInt16 = 0x00
        public static let y: UInt16 = 0x01
        /// Multi-touch protocol B: which contact the following ABS_MT_* events are about.
        public static let multiTouchSlot: UInt16 = 0x2f
        public static let multiTouchPositionX: UInt16 = 0x35
        public static let multiTouchPositionY: UInt16 = 0x36
        /// A contact's identity while it touches; -1 ends the contact.
        public static let multiTouchTrackingID: UInt16 = 0x39
    }

    /// `INPUT_PROP_*`: device properties (bits of the PROP_BITS query).
    public enum Property {
        /// Coordinates are those of the screen the device lies on (a touchscreen, not a touchpad).
        public static let direct: UInt16 = 0x01
    }

    /// `BUS_*`: bus types of the ID_DEVIDS query.
    public enum Bus {
        public static let virtual: UInt16 = 0x06
    }

    /// Codes per type are below this (KEY_CNT is 0x300, the largest): a bitmap of 128 bytes holds them.
    public static let codeLimit: UInt16 = 1024
}
