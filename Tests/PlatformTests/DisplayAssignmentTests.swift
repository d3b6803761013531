import Devices
import Foundation
import Platform
import Testing

/// A display given wholly to one VM ({AVPS-v2.0-26}, {AVPS-v2.0-27}): `vm:` on the display is
/// one layer over all of it, and `avp check` refuses other layers sharing it.
@Suite struct DisplayAssignments {
    let s: Scratch
    init() throws { s = try Scratch() }

    static func yaml(_ displays: String) -> String {
        """
        profile: development
        displays:
        \(displays)
        vms:
          - {name: ivi, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: gpu}]}
          - {name: cluster, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}, {type: gpu}]}
          - {name: rear, kernel: vmlinuz, initrd: initrd, devices: [{type: entropy}]}
        """
    }

    @Test func aDisplayGivenToOneVMIsOneWholeLayerOfIt() throws {
        let r = s.load(Self.yaml("""
              - {name: centre, mode: 1280x720, size: 200x113, vm: ivi}
              - {name: dash, mode: 640x480, size: 160x120, vm: cluster}
            """))
        let platform = try #require(r.platform, "\(errors(r))")
        #expect(platform.displays.map { $0.layers.map(\.policy.source) } == [[ScanoutSource(vm: "ivi", scanout: 0)], [ScanoutSource(vm: "cluster", scanout: 0)]])
        #expect(platform.displays[0].layers[0].policy.destination == .whole(width: 1280, height: 720))
        #expect(platform.displays[0].layers[0].mode.width == 1280 && platform.displays[1].layers[0].mode.height == 480)
    }

    @Test("an exclusive display with layers is refused where 'vm' is written")
    func anExclusiveDisplayCannotBeShared() throws {
        let r = s.load(Self.yaml("""
              - {name: centre, mode: 1280x720, size: 200x113, vm: ivi, layers: [{vm: cluster}]}
            """))
        let error = try #require(r.errors.first)
        #expect(r.errors.count == 1 && error.line == 3, "\(errors(r))")
        #expect(error.message == "display 'centre' is given wholly to VM 'ivi', so no other layer may share it")
        #expect(error.fix == "remove 'layers', or give 'ivi' a layer among them instead of 'vm'")
    }

    @Test func theExclusiveVMMustExistAndHaveAGpu() throws {
        let r = s.load(Self.yaml("""
              - {name: a, mode: 640x480, size: 160x120, vm: nobody}
              - {name: b, mode: 640x480, size: 160x120, vm: rear}
            """))
        #expect(r.errors.map(\.message) == ["'nobody' is not a VM of this platform", "VM 'rear' has no gpu device"], "\(errors(r))")
        #expect(r.errors.map(\.line) == [3, 4])
    }
}
