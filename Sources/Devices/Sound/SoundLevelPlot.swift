/// A picture of what the mixer played over the last minute (`MixerLevels`), which `avp audio
/// --plot` writes, so a person sees at a glance what the policy did: media lowered while a
/// prompt plays and coming back, a muted VM, a chime at full level. The mix is filled (blue
/// grey); each role is a line in its colour (`palette`, in the roles' order), from 0 dBFS at the
/// top to `floor` at the bottom; grey lines every 12 dB and every 5 seconds.
public enum SoundLevelPlot {
    public static let width = 1200, height = 360
    /// The level at the bottom edge, dBFS.
    public static let floor = -72.0
    /// The roles' colours, in order (then again from the first): amber, green, magenta, red, cyan.
    public static let palette: [(name: String, rgb: (UInt8, UInt8, UInt8))] = [
        ("amber", (240, 192, 64)), ("green", (96, 208, 96)), ("magenta", (224, 96, 224)), ("red", (240, 80, 72)), ("cyan", (64, 220, 230)),
    ]

    public static func png(_ levels: MixerLevels) -> [UInt8] {
        var pixels = [UInt8](repeating: 0, count: width * height * 4)
        func paint(_ x: Int, _ y: Int, _ rgb: (UInt8, UInt8, UInt8)) {
            guard (0..<width).contains(x), (0..<height).contains(y) else { return }
            let i = (y * width + x) * 4
            pixels[i] = rgb.2; pixels[i + 1] = rgb.1; pixels[i + 2] = rgb.0
        }
        for y in 0..<height { for x in 0..<width { paint(x, y, (16, 20, 24)) } }
        let slices = max(1, levels.mix.count)
        /// The columns of slice `i`: the newest slice at the right edge.
        func columns(_ i: Int) -> Range<Int> { (width * i / slices)..<max(width * i / slices + 1, width * (i + 1) / slices) }
        let perFive = 5000 / max(1, levels.windowMilliseconds)
        for i in stride(from: slices - perFive, to: 0, by: -perFive) { for y in 0..<height { paint(columns(i).lowerBound, y, (40, 46, 54)) } }
        for db in stride(from: 0.0, through: floor, by: -12) { for x in 0..<width { paint(x, row(db), (60, 68, 78)) } }
        for (i, db) in levels.mix.enumerated() where db > floor {
            for x in columns(i) { for y in row(db)..<height { paint(x, y, (70, 100, 128)) } }
        }
        for (r, role) in levels.roles.enumerated() {
            let colour = palette[r % palette.count].rgb
            var previous: Int?
            for (i, db) in role.decibels.suffix(slices).enumerated() {
                guard db > floor else { previous = nil; continue }
                let y = row(db)
                for x in columns(i) {
                    for yy in min(y, previous ?? y)...max(y, previous ?? y) { paint(x, yy, colour); paint(x, yy + 1, colour) }
                    previous = y
                }
            }
        }
        return PNGEncoder.encode(width: width, height: height, bgrx: pixels)
    }

    /// The row of a level: 0 dBFS at the top, `floor` at the bottom.
    static func row(_ decibels: Double) -> Int {
        Int(((max(floor, min(0, decibels)) / floor) * Double(height - 1)).rounded())
    }
}
