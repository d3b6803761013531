import AVPTestSupport
import Devices
import Foundation
import Logging
import Synchronization
import SystemCalls
import Testing

/// The GPU server's web view (issue 10: "something to look at"): served on 127.0.0.1, a
/// browser's screenshot of a display's page is the composed frame, frames follow the
/// composition, and whatever a local client sends gets an answer and no more.
@Suite struct WebViewTests {
    static let logger = Logger(label: "test.web-view")

    /// Display 320×240: A (patternA) over the whole display, B (patternB) at 100,60 160×120 with opacity 160.
    static func cockpit(touches: [String: TouchTarget]? = nil) throws -> (Compositor, WebView) {
        let policy = DisplayPolicy(name: "main", width: 320, height: 240, layers: [
            LayerPolicy(source: CompositorTests.a, destination: .whole(width: 320, height: 240)),
            LayerPolicy(source: CompositorTests.b, destination: GpuRect(x: 100, y: 60, width: 160, height: 120), opacity: 160),
        ])
        let compositor = try Compositor(displays: [policy], logger: logger)
        compositor.sink(for: "a").scanoutChanged(0, frame: CompositorTests.frame(320, 240, CompositorTests.patternA))
        compositor.sink(for: "b").scanoutChanged(1, frame: CompositorTests.frame(160, 120, CompositorTests.patternB))
        compositor.compose("main")
        let router = touches.map { TouchRouter(compositor: compositor, targets: $0) }
        let web = try WebView(port: 0, title: "test <cockpit>", displays: [("main", compositor.outputs["main"]!)],
                              statistics: { compositor.statistics }, touches: router, logger: logger)
        return (compositor, web)
    }

    static func rgb(_ snapshot: ScanoutFrame.Snapshot, _ x: Int, _ y: Int) -> [Int] {
        let o = (y * snapshot.width + x) * 4
        return [Int(snapshot.pixels[o + 2]), Int(snapshot.pixels[o + 1]), Int(snapshot.pixels[o])]
    }

    @Test("a headless browser's screenshot of /view/main is the composed frame, pixel for pixel")
    func browserShowsTheComposedFrame() throws {
        try #require(HeadlessBrowser.executable != nil, "chromium is missing: scripts/host-setup installs it")
        let (compositor, web) = try Self.cockpit()
        defer { web.stop(); compositor.stop() }
        let shot = FileManager.default.temporaryDirectory.appendingPathComponent("avp-webview-\(getpid()).png").path
        defer { try? FileManager.default.removeItem(atPath: shot) }
        try HeadlessBrowser.screenshot(web.url + "view/main", width: 320, height: 240, to: shot)
        let image = try PNGPixels.read(shot)
        let composed = try #require(compositor.outputs["main"]).snapshot()
        try #require(image.width == 320 && image.height == 240, "screenshot is \(image.width)x\(image.height)")
        var worst = 0
        var first: (Int, Int, [Int], [Int])?
        for y in 0..<240 {
            for x in 0..<320 {
                let seen = image.pixel(x, y), want = Self.rgb(composed, x, y)
                let d = zip(seen, want).map { abs($0 - $1) }.max()!
                if d > worst { worst = d; first = (x, y, seen, want) }
            }
        }
        // Browsers may colour-manage by a step; the picture must be the frame, not something like it.
        #expect(worst <= 2, "largest difference \(worst) at \(String(describing: first))")
    }

    @Test("the index lists every display (names escaped); a frame is a PNG of the output with its generation")
    func pagesAndFrames() throws {
        let (compositor, web) = try Self.cockpit()
        defer { web.stop(); compositor.stop() }
        let index = try LoopbackHTTP.get(port: web.port, "/")
        #expect(index.status == 200 && index.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(index.text.contains("test &lt;cockpit&gt;") && !index.text.contains("<cockpit>") && index.text.contains("/display/main.png"))
        let frame = try LoopbackHTTP.get(port: web.port, "/display/main.png")
        #expect(frame.status == 200 && frame.headers["content-type"] == "image/png" && frame.headers["cache-control"] == "no-store")
        let generation = try #require(frame.headers["x-generation"].flatMap { UInt64($0) })
        #expect(generation == compositor.outputs["main"]!.generation)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("avp-webview-frame-\(getpid()).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(frame.body).write(to: URL(fileURLWithPath: path))
        let image = try PNGPixels.read(path)
        let composed = compositor.outputs["main"]!.snapshot()
        #expect(image.pixel(5, 5) == Self.rgb(composed, 5, 5) && image.pixel(200, 150) == Self.rgb(composed, 200, 150))
        let json = try LoopbackHTTP.get(port: web.port, "/displays.json")
        #expect(json.status == 200 && json.text.contains("\"name\":\"main\"") && json.text.contains("\"width\":320"))
    }

    @Test("?after=G waits for a newer composition, and answers at once when there is one")
    func longPollFollowsTheComposition() throws {
        let (compositor, web) = try Self.cockpit()
        defer { web.stop(); compositor.stop() }
        let before = compositor.outputs["main"]!.generation
        let answered = Atomic<UInt64>(0)
        let waiter = try OSThread(name: "test-poll") {
            let r = try? LoopbackHTTP.get(port: web.port, "/display/main.png?after=\(before)")
            answered.store(r?.headers["x-generation"].flatMap { UInt64($0) } ?? 1, ordering: .releasing)
        }
        MonotonicClock.sleep(milliseconds: 300)
        #expect(answered.load(ordering: .acquiring) == 0, "answered before anything new was composed")
        compositor.sink(for: "b").scanoutChanged(1, frame: CompositorTests.frame(160, 120, CompositorTests.patternA))
        waiter.join()
        #expect(answered.load(ordering: .acquiring) > before)
        let now = try LoopbackHTTP.get(port: web.port, "/display/main.png?after=0")
        #expect(now.status == 200)
    }

    @Test("wrong requests get their status, and the view goes on serving")
    func wrongRequests() throws {
        let (compositor, web) = try Self.cockpit()
        defer { web.stop(); compositor.stop() }
        let host = "Host: 127.0.0.1:\(web.port)\r\n"
        let cases: [([UInt8], Int)] = [
            (Array("POST / HTTP/1.1\r\n\(host)\r\n".utf8), 405),
            (Array("GET /display/other.png HTTP/1.1\r\n\(host)\r\n".utf8), 404),
            (Array("GET /view/%2e%2e HTTP/1.1\r\n\(host)\r\n".utf8), 404),
            (Array("GET /nothing HTTP/1.1\r\n\(host)\r\n".utf8), 404),
            (Array("GET /display/main.png?after=-1 HTTP/1.1\r\n\(host)\r\n".utf8), 400),
            (Array("POST /touch/main HTTP/1.1\r\n\(host)Content-Length: 12\r\n\r\ntouch 1 1 0\n".utf8), 404),
            (Array("GET / HTTP/1.1\r\n\r\n".utf8), 421),
            (Array("GET / HTTP/1.1\r\nHost: attacker.example:\(web.port)\r\n\r\n".utf8), 421),
            (Array("GET /display/main.png HTTP/1.0\r\n\r\n".utf8), 421),
            (Array("GET /%zz HTTP/1.1\r\n\r\n".utf8), 400),
            (Array("GET / HTTP/2.0\r\n\r\n".utf8), 505),
            (Array("GET /\u{1} HTTP/1.1\r\n\r\n".utf8), 400),
            (Array("GET / HTTP/1.1\r\nX-Long: ".utf8) + [UInt8](repeating: 0x61, count: 8800) + Array("\r\n\r\n".utf8), 431),
            (Array("hello\r\n\r\n".utf8), 400),
        ]
        for (request, status) in cases {
            let response = try LoopbackHTTP.send(port: web.port, request)
            #expect(response.status == status, "\(String(decoding: request.prefix(40), as: UTF8.self)): \(response.status) \(response.text)")
        }
        #expect(try LoopbackHTTP.get(port: web.port, "/").status == 200)
    }

    @Test("request heads: methods, percent escapes, query, headers; malformed ones refused")
    func requestHeads() throws {
        let head = try HTTPRequestHead(parsing: Array("GET /view/a%20b?after=12&x HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept:  */* \r\n\r\n".utf8)[...])
        #expect(head.method == "GET" && head.path == "/view/a b" && head.query == ["after": "12", "x": ""])
        #expect(head.headers == ["host": "127.0.0.1", "accept": "*/*"])
        #expect(HTTPRequestHead.end(in: Array("GET / HTTP/1.1\r\n\r\nbody".utf8)) == 18)
        #expect(HTTPRequestHead.end(in: Array("GET / HTTP/1.1\r\n".utf8)) == nil)
        let refused: [(String, HTTPRequestError)] = [
            ("GET  / HTTP/1.1\r\n\r\n", .malformedRequestLine), ("get / HTTP/1.1\r\n\r\n", .malformedRequestLine),
            ("GET x HTTP/1.1\r\n\r\n", .malformedRequestLine), ("GET / HTTP/1.1\r\nNo colon\r\n\r\n", .malformedHeader),
            ("GET / HTTP/1.1\r\nBad name: v\r\n\r\n", .malformedHeader), ("GET /%4 HTTP/1.1\r\n\r\n", .badEscape),
            ("GET /%ff HTTP/1.1\r\n\r\n", .badEscape), ("GET / HTTP/1.1\r\nA: \u{7F}\r\n\r\n", .notPrintableASCII),
            ("", .malformedRequestLine),
        ]
        for (text, error) in refused {
            #expect(throws: error, "\(text.debugDescription)") { try HTTPRequestHead(parsing: Array(text.utf8)[...]) }
        }
        let many = "GET / HTTP/1.1\r\n" + String(repeating: "A: b\r\n", count: HTTPRequestHead.maxHeaders + 1) + "\r\n"
        #expect(throws: HTTPRequestError.tooLarge) { try HTTPRequestHead(parsing: Array(many.utf8)[...]) }
    }
}

/// A touchscreen that records what it is sent.
final class RecordingTouchTarget: TouchTarget, @unchecked Sendable {
    private let lock = NSLock()
    private var sent: [TouchAction] = []
    func send(_ action: TouchAction) { lock.withLock { sent.append(action) } }
    var actions: [TouchAction] { lock.withLock { sent } }
}

/// Touches on the web view reach the VM whose layer is under them, in that layer's pixels,
/// and only from the view's own pages.
@Suite struct WebViewTouches {
    static func post(_ web: WebView, _ line: String, token: String?, origin: String? = nil) throws -> LoopbackHTTP.Response {
        var head = "POST /touch/main HTTP/1.1\r\nHost: 127.0.0.1:\(web.port)\r\nContent-Length: \(line.utf8.count)\r\n"
        if let token { head += "X-AVP-Token: \(token)\r\n" }
        if let origin { head += "Origin: \(origin)\r\n" }
        return try LoopbackHTTP.send(port: web.port, Array((head + "\r\n" + line).utf8))
    }

    @Test("a touch goes to the layer under it in its pixels; a contact stays with the VM it first touched until it lifts")
    func touchesFollowTheComposition() throws {
        let a = RecordingTouchTarget(), b = RecordingTouchTarget()
        let (compositor, web) = try WebViewTests.cockpit(touches: ["a": a, "b": b])
        defer { web.stop(); compositor.stop() }
        let page = try LoopbackHTTP.get(port: web.port, "/view/main")
        #expect(page.text.contains("data-token=\"\(web.token)\"") && web.token.count == 32)
        // B is at 100,60 160x120 over A (the whole display).
        for line in ["touch 150 100 0", "move 300 200 0", "release 0", "touch 10 20 1", "release 1"] {
            let r = try Self.post(web, line, token: web.token, origin: "http://127.0.0.1:\(web.port)")
            #expect(r.status == 200, "\(line): \(r.text)")
        }
        #expect(b.actions == [.touch(contact: 0, x: 50, y: 40), .move(contact: 0, x: 200, y: 140), .release(contact: 0)])
        #expect(a.actions == [.touch(contact: 1, x: 10, y: 20), .release(contact: 1)])
    }

    @Test("without this run's token, from another origin, or malformed: refused, and nothing reaches a VM")
    func foreignTouchesAreRefused() throws {
        let a = RecordingTouchTarget(), b = RecordingTouchTarget()
        let (compositor, web) = try WebViewTests.cockpit(touches: ["a": a, "b": b])
        defer { web.stop(); compositor.stop() }
        #expect(try Self.post(web, "touch 150 100", token: nil).status == 403)
        #expect(try Self.post(web, "touch 150 100", token: String(repeating: "0", count: 32)).status == 403)
        #expect(try Self.post(web, "touch 150 100", token: web.token, origin: "https://example.com").status == 403)
        #expect(try Self.post(web, "scratch 1 2", token: web.token).status == 400)
        #expect(try Self.post(web, "touch 150 100 99", token: web.token).status == 400)
        #expect(a.actions.isEmpty && b.actions.isEmpty)
    }

    @Test("where no layer shows (transparent, masked out, outside every layer) a touch goes nowhere")
    func touchesWhereNothingShows() throws {
        let a = RecordingTouchTarget()
        let policy = DisplayPolicy(name: "main", width: 64, height: 48, layers: [
            LayerPolicy(source: CompositorTests.a, destination: CompositorTests.rectA,
                        mask: try AlphaMask(width: 40, height: 30, alpha: (0..<1200).map { $0 % 40 < 20 ? 255 : 0 })),
            LayerPolicy(source: CompositorTests.b, destination: CompositorTests.rectB, opacity: 0),
        ])
        let compositor = try Compositor(displays: [policy], logger: WebViewTests.logger)
        defer { compositor.stop() }
        let router = TouchRouter(compositor: compositor, targets: ["a": a])
        #expect(router.route(.touch(contact: 0, x: 30, y: 5), on: "main") == .nowhere)   // A masked out there; B transparent
        #expect(router.route(.touch(contact: 0, x: 63, y: 47), on: "main") == .nowhere)  // outside both
        #expect(router.route(.move(contact: 0, x: 5, y: 5), on: "main") == .nowhere)     // not touching: hover
        #expect(router.route(.touch(contact: 0, x: 5, y: 5), on: "other") == .unknownDisplay)
        #expect(router.route(.touch(contact: 0, x: 5, y: 5), on: "main") == .delivered(vm: "a", .touch(contact: 0, x: 5, y: 5)))
        #expect(a.actions == [.touch(contact: 0, x: 5, y: 5)])
    }
}

/// The web view's page, in a real browser: a click is a touch and a release.
@Suite struct WebViewTouchInABrowser {
    @Test("a click on ivi's layer in /view/main, in headless Chromium, reaches that VM's touchscreen in its pixels")
    func aClickIsATouch() throws {
        try #require(HeadlessBrowser.executable != nil, "chromium is missing: scripts/host-setup installs it")
        let a = RecordingTouchTarget(), b = RecordingTouchTarget()
        let (compositor, web) = try WebViewTests.cockpit(touches: ["a": a, "b": b])
        defer { web.stop(); compositor.stop() }
        try HeadlessBrowser.click(web.url + "view/main", x: 150, y: 100, width: 320, height: 240)
        #expect(b.actions == [.touch(contact: 0, x: 50, y: 40), .release(contact: 0)], "b: \(b.actions), a: \(a.actions)")
        #expect(a.actions.isEmpty)
    }
}
