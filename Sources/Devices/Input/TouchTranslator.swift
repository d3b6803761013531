/// Turns touches into input frames: Linux's multi-touch protocol B (ABS_MT_SLOT,
/// ABS_MT_TRACKING_ID, ABS_MT_POSITION_X/Y per contact; Documentation/input/multi-touch-protocol.rst)
/// with single-touch emulation beside it (ABS_X/Y follow the oldest contact, BTN_TOUCH and
/// BTN_LEFT are down while any contact is), so drivers and programs that know only one pointer
/// work too. Coordinates are clamped to the panel. Pure state; the caller serialises calls.
struct TouchTranslator: Sendable {
    /// Simultaneous contacts (slots 0 to 9).
    static let contacts = 10
    /// Tracking IDs run 0 to 65535 and wrap (Linux's TRKID_MAX).
    static let maxTrackingID: Int32 = 0xffff

    private struct Contact {
        var trackingID: Int32
        var x: Int32
        var y: Int32
        /// When it started touching, to find the oldest.
        var since: Int
    }

    /// The emulated single pointer as last sent: only changes are sent again.
    private struct Pointer: Equatable {
        var x: Int32?
        var y: Int32?
        var touching = false
    }

    let width: Int
    let height: Int
    private var active: [Int: Contact] = [:]
    private var sent = Pointer()
    private var nextTrackingID: Int32 = 0
    private var touches = 0

    init(width: Int, height: Int) {
        precondition(width > 0 && height > 0)
        self.width = width
        self.height = height
    }

    /// The frame that carries `action` to the guest (without its SYN_REPORT), or nil when it
    /// changes nothing (a move or release of a contact that does not touch, a contact out of range).
    mutating func frame(for action: TouchAction) -> [InputEvent]? {
        let slot = action.contact
        guard (0..<Self.contacts).contains(slot) else { return nil }
        var events = [InputEvent.absolute(InputCode.Axis.multiTouchSlot, Int32(slot))]
        switch action {
        case let .touch(_, x, y) where active[slot] == nil:
            let id = nextTrackingID
            nextTrackingID = id == Self.maxTrackingID ? 0 : id + 1
            touches += 1
            active[slot] = Contact(trackingID: id, x: clamp(x, width), y: clamp(y, height), since: touches)
            events.append(.absolute(InputCode.Axis.multiTouchTrackingID, id))
        case let .touch(_, x, y), let .move(_, x, y):
            guard active[slot] != nil else { return nil }
            active[slot]!.x = clamp(x, width)
            active[slot]!.y = clamp(y, height)
        case .release:
            guard active.removeValue(forKey: slot) != nil else { return nil }
            events.append(.absolute(InputCode.Axis.multiTouchTrackingID, -1))
        }
        if let contact = active[slot] {
            events += [.absolute(InputCode.Axis.multiTouchPositionX, contact.x), .absolute(InputCode.Axis.multiTouchPositionY, contact.y)]
        }
        return events + pointer(changesOnly: true)
    }

    /// The whole state as one frame: every slot (touching or ended) and the emulated pointer.
    /// What the guest is sent after frames were lost, so it ends up where the host is.
    mutating func snapshot() -> [InputEvent] {
        var events: [InputEvent] = []
        for slot in 0..<Self.contacts {
            events.append(.absolute(InputCode.Axis.multiTouchSlot, Int32(slot)))
            if let c = active[slot] {
                events += [.absolute(InputCode.Axis.multiTouchTrackingID, c.trackingID),
                           .absolute(InputCode.Axis.multiTouchPositionX, c.x), .absolute(InputCode.Axis.multiTouchPositionY, c.y)]
            } else {
                events.append(.absolute(InputCode.Axis.multiTouchTrackingID, -1))
            }
        }
        return events + pointer(changesOnly: false)
    }

    /// Contacts touching now.
    var touching: Int { active.count }

    /// The emulated pointer's events: the oldest contact's position, and the buttons.
    private mutating func pointer(changesOnly: Bool) -> [InputEvent] {
        let oldest = active.values.min { $0.since < $1.since }
        let now = Pointer(x: oldest?.x ?? sent.x, y: oldest?.y ?? sent.y, touching: oldest != nil)
        var events: [InputEvent] = []
        if let x = now.x, !changesOnly || x != sent.x { events.append(.absolute(InputCode.Axis.x, x)) }
        if let y = now.y, !changesOnly || y != sent.y { events.append(.absolute(InputCode.Axis.y, y)) }
        if !changesOnly || now.touching != sent.touching {
            events += [.key(InputCode.Key.touch, pressed: now.touching), .key(InputCode.Key.left, pressed: now.touching)]
        }
        sent = now
        return events
    }

    private func clamp(_ value: Int, _ limit: Int) -> Int32 { Int32(min(max(value, 0), limit - 1)) }
}
