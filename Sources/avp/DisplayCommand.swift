import ArgumentParser
import Devices
import Foundation
import Platform
import SystemCalls
import ServerCommands

/// `avp display FILE DISPLAY [--layer L (--opacity N | --move X,Y | --restack P)]`: shows or
/// changes a running platform's composition (AVPS-v2.0-29) through the GPU server's control socket.
struct DisplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "display",
        abstract: "Show or change how a running platform composes a display (AVPS-v2.0-29): a layer's opacity, place or stacking.",
        discussion: """
            Without a change, prints the display's layers bottom to top. A change lasts until the platform (or its GPU server) \
            restarts; the platform file holds the policy it starts with. Guests cannot change the policy: only the host user \
            reaches the control socket in the state directory.
              avp display cockpit.yaml main --layer ivi --opacity 128
              avp display cockpit.yaml main --layer 1 --move 0,0
              avp display cockpit.yaml main --layer cluster --restack top
            """)

    @OptionGroup var platformFile: PlatformFileArgument
    @Argument(help: "Display name (under displays: in the platform file).") var display: String
    @Option(help: "The layer to change: its index (0 is the bottom) or the name of its VM (that VM's lowest layer).") var layer: String?
    @Option(help: "New opacity, 0 (hidden) to 255 (opaque).") var opacity: UInt8?
    @Option(help: ArgumentHelp("New top-left corner on the display (the layer keeps its size).", valueName: "x,y")) var move: String?
    @Option(help: ArgumentHelp("New place in the stack: bottom, top, or an index.", valueName: "place")) var restack: String?

    func validate() throws {
        let changes = [opacity != nil, move != nil, restack != nil].filter { $0 }.count
        if changes > 1 { throw ValidationError("give one change at a time: --opacity, --move or --restack") }
        if changes == 1, layer == nil { throw ValidationError("a change needs --layer") }
        if changes == 0, layer != nil { throw ValidationError("--layer needs a change: --opacity, --move or --restack") }
    }

    func run() throws {
        let platform = try platformFile.load(quietWarnings: true, checkingFiles: false)
        try platformFile.requireDisplay(display, in: platform)
        let client = try DisplayControlClient(path: StateDirectory.default(for: platform).displayControlSocket, file: platformFile.file)
        var summary = try client.ask(.show(display: display))
        if let layer {
            let index = try layerIndex(layer, in: summary)
            summary = try client.ask(.change(display: display, layer: index, try change(in: summary)))
        }
        print(Self.table(summary), terminator: "")
    }

    private func change(in summary: DisplayPolicySummary) throws -> LayerChange {
        if let opacity { return .opacity(value: opacity) }
        if let move {
            let parts = move.split(separator: ",", omittingEmptySubsequences: false).map { UInt32($0) }
            guard parts.count == 2, let x = parts[0], let y = parts[1] else { throw ValidationError("--move is X,Y, e.g. 0,240") }
            return .move(x: x, y: y)
        }
        switch restack {
        case "bottom"?: return .restack(to: 0)
        case "top"?: return .restack(to: max(0, summary.layers.count - 1))
        case let place?:
            guard let index = Int(place) else { throw ValidationError("--restack is bottom, top or an index") }
            return .restack(to: index)
        case nil: throw ValidationError("no change given")
        }
    }

    private func layerIndex(_ text: String, in summary: DisplayPolicySummary) throws -> Int {
        if let index = Int(text) { return index }
        guard let index = summary.layers.firstIndex(where: { $0.vm == text }) else {
            throw CommandFailure("display '\(display)' has no layer of VM \(UserText.quoted(text)); layers: "
                                 + summary.layers.enumerated().map { "\($0.offset) (\($0.element.vm))" }.joined(separator: ", "))
        }
        return index
    }

    static func table(_ summary: DisplayPolicySummary) -> String {
        var text = "display \(summary.name) \(summary.width)x\(summary.height), layers bottom to top:\n"
        for (i, l) in summary.layers.enumerated() {
            var line = "  \(i)  \(l.vm):\(l.scanout)  at \(l.at[0]),\(l.at[1]) \(l.at[2])x\(l.at[3])  opacity \(l.opacity)"
            if l.masked { line += "  masked" }
            if l.safetyRegions > 0 { line += "  safety regions \(l.safetyRegions)" }
            text += line + "\n"
        }
        return text
    }
}

/// The host's end of the GPU server's control socket.
struct DisplayControlClient {
    let client: ControlSocketClient

    init(path: String, file: String) throws {
        client = try ControlSocketClient(path: path, server: "the GPU server", file: file)
    }

    func ask(_ request: DisplayControlRequest) throws -> DisplayPolicySummary {
        switch try DisplayControlResponse(line: try client.ask(request.line)) {
        case let .policy(summary): return summary
        case let .refused(reason): throw CommandFailure(reason)
        }
    }
}
