import Devices
import Foundation
import Logging
import SystemCalls
import Testing

/// The host's run-time control of composition ({AVPS-v2.0-29}): requests over the GPU
/// server's control socket change the compositor's policy, are validated first, and bad
/// ones are refused with the reason while the socket keeps serving.
@Suite struct DisplayControlTests {
    static func server() throws -> (Compositor, DisplayControlServer, String) {
        let (compositor, _) = try CompositorTests.twoLayers()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("avp-control-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock").path
        return (compositor, try DisplayControlServer(path: path, compositor: compositor, logger: Logger(label: "test.control")), path)
    }

    /// Sends each line on one connection and returns the answers.
    static func ask(_ path: String, _ lines: [[UInt8]]) throws -> [DisplayControlResponse] {
        try controlSocketExchange(path, lines).map { try DisplayControlResponse(line: $0) }
    }

    @Test("show, then opacity, move and restack change the compositor's policy and the next frame")
    func changesReachTheCompositor() throws {
        let (compositor, control, path) = try Self.server()
        defer { control.stop(); compositor.stop() }
        let answers = try Self.ask(path, [
            DisplayControlRequest.show(display: "main").line,
            DisplayControlRequest.change(display: "main", layer: 1, .opacity(value: 0)).line,
            DisplayControlRequest.change(display: "main", layer: 0, .move(x: 10, y: 12)).line,
            DisplayControlRequest.change(display: "main", layer: 1, .restack(to: 0)).line,
        ])
        try #require(answers.count == 4)
        guard case let .policy(shown) = answers[0] else { Issue.record("\(answers[0])"); return }
        #expect(shown.layers.map(\.vm) == ["a", "b"] && shown.layers[1].at == [20, 10, 40, 30] && shown.width == 64)
        let policy = try #require(compositor.policy("main"))
        #expect(policy.layers.map(\.source.vm) == ["b", "a"])
        #expect(policy.layers[0].opacity == 0 && policy.layers[1].destination == GpuRect(x: 10, y: 12, width: 40, height: 30))
        guard case let .policy(last) = answers[3] else { Issue.record("\(answers[3])"); return }
        #expect(last == DisplayPolicySummary(policy))
        // B is hidden: the display shows A at its new place and black elsewhere.
        compositor.compose("main")
        let out = compositor.outputs["main"]!.snapshot()
        #expect(CompositorTests.pixel(out, 10, 12) == CompositorTests.patternA(0, 0))
        #expect(CompositorTests.pixel(out, 5, 5) == [0, 0, 0, 0])
    }

    @Test("refused: unknown display or layer, a layer moved off the display, malformed or overlong lines; the socket goes on")
    func badRequestsAreRefused() throws {
        let (compositor, control, path) = try Self.server()
        defer { control.stop(); compositor.stop() }
        let before = compositor.policy("main")
        let answers = try Self.ask(path, [
            DisplayControlRequest.show(display: "rear").line,
            DisplayControlRequest.change(display: "main", layer: 2, .opacity(value: 9)).line,
            DisplayControlRequest.change(display: "main", layer: 0, .restack(to: -1)).line,
            DisplayControlRequest.change(display: "main", layer: 0, .move(x: 30, y: 0)).line,
            DisplayControlRequest.change(display: "main", layer: 0, .move(x: UInt32.max, y: UInt32.max)).line,
            Array("{\"show\":{}}".utf8),
            Array("not json".utf8),
            DisplayControlRequest.show(display: "main").line,
        ])
        try #require(answers.count == 8, "\(answers)")
        for (i, answer) in answers.prefix(7).enumerated() {
            guard case let .refused(reason) = answer else { Issue.record("request \(i) was not refused: \(answer)"); continue }
            #expect(!reason.isEmpty)
        }
        if case let .refused(reason) = answers[3] { #expect(reason.contains("not within the display"), "\(reason)") }
        guard case .policy = answers[7] else { Issue.record("the socket stopped serving: \(answers[7])"); return }
        #expect(compositor.policy("main") == before)
        let long = try Self.ask(path, [[UInt8](repeating: 0x7B, count: DisplayControlRequest.maxLine + 10)])
        guard case .refused = long.first else { Issue.record("an overlong line: \(long)"); return }
    }
}
