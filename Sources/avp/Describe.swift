import ArgumentParser
import Foundation
import Platform
import ServerCommands

struct Describe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A VM's virtual hardware as a device tree (AVPS-v2.0-3), with a fresh kaslr-seed (AVPS-v2.0-42).")
    @OptionGroup var platformFile: PlatformFileArgument
    @Option(help: "VM name.") var vm: String
    @Option(help: "dts (source) or dtb (binary).") var format = "dts"
    @Option(help: "Write to this file instead of standard output.") var output: String?

    func run() throws {
        let platform = try platformFile.load(quietWarnings: true, checkingFiles: false)
        guard let machine = platform.vm(named: vm) else { throw platformFile.noSuchVM(vm, in: platform) }
        if let output { try OutputFile.checkDirectory(of: output) }
        let plan = try? platformFile.plan(platform)
        let tree = try VirtualHardware.deviceTree(platform: platform, vm: machine, plan: plan?.vms.first { $0.name == vm })
        let bytes: [UInt8]
        switch format {
        case "dts": bytes = Array(DeviceTreeSource.render(tree).utf8)
        case "dtb": bytes = FlattenedDeviceTree.encode(tree)
        default: throw ValidationError("unknown format \(UserText.quoted(format)): use dts or dtb")
        }
        if let output {
            try OutputFile.write(bytes, to: output)
        } else {
            FileHandle.standardOutput.write(Data(bytes))
        }
    }
}
