import Foundation
import Platform
import Testing

/// Debian's stock arm64 kernel (bookworm, 6.1, its virtio drivers as modules) on AVP's devices
/// through `avp up`: an aarch64 VM with `kernel: debian` on qemu-system-aarch64 -M virt (TCG
/// here) and AVP's device tree. The kernel is a distribution's, not one configured for AVP: the
/// peer that shows AVP's arm64 devices need nothing special from a guest.
@Suite(.serialized) struct DebianArmGuest {
    static let image = GuestImage.cached(.debianArm64)

    static let script = #"""
        echo "KERNEL=$(uname -r) $(uname -m)"
        echo "RNG=$(cat /sys/class/misc/hw_random/rng_current) $(head -c 64 /dev/hwrng | wc -c)"
        echo "DISK=$(cat /sys/block/vda/size)"
        echo debian-arm64-block | dd of=/dev/vda conv=fsync 2>/dev/null
        echo "READBACK=$(head -c 18 /dev/vda)"
        echo "VSOCK=$(ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport | grep -c virtio)"
        echo "MODEL=$(tr -d '\0' < /proc/device-tree/model)"
        echo DEBIAN-ARM-DONE
        """#

    @Test("AVPS-v2.0-3, AVPS-v2.0-40, AVPS-v2.0-4: Debian's stock arm64 kernel boots AVP's device tree on -M virt and drives AVP's entropy, block and vsock servers",
          .runningTimeLimit(minutes: 6))
    func debianKernel() throws {
        try Self.image.ensureBuilt()
        _ = try QemuProcess.resolve("qemu-system-aarch64")
        let dir = try GuestHarness.workDirectory("debian-arm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.image.initrd(withScript: Self.script, at: dir + "/test.initrd")
        let yaml = """
            profile: development
            vms:
              - name: stock
                arch: aarch64
                kernel: debian
                initrd: test.initrd
                cpus: 2
                memory: 512M
                devices:
                  - {type: entropy}
                  - {type: block, image: disk.img, size: 8M}
                  - {type: vsock, cid: 9}
            """
        let platform = try RunningPlatform(name: "debarm", yaml: yaml, directory: dir)
        defer { platform.stop() }
        func serial() -> String { platform.serialLog("stock") }
        let done = platform.wait(GuestHarness.guestTimeout * 2) { serial().contains("DEBIAN-ARM-DONE") }
        let log = serial()
        #expect(done, "the guest did not finish:\n\(log)\n\(platform.upLog)")
        #expect(log.contains("KERNEL=6.1.") && log.contains("-arm64 aarch64"), "\(log)")
        #expect(log.contains("RNG=virtio_rng.0 64") && log.contains("DISK=16384") && log.contains("READBACK=debian-arm64-block")
                && log.contains("VSOCK=1"), "\(log)")
        #expect(log.contains("MODEL=AVP virtual platform debarm/stock"), "the guest did not boot AVP's device tree:\n\(log)")
    }
}
