import Foundation
import Platform
import Testing

/// One backports guest (Debian 6.12, virtiofs built in) running `script` with one `avp serve fs`
/// share on tag `share`: the setup the small fs suites share. The caller stops the server.
struct FsGuestRun {
    let console: ConsoleLog
    let server: ServerProcess

    /// Both logs' tails, for a failed expectation.
    var context: String { "console:\n\(console.text.suffix(3000))\nserver:\n\(server.log.suffix(2000))" }

    /// Starts `avp serve fs --socket DIR/fs.sock --shared-dir SHARE ARGUMENTS...`, boots the guest
    /// and waits for it to power off.
    static func run(in dir: String, share: String, serverArguments: [String], script: String) throws -> FsGuestRun {
        try GuestHarness.checkPrerequisites()
        try GuestImage.backports.ensureBuilt()
        let socket = dir + "/fs.sock"
        let server = try ServerProcess(arguments: ["serve", "fs", "--socket", socket, "--shared-dir", share] + serverArguments,
                                       logPath: dir + "/server.log")
        do {
            try server.waitForSocket(socket)
            let boot = GuestBoot(image: .backports, devices: [.init(model: .fs(tag: "share"), socketPath: socket, id: "fs0")])
            return FsGuestRun(console: try boot.run(script: script, in: dir), server: server)
        } catch {
            server.stop()
            throw error
        }
    }
}
