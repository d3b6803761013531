import ArgumentParser
import Platform
import ServerCommands

/// `avp uefi-disk`: a GPT disk image whose EFI system partition boots an arm64 kernel through
/// UEFI (EBBR, {AVPS-v2.0-1}, {AVPS-v2.0-2}): GRUB as `\EFI\BOOT\BOOTAA64.EFI`, the kernel,
/// the initrd and the command line (`UefiBootDisk`). For hand-written QEMU command lines and
/// benchmarks (bench/boot-uefi):
///   qemu-system-aarch64 -M virt,gic-version=3,acpi=off -cpu max -m 512M -nographic \
///     -bios /usr/share/qemu-efi-aarch64/QEMU_EFI.fd -dtb avp.dtb \
///     -drive if=none,id=esp,format=raw,readonly=on,file=esp.img -device virtio-blk-device,drive=esp
struct UefiDisk: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uefi-disk",
        abstract: "Write a GPT disk image whose EFI system partition boots an arm64 kernel through UEFI (GRUB).")
    @Option(help: "The arm64 kernel Image (default: the arm64 guest image's).") var kernel: String?
    @Option(help: "The initrd (default: the arm64 guest image's initramfs).") var initrd: String?
    @Option(help: "Kernel command line.") var append: String = "console=ttyAMA0 panic=-1"
    @Option(help: "Output file (replaced).") var output: String

    func run() throws {
        try OutputFile.checkDirectory(of: output)
        let image = GuestImage.cached(.arm64)
        if kernel == nil || initrd == nil { try image.check() }
        do {
            try UefiBoot.writeDisk(kernel: kernel ?? image.kernel, initrd: initrd ?? image.initramfs,
                                   kernelArguments: append.split(separator: " ").map(String.init), to: output)
        } catch {
            throw CommandFailure.cleaned(error)
        }
    }
}
