/// A display output's mode and physical size, as the host configures it: what the guest
/// sees in GET_DISPLAY_INFO and in the EDID (so it can compute its DPI, {AVPS-v2.0-20}).
public struct DisplayMode: Sendable, Equatable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    /// Vertical refresh in Hz.
    public var refresh: Int
    /// Physical size of the visible area in millimetres.
    public var widthMM: Int
    public var heightMM: Int

    /// Sizes the EDID's detailed timing can express (12-bit fields), within what a car's
    /// screens use: 64×64 (Linux ignores smaller timings) up to 4095×4095 (the detailed timing has 12-bit fields), 24 to 120 Hz, up to 4 m wide.
    public static let widths = 64...4095
    public static let heights = 64...4095
    public static let refreshRates = 24...120
    public static let millimetres = 10...4095

    public init(width: Int, height: Int, refresh: Int = 60, widthMM: Int, heightMM: Int) {
        self.width = width
        self.height = height
        self.refresh = refresh
        self.widthMM = widthMM
        self.heightMM = heightMM
    }

    /// 1920×1080 at 60 Hz on a 12.3-inch-class panel (293 × 165 mm, about 166 DPI).
    public static let standard = DisplayMode(width: 1920, height: 1080, widthMM: 293, heightMM: 165)

    /// Why this mode cannot be shown, or nil.
    public var problem: String? {
        if !Self.widths.contains(width) || !Self.heights.contains(height) {
            return "\(width)x\(height) is outside \(Self.widths.lowerBound)x\(Self.heights.lowerBound) to \(Self.widths.upperBound)x\(Self.heights.upperBound)"
        }
        if !Self.refreshRates.contains(refresh) { return "refresh \(refresh) Hz is outside \(Self.refreshRates.lowerBound) to \(Self.refreshRates.upperBound)" }
        if !Self.millimetres.contains(widthMM) || !Self.millimetres.contains(heightMM) {
            return "physical size \(widthMM)x\(heightMM) mm is outside \(Self.millimetres.lowerBound) to \(Self.millimetres.upperBound) mm"
        }
        if EDID.Timing(self).pixelClockKHz > 655_350 { return "\(self) needs a pixel clock above the EDID's 655.35 MHz" }
        return nil
    }

    public var description: String { "\(width)x\(height)@\(refresh) (\(widthMM)x\(heightMM) mm)" }
}
