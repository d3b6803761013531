// libFuzzer target: the server options codec (Sources/ServerCommands/Options). `avp up`'s plan
// writes each server's options as arguments and `avp serve <command>` parses them back; a user
// may also type them. The first byte picks the command, the rest is its argument list, split at
// NUL bytes. Parsing must succeed or throw, never trap; and what parsed must write arguments that
// parse again to the same arguments (the codec's round trip, as ServeOptionsRoundTrips checks for
// chosen values).
// Build and run: fuzz/run options
import ServerCommands

private let commands: [any ServeOptions.Type] = [
    BlockServeOptions.self, ConsoleServeOptions.self, CryptoServeOptions.self, EntropyServeOptions.self,
    FsServeOptions.self, GpioServeOptions.self, GpuServeOptions.self, I2cServeOptions.self, InputServeOptions.self,
    ScmiServeOptions.self, SoundServeOptions.self, SwitchServeOptions.self, VsockServeOptions.self,
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let command = commands[Int(data[0]) % commands.count]
    let arguments = UnsafeBufferPointer(start: data + 1, count: size - 1)
        .split(separator: 0, omittingEmptySubsequences: false)
        .map { String(decoding: $0, as: UTF8.self) }
    roundTrip(command, arguments)
    return 0
}

private func roundTrip<Options: ServeOptions>(_ type: Options.Type, _ arguments: [String]) {
    guard let options = try? Options.parse(arguments) else { return }
    let written = options.arguments
    guard let again = try? Options.parse(written) else {
        preconditionFailure("\(Options.command): \(arguments) parsed, but what it wrote, \(written), does not")
    }
    precondition(again.arguments == written, "\(Options.command): \(written) read back as \(again.arguments)")
}
