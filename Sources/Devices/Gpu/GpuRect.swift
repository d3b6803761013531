/// A rectangle in pixels, as virtio-gpu requests carry it (VIRTIO 1.2 §5.7.6.8,
/// `virtio_gpu_rect`). Every field comes from the guest: containment is checked in
/// 64-bit arithmetic, so no sum can wrap.
public struct GpuRect: Sendable, Equatable, CustomStringConvertible {
    public var x: UInt32
    public var y: UInt32
    public var width: UInt32
    public var height: UInt32

    public init(x: UInt32, y: UInt32, width: UInt32, height: UInt32) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    public static func whole(width: Int, height: Int) -> GpuRect {
        GpuRect(x: 0, y: 0, width: UInt32(clamping: width), height: UInt32(clamping: height))
    }

    public var isEmpty: Bool { width == 0 || height == 0 }

    /// Whether the rectangle lies within a `width`×`height` image.
    public func fits(width: Int, height: Int) -> Bool {
        UInt64(x) + UInt64(self.width) <= UInt64(max(0, width)) && UInt64(y) + UInt64(self.height) <= UInt64(max(0, height))
    }

    /// The part of this rectangle inside `other`, or nil when they do not meet.
    public func intersection(_ other: GpuRect) -> GpuRect? {
        let left = max(UInt64(x), UInt64(other.x)), top = max(UInt64(y), UInt64(other.y))
        let right = min(UInt64(x) + UInt64(width), UInt64(other.x) + UInt64(other.width))
        let bottom = min(UInt64(y) + UInt64(height), UInt64(other.y) + UInt64(other.height))
        guard right > left, bottom > top else { return nil }
        return GpuRect(x: UInt32(left), y: UInt32(top), width: UInt32(right - left), height: UInt32(bottom - top))
    }

    /// The smallest rectangle holding both.
    public func union(_ other: GpuRect) -> GpuRect {
        if isEmpty { return other }
        if other.isEmpty { return self }
        let left = min(UInt64(x), UInt64(other.x)), top = min(UInt64(y), UInt64(other.y))
        let right = max(UInt64(x) + UInt64(width), UInt64(other.x) + UInt64(other.width))
        let bottom = max(UInt64(y) + UInt64(height), UInt64(other.y) + UInt64(other.height))
        return GpuRect(x: UInt32(left), y: UInt32(top), width: UInt32(clamping: right - left), height: UInt32(clamping: bottom - top))
    }

    public var description: String { "\(width)x\(height)+\(x)+\(y)" }
}
