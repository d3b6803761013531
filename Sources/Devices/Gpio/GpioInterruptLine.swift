/// One line's interrupt as VIRTIO 1.2 §5.17.6.1 and §5.17.7 describe it: enabled by a trigger
/// (SET_IRQ_TYPE), unmasked by the driver's eventq buffer, masked again when the device returns
/// that buffer. Edge triggers latch an edge while masked; level triggers never latch, but fire
/// again as soon as the driver re-arms while the line is still at its active level. Pure: the
/// device gives it the events and completes the buffers it hands back.
struct GpioInterruptLine<Buffer> {
    /// A buffer to return to the driver, with the status to write into it.
    enum Outcome {
        case valid(Buffer)
        case invalid(Buffer)
    }

    private(set) var trigger = GpioTrigger.none
    /// An edge arrived while masked (edge triggers only).
    private(set) var latched = false
    /// The driver's buffer: the interrupt is unmasked while the device holds it.
    private(set) var buffer: Buffer?

    /// SET_IRQ_TYPE with the line at `level`. Disabling returns the buffer unused and drops a
    /// latched edge (§5.17.6.1 device requirements); enabling latches from now on.
    mutating func setTrigger(_ new: GpioTrigger, level: Bool) -> Outcome? {
        trigger = new
        latched = false
        guard new != .none else { return takeBuffer().map(Outcome.invalid) }
        return fireIfLevelActive(level)
    }

    /// The driver queued its buffer (unmask). A buffer for a disabled interrupt comes straight
    /// back invalid, as does a second buffer for the same line (the driver MUST NOT add one).
    mutating func unmask(_ new: Buffer, level: Bool) -> Outcome? {
        guard trigger != .none, buffer == nil else { return .invalid(new) }
        buffer = new
        if latched {
            latched = false
            return takeBuffer().map(Outcome.valid)
        }
        return fireIfLevelActive(level)
    }

    /// The line changed to `value`.
    mutating func changed(to value: Bool) -> Outcome? {
        if trigger.fires(onEdgeTo: value) {
            if let held = takeBuffer() { return .valid(held) }
            latched = true
            return nil
        }
        return fireIfLevelActive(value)
    }

    /// The line is released (direction none, a reset): disabled, its buffer returned unused.
    mutating func release() -> Outcome? {
        trigger = .none
        latched = false
        return takeBuffer().map(Outcome.invalid)
    }

    /// The queue stopped: its buffers are gone with it.
    mutating func forget() {
        buffer = nil
        latched = false
    }

    private mutating func fireIfLevelActive(_ level: Bool) -> Outcome? {
        guard trigger.active(atLevel: level), let held = takeBuffer() else { return nil }
        return .valid(held)
    }

    private mutating func takeBuffer() -> Buffer? {
        defer { buffer = nil }
        return buffer
    }
}
