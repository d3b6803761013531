/// An EDID 1.4 base block (VESA E-EDID A2, 128 bytes) for one of AVP's virtual displays:
/// its one detailed timing is the configured mode with CVT reduced blanking, and its
/// physical size is the configured one, so the guest computes its DPI from what the host
/// says ({AVPS-v2.0-20}, VIRTIO 1.2 §5.7.6.8 VIRTIO_GPU_CMD_GET_EDID).
public enum EDID {
    public static let size = 128

    /// CVT reduced blanking (VESA CVT 1.2, RB v1): fixed horizontal blanking, a minimum
    /// vertical blanking time of 460 µs, pixel clock in 250 kHz steps.
    struct Timing {
        var hActive, hFrontPorch, hSync, hBlank: Int
        var vActive, vFrontPorch, vSync, vBlank: Int
        var pixelClockKHz: Int
        static let minimumClockKHz = 10_000.0

        init(_ mode: DisplayMode) {
            hActive = mode.width
            hFrontPorch = 48
            hSync = 32
            hBlank = 160
            vActive = mode.height
            vFrontPorch = 3
            // CVT's vertical sync width names the aspect ratio.
            switch (mode.width * 3 == mode.height * 4, mode.width * 9 == mode.height * 16, mode.width * 10 == mode.height * 16,
                    mode.width * 4 == mode.height * 5, mode.width * 9 == mode.height * 15) {
            case (true, _, _, _, _): vSync = 4
            case (_, true, _, _, _): vSync = 5
            case (_, _, true, _, _): vSync = 6
            case (_, _, _, true, _): vSync = 7
            case (_, _, _, _, true): vSync = 7
            default: vSync = 10
            }
            let frameMicroseconds = 1_000_000.0 / Double(max(1, mode.refresh))
            let linePeriod = (frameMicroseconds - 460) / Double(max(1, mode.height))
            let blankLines = Int(460 / linePeriod) + 1
            vBlank = max(blankLines, vFrontPorch + vSync + 6)
            // Small modes get a longer line so the clock reaches 10 MHz: EDID readers take a
            // lower pixel clock for invalid data (edid-decode fails it).
            let linesPerSecond = Double(max(1, mode.refresh)) * Double(vActive + vBlank)
            let minimumTotal = Int((Self.minimumClockKHz * 1000 / linesPerSecond).rounded(.up))
            hBlank = min(4095, max(hBlank, minimumTotal - hActive))
            let kHz = Int(linesPerSecond * Double(hActive + hBlank) / 250_000) * 250
            pixelClockKHz = max(kHz, Int(Self.minimumClockKHz))
        }
    }

    /// The block for `mode`, naming the display `name` (at most 13 ASCII characters are kept).
    public static func block(for mode: DisplayMode, name: String = "AVP display", serial: UInt32 = 0) -> [UInt8] {
        var e = [UInt8](repeating: 0, count: size)
        e[0..<8] = [0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]
        // Manufacturer "AVP": three 5-bit letters (A = 1), big-endian.
        let id = UInt16(1) << 10 | UInt16(22) << 5 | UInt16(16)
        e[8] = UInt8(id >> 8); e[9] = UInt8(id & 0xFF)
        e[10] = 0x01; e[11] = 0x00                       // product code 1
        for i in 0..<4 { e[12 + i] = UInt8(truncatingIfNeeded: serial >> (8 * UInt32(i))) }
        e[16] = 0; e[17] = UInt8(2026 - 1990)            // week unspecified, year of manufacture
        e[18] = 1; e[19] = 4                             // EDID 1.4
        e[20] = 0x80 | 0x20                              // digital input, 8 bits per primary
        e[21] = UInt8(clamping: (mode.widthMM + 5) / 10) // screen size in cm
        e[22] = UInt8(clamping: (mode.heightMM + 5) / 10)
        e[23] = 120                                      // gamma 2.2
        e[24] = 0x06                                     // RGB 4:4:4, sRGB default, preferred timing is native
        // sRGB primaries and D65 white, 10-bit fractions of 1024.
        let (rx, ry, gx, gy, bx, by, wx, wy) = (655, 338, 307, 614, 154, 61, 320, 337)
        e[25] = UInt8((rx & 3) << 6 | (ry & 3) << 4 | (gx & 3) << 2 | (gy & 3))
        e[26] = UInt8((bx & 3) << 6 | (by & 3) << 4 | (wx & 3) << 2 | (wy & 3))
        for (i, v) in [rx, ry, gx, gy, bx, by, wx, wy].enumerated() { e[27 + i] = UInt8(v >> 2) }
        // No established timings (35...37 stay 0); standard timings unused.
        for i in stride(from: 38, to: 54, by: 2) { e[i] = 0x01; e[i + 1] = 0x01 }
        let timing = Timing(mode)
        e[54..<72] = detailedTiming(timing, mode: mode)[...]
        e[72..<90] = rangeLimits(timing, mode: mode)[...]
        e[90..<108] = text(0xFC, name)[...]
        e[108..<126] = [0, 0, 0, 0x10, 0] + [UInt8](repeating: 0, count: 13)[...]   // dummy descriptor
        e[126] = 0                                       // no extension blocks
        e[127] = UInt8(truncatingIfNeeded: 256 - Int(e[0..<127].reduce(0) { ($0 + Int($1)) & 0xFF }))
        return e
    }

    /// The 18-byte detailed timing descriptor.
    static func detailedTiming(_ t: Timing, mode: DisplayMode) -> [UInt8] {
        let clock = t.pixelClockKHz / 10
        let vBackPorchStart = t.vFrontPorch
        return [
            UInt8(clock & 0xFF), UInt8(clock >> 8 & 0xFF),
            UInt8(t.hActive & 0xFF), UInt8(t.hBlank & 0xFF), UInt8((t.hActive >> 8) << 4 | (t.hBlank >> 8)),
            UInt8(t.vActive & 0xFF), UInt8(t.vBlank & 0xFF), UInt8((t.vActive >> 8) << 4 | (t.vBlank >> 8)),
            UInt8(t.hFrontPorch & 0xFF), UInt8(t.hSync & 0xFF),
            UInt8((vBackPorchStart & 0xF) << 4 | (t.vSync & 0xF)),
            UInt8((t.hFrontPorch >> 8) << 6 | (t.hSync >> 8) << 4 | (vBackPorchStart >> 4) << 2 | (t.vSync >> 4)),
            UInt8(mode.widthMM & 0xFF), UInt8(mode.heightMM & 0xFF), UInt8((mode.widthMM >> 8) << 4 | (mode.heightMM >> 8)),
            0, 0,
            0x1A,   // non-interlaced, digital separate sync, vertical sync negative, horizontal positive (CVT-RB)
        ]
    }

    /// Display range limits (tag 0xFD) around the one mode, so every check of the preferred
    /// timing against the limits passes.
    static func rangeLimits(_ t: Timing, mode: DisplayMode) -> [UInt8] {
        let lineKHz = Double(t.pixelClockKHz) / Double(t.hActive + t.hBlank)
        let maxClockTensMHz = (t.pixelClockKHz + 9999) / 10000
        return [0, 0, 0, 0xFD, 0,
                UInt8(max(1, mode.refresh - 1)), UInt8(mode.refresh + 1),
                UInt8(max(1, Int(lineKHz) - 1)), UInt8(min(255, Int(lineKHz) + 2)),
                UInt8(min(255, maxClockTensMHz)),
                0x01,   // range limits only, no secondary timing formula
                0x0A, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20]
    }

    /// A text descriptor (0xFC monitor name): at most 13 printable ASCII bytes, then LF and spaces.
    static func text(_ tag: UInt8, _ value: String) -> [UInt8] {
        var bytes = Array(value.utf8.filter { (0x20...0x7E).contains($0) }.prefix(13))
        if bytes.count < 13 { bytes.append(0x0A) }
        while bytes.count < 13 { bytes.append(0x20) }
        return [0, 0, 0, tag, 0] + bytes
    }
}
