import Devices
import Foundation
import Testing

/// AVP's EDIDs against edid-decode (an independent EDID parser and conformance checker).
@Suite struct EDIDConformance {
    @Test("AVPS-v2.0-20: edid-decode passes the EDID of every mode from 64x64 to 4095x2160 and reads back the physical size",
          arguments: [DisplayMode(width: 64, height: 64, widthMM: 10, heightMM: 10), DisplayMode(width: 640, height: 480, widthMM: 160, heightMM: 120),
                      DisplayMode(width: 1920, height: 100, widthMM: 293, heightMM: 15), .standard,
                      DisplayMode(width: 1280, height: 720, refresh: 30, widthMM: 200, heightMM: 113),
                      DisplayMode(width: 3840, height: 2160, widthMM: 600, heightMM: 340), DisplayMode(width: 4095, height: 2160, refresh: 24, widthMM: 700, heightMM: 370)])
    func edidDecodePasses(mode: DisplayMode) throws {
        #expect(mode.problem == nil)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("avp-edid-\(mode.width)x\(mode.height).bin").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(EDID.block(for: mode, name: "AVP test")).write(to: URL(fileURLWithPath: path))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/edid-decode")
        p.arguments = ["-c", path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(text.contains("EDID conformity: PASS"), "\(text)")
        #expect(text.contains("DTD 1:") && text.contains("\(mode.width)x\(mode.height)") && text.contains("(\(mode.widthMM) mm x \(mode.heightMM) mm)"), "\(text)")
    }
}
