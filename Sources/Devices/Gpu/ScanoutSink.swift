/// Where a GPU device's scanouts go once the guest has flushed them: QEMU's display
/// through the vhost-user-gpu socket (`VhostUserGpuDisplay`), the compositor, a test.
/// Called on the device's thread; an implementation must return at once (copy or mark
/// dirty, never wait for a peer), because that thread also serves the guest's queues.
public protocol ScanoutSink: AnyObject, Sendable {
    /// Scanout `index` now shows `frame` at its size (0×0: the guest disabled it).
    func scanoutChanged(_ index: Int, frame: ScanoutFrame)
    /// Pixels of scanout `index` within `rect` changed in `frame`.
    func scanoutUpdated(_ index: Int, rect: GpuRect, frame: ScanoutFrame)
    /// The cursor of scanout `index`: its 64×64 image (B, G, R, A bytes) and hot spot, or nil when hidden.
    func cursorChanged(_ index: Int, image: CursorImage?)
    /// The cursor moved to (x, y) on scanout `index`.
    func cursorMoved(_ index: Int, x: UInt32, y: UInt32, visible: Bool)
}

/// A cursor image: 64×64 pixels, B, G, R, A in memory (VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM).
public struct CursorImage: Sendable, Equatable {
    public static let side = 64
    public var pixels: [UInt8]
    public var hotX: UInt32
    public var hotY: UInt32

    public init(pixels: [UInt8], hotX: UInt32, hotY: UInt32) {
        self.pixels = pixels
        self.hotX = hotX
        self.hotY = hotY
    }
}
