import Devices
import Foundation
import Platform
import Testing
import ServerCommands

/// `mask:` of a layer under `displays:` ({AVPS-v2.0-29}: "an optional mask (1-bit or 8-bit alpha
/// image from the host's configuration, never from a guest)"): `avp check` reads the image and
/// finds a missing, malformed or wrongly sized one where it is written; a good one reaches the
/// GPU server as an absolute path.
@Suite struct DisplayMasks {
    let s: Scratch
    init() throws { s = try Scratch() }

    /// A 1-bit mask of the top layer's 640x240: its left half white (the layer shows).
    static let halfShown = try! AlphaMask(width: 640, height: 240, alpha: (0..<640 * 240).map { $0 % 640 < 320 ? 255 : 0 })

    /// A display whose top layer (line 8) has `mask` (its value at column 53).
    static func yaml(mask: String) -> String {
        """
        profile: development
        displays:
          - name: main
            mode: 640x480
            size: 160x120
            layers:
              - {vm: ivi}
              - {vm: cluster, at: [0, 240, 640, 240], mask: \(mask)}
        vms:
          - {name: ivi, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: gpu}]}
          - {name: cluster, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: gpu}]}
        """
    }

    func write(_ name: String, _ bytes: [UInt8]) throws {
        let path = s.directory + "/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
    }

    @Test func aGoodMaskReachesTheGpuServerAsAnAbsolutePath() throws {
        try write("masks/cluster.pbm", MaskImage.pbm(Self.halfShown))
        let r = s.load(Self.yaml(mask: "masks/cluster.pbm"))
        let platform = try #require(r.platform, "\(errors(r))")
        #expect(platform.displays[0].layers.map(\.mask) == [nil, s.directory + "/masks/cluster.pbm"])
        let plan = try s.plan(Self.yaml(mask: "masks/cluster.pbm"), stateDirectory: s.directory + "/state")
        let gpu = try #require(plan.servers.first { $0.name == "gpu" })
        #expect(gpu.arguments.contains("display=main,vm=cluster,scanout=0,at=0:240:640:240,opacity=255,mask=\(s.directory)/masks/cluster.pbm"))
        let options = try GpuServeOptions.parse(Array(gpu.arguments.dropFirst(2)))
        let layers = try #require(try options.displayPolicies.first).layers
        #expect(layers.map(\.mask) == [nil, Self.halfShown])
    }

    @Test func aMissingMaskIsFoundWhereItIsWritten() throws {
        let r = s.load(Self.yaml(mask: "nowhere.pgm"))
        let error = try #require(r.errors.first)
        #expect(r.errors.count == 1 && error.line == 8 && error.column == 53, "\(errors(r))")
        #expect(error.message == "mask \(s.directory)/nowhere.pgm: cannot read it: No such file or directory")
        #expect(error.fix == "check the path (relative paths start at the platform file)")
        // `avp describe` does not read files: the path is resolved, the image not read.
        let described = s.load(Self.yaml(mask: "nowhere.pgm"), checkingFiles: false)
        #expect(described.errors.isEmpty && described.platform?.displays[0].layers[1].mask == s.directory + "/nowhere.pgm")
    }

    @Test func aMalformedMaskSaysWhatIsWrong() throws {
        let cases: [([UInt8], String)] = [
            (Array("P2\n640 240\n255\n0 0 0".utf8), "plain (ASCII) PGM (P2) is not supported; a mask is a binary (raw) PGM (P5, 8-bit) or PBM (P4, 1-bit)"),
            (Array("P5\n640 240\n65535\n".utf8), "maxval 65535 means 16-bit samples, which are not supported; save the mask with 8 bits (maxval 255)"),
            (Array("P5\n640 240\n255\n".utf8) + [UInt8](repeating: 255, count: 1000),
             "the image data is truncated: a 640x240 image needs 153600 bytes, the file has 1000"),
            (Array("\u{89}PNG\r\n".utf8), "not a Netpbm image; a mask is a binary (raw) PGM (P5, 8-bit) or PBM (P4, 1-bit)"),
        ]
        for (bytes, message) in cases {
            try write("bad.pgm", bytes)
            let r = s.load(Self.yaml(mask: "bad.pgm"))
            #expect(errors(r) == ["8:53 mask \(s.directory)/bad.pgm: \(message)"])
            #expect(r.errors.first?.fix == "save it as a binary PGM (P5, 8-bit) or PBM (P4, 1-bit) of 640x240 pixels, white where the layer shows")
        }
    }

    @Test func aMaskMustBeItsLayersSize() throws {
        try write("small.pgm", MaskImage.pgm(try AlphaMask(width: 320, height: 240, uniform: 255)))
        let r = s.load(Self.yaml(mask: "small.pgm"))
        #expect(errors(r) == ["8:53 mask \(s.directory)/small.pgm is 320x240, but its layer is 640x240"])
        #expect(r.errors.first?.fix == "scale the mask to 640x240 pixels, or change the layer's 'at'")
    }

    @Test("the GPU server's --layer separates fields with ','; a path with one is refused, not split")
    func aCommaInTheMaskPathIsRefused() throws {
        try write("a,b.pgm", MaskImage.pgm(Self.halfShown))
        let r = s.load(Self.yaml(mask: "'a,b.pgm'"))
        #expect(errors(r) == ["8:53 mask \(s.directory)/a,b.pgm: a mask's path cannot contain ','"])
    }

    @Test func theSchemaDescribesMasks() {
        #expect(PlatformSchema.jsonSchema().contains("\"mask\""))
        let r = s.load(Self.yaml(mask: "[1, 2]"))
        #expect(errors(r) == ["8:53 'displays[0].layers[1].mask' must be a string"])
    }
}
