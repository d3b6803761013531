#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Logging
import Synchronization
import SystemCalls
import Virtio

/// What a person looks at with a browser: a local web page with every composed display live
/// (AVPS 2.8: the cockpit as the platform composes it), served on 127.0.0.1 only, and the
/// person's touches on it routed to the VMs (`TouchRouter`). It pulls: each request reads the
/// compositor's output frames (their generation says whether there is a newer picture), so
/// unlike the pushed `DisplaySink`s (PNG snapshots, a DRM/KMS output) it needs no notice.
///
/// A page on any site the person visits can make the browser send requests to localhost, so:
/// nothing here changes the policy (`avp display` does, through the GPU server's control
/// socket, whose file permissions keep others out); every request must name this server in
/// its Host header (a rebinding DNS name reaching 127.0.0.1 is refused); and a touch must
/// carry the token of this run, which only pages of this server hold, in a header that
/// makes a browser ask first (CORS preflight), which this server never grants.
///
/// Pages: `/` (every display, with its safety checks), `/view/NAME` (one display alone at
/// the page's top left, for kiosks and screenshots), `/display/NAME.png[?after=G]` (the
/// composed frame; with `after`, waits until a frame newer than generation G exists, at most
/// `longPollSeconds`), `/displays.json`; `POST /touch/NAME` with one `TouchLine` in the
/// display's pixels.
///
/// One thread accepts; each connection gets its own short-lived thread (at most
/// `maxConnections`), blocking I/O with timeouts, one request each. A frame is encoded once
/// per generation however many viewers ask, on the thread of the first to ask.
public final class WebView: @unchecked Sendable {
    public static let maxConnections = 16
    public static let longPollSeconds = 20.0
    /// The header a touch carries this run's token in.
    public static let tokenHeader = "x-avp-token"

    public let port: UInt16
    public var url: String { "http://127.0.0.1:\(port)/" }

    private let listener: LoopbackListener
    private let title: String
    private let names: [String]
    private let displays: [String: Display]
    private let statistics: (@Sendable () -> CompositorStatistics)?
    private let touches: TouchRouter?
    /// Random per run: what a touch must carry (pages of this server embed it).
    public let token: String
    private let logger: Logger
    private let refused = Mutex(LogSampler(always: 4))
    private let connections = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    /// Set once in `init`, joined once in `stop`.
    private var thread: OSThread?

    /// One display: its frame (the compositor's output object, fixed for its life; its
    /// generation says whether there is a newer picture) and the PNG of the last generation
    /// encoded.
    private final class Display: Sendable {
        let frame: ScanoutFrame
        let encoded = Mutex<(generation: UInt64, png: [UInt8])?>(nil)

        init(frame: ScanoutFrame) { self.frame = frame }
    }

    /// Listens on 127.0.0.1:`port` (0: any free port; `port` tells which) for `displays`,
    /// in the order given; `statistics` adds the safety checks to the page; `touches` takes
    /// the person's touches (none without it).
    public init(port: UInt16, title: String, displays: [(name: String, frame: ScanoutFrame)],
                statistics: (@Sendable () -> CompositorStatistics)? = nil, touches: TouchRouter? = nil, logger: Logger) throws(Errno) {
        listener = try LoopbackListener(port: port)
        token = try SystemRandom.bytes(16).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        self.touches = touches
        self.port = listener.port
        self.title = title
        names = displays.map(\.name)
        self.displays = Dictionary(displays.map { ($0.name, Display(frame: $0.frame)) }, uniquingKeysWith: { first, _ in first })
        self.statistics = statistics
        self.logger = logger
        thread = try OSThread(name: "avp-web-view") { [weak self, listener] in
            while let self, !self.stopped.load(ordering: .acquiring) {
                let connection: LoopbackConnection?
                do { connection = try listener.accept(timeoutMilliseconds: 200) } catch {
                    self.logger.warning("web view: accept: \(error)")
                    MonotonicClock.sleep(milliseconds: 200)
                    continue
                }
                if let connection { self.serve(connection) }
            }
        }
    }

    /// Stops accepting; connections under way end within their wait.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        thread?.join()
    }

    // MARK: Connections

    private func serve(_ connection: LoopbackConnection) {
        guard connections.add(1, ordering: .acquiringAndReleasing).newValue <= Self.maxConnections else {
            connections.subtract(1, ordering: .releasing)
            try? connection.sendAll(HTTPResponse.text(.serviceUnavailable, "too many connections").bytes())
            return
        }
        do {
            try OSThread.detached(name: "avp-web-client") { [self] in
                defer { connections.subtract(1, ordering: .releasing) }
                handle(connection)
            }
        } catch {
            connections.subtract(1, ordering: .releasing)
            logger.warning("web view: cannot start a connection thread: \(error)")
        }
    }

    private func handle(_ connection: LoopbackConnection) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        var end: Int?
        // Each read has its own timeout; a client dribbling a byte at a time still gets 10 s in all.
        let deadline = MonotonicClock.seconds() + 10
        while end == nil, received.count <= HTTPRequestHead.maxSize {
            let n = (try? buffer.withUnsafeMutableBytes { try connection.read(into: $0) }) ?? 0
            guard n > 0, MonotonicClock.seconds() < deadline else { return }   // closed, timed out or failed: nothing to answer
            received += buffer[..<n]
            end = HTTPRequestHead.end(in: received)
        }
        let response: HTTPResponse
        var headOnly = false
        do {
            let head = try HTTPRequestHead(parsing: received[..<(end ?? received.count)])
            headOnly = head.method == "HEAD"
            var body = Array(received[(end ?? received.count)...])
            if let length = head.headers["content-length"].flatMap({ Int($0) }), (0...Self.maxBody).contains(length) {
                while body.count < length {
                    let n = (try? buffer.withUnsafeMutableBytes { try connection.read(into: $0) }) ?? 0
                    guard n > 0, MonotonicClock.seconds() < deadline else { return }
                    body += buffer[..<n]
                }
                body = Array(body.prefix(length))
            }
            response = respond(to: head, body: body)
        } catch {
            if refused.withLock({ $0.record() }) { logger.notice("web view: refused a request: \(error)") }
            response = .text(error.status, error.description)
        }
        try? connection.sendAll(response.bytes(headOnly: headOnly))
    }

    /// A touch line is short; a longer body is not read.
    static let maxBody = 256

    /// The answer to one request (waits for a newer frame when asked to).
    func respond(to head: HTTPRequestHead, body: [UInt8] = []) -> HTTPResponse {
        // DNS rebinding: a name of the attacker's that resolves to 127.0.0.1 would make its pages same-origin.
        guard let host = head.headers["host"], host == "127.0.0.1:\(port)" || host == "localhost:\(port)" else {
            return .text(.misdirected, "this view answers to 127.0.0.1:\(port) only")
        }
        let path = head.path
        if head.method == "POST", path.hasPrefix("/touch/") {
            return touch(String(path.dropFirst("/touch/".count)), head: head, body: body)
        }
        guard head.method == "GET" || head.method == "HEAD" else {
            return HTTPResponse(status: .methodNotAllowed, contentType: "text/plain", extraHeaders: [("Allow", "GET, HEAD")],
                                body: Array("the web view shows the displays and takes touches (POST /touch/NAME); the policy is changed with avp display\n".utf8))
        }
        if path == "/" || path == "/index.html" {
            return .init(status: .ok, contentType: "text/html; charset=utf-8",
                         body: Array(WebViewPage.index(title: title, displays: pageDisplays, token: touchToken).utf8))
        }
        if path == "/displays.json" {
            return .init(status: .ok, contentType: "application/json", body: displaysJSON())
        }
        if path.hasPrefix("/view/") {
            let name = String(path.dropFirst("/view/".count))
            guard let page = pageDisplays.first(where: { $0.name == name }) else { return notFound(name) }
            return .init(status: .ok, contentType: "text/html; charset=utf-8", body: Array(WebViewPage.single(title: title, display: page, token: touchToken).utf8))
        }
        if path.hasPrefix("/display/"), path.hasSuffix(".png") {
            let name = String(path.dropFirst("/display/".count).dropLast(".png".count))
            guard let display = displays[name] else { return notFound(name) }
            if let after = head.query["after"] {
                guard let generation = UInt64(after) else { return .text(.badRequest, "after= is a frame generation (a whole number)") }
                wait(for: display, newerThan: generation)
            }
            let (generation, png) = encoded(display)
            return .init(status: .ok, contentType: "image/png", extraHeaders: [("X-Generation", String(generation))], body: png)
        }
        return .text(.notFound, "no page \(path); the displays are at /")
    }

    /// The token pages embed, nil when there is no touch input.
    private var touchToken: String? { touches == nil ? nil : token }

    /// `POST /touch/NAME`: one `TouchLine` in the display's pixels, routed to the VM under it.
    private func touch(_ display: String, head: HTTPRequestHead, body: [UInt8]) -> HTTPResponse {
        guard let touches else { return .text(.notFound, "this platform has no touch input (give its VMs '- type: input')") }
        guard head.headers[Self.tokenHeader] == token else { return .text(.forbidden, "a touch needs this run's token (from the view's pages)") }
        if let origin = head.headers["origin"], origin != "http://127.0.0.1:\(port)", origin != "http://localhost:\(port)" {
            return .text(.forbidden, "touches come from this view's own pages only")
        }
        guard displays[display] != nil else { return notFound(display) }
        let action: TouchAction?
        do { action = try TouchLine.parse(body) } catch { return .text(.badRequest, "touch: \(error)") }
        guard let action else { return .text(.badRequest, "touch: an empty line") }
        switch touches.route(action, on: display) {
        case let .delivered(vm, local): return .text(.ok, "\(vm): \(local)")
        case .nowhere: return .text(.ok, "nothing to touch there")
        case .unknownDisplay: return notFound(display)
        }
    }

    private func notFound(_ display: String) -> HTTPResponse {
        .text(.notFound, "no display '\(display)'; displays: \(names.joined(separator: ", "))")
    }

    private var pageDisplays: [WebViewPage.Display] {
        names.compactMap { name in
            displays[name].map { d in
                let size = d.frame.size
                return WebViewPage.Display(name: name, width: size.width, height: size.height, generation: d.frame.generation)
            }
        }
    }

    /// Sleeps in short steps until the display is newer than `generation`, the wait is over
    /// or the view stops (a browser that went away costs this thread until then at most).
    private func wait(for display: Display, newerThan generation: UInt64) {
        let deadline = MonotonicClock.seconds() + Self.longPollSeconds
        while display.frame.generation <= generation,
              MonotonicClock.seconds() < deadline, !stopped.load(ordering: .relaxed) {
            MonotonicClock.sleep(milliseconds: 25)
        }
    }

    /// The PNG of the display's current frame, encoded once per generation.
    private func encoded(_ display: Display) -> (UInt64, [UInt8]) {
        display.encoded.withLock { cache in
            let current = display.frame.generation
            if let cache, cache.generation == current { return (cache.generation, cache.png) }
            let snapshot = display.frame.snapshot()
            let png = PNGEncoder.encode(width: snapshot.width, height: snapshot.height, bgrx: snapshot.pixels)
            cache = (snapshot.generation, png)
            return (snapshot.generation, png)
        }
    }

    /// One display in `/displays.json`, read by the page's script; the counts only when the
    /// compositor keeps statistics (nil properties are left out).
    private struct DisplayEntry: Encodable {
        struct Safety: Encodable { var layer: Int; var region: Int; var checks: Int; var mismatches: Int }
        var name: String
        var width: Int
        var height: Int
        var generation: UInt64
        var framesComposed: Int?
        var safety: [Safety]?
    }

    private func displaysJSON() -> [UInt8] {
        let stats = statistics?()
        let entries = pageDisplays.map { d in
            var entry = DisplayEntry(name: d.name, width: d.width, height: d.height, generation: d.generation)
            if let stats {
                entry.framesComposed = stats.framesComposed[d.name] ?? 0
                entry.safety = stats.safety.filter { $0.key.display == d.name }
                    .sorted { ($0.key.layer, $0.key.region) < ($1.key.layer, $1.key.region) }
                    .map { .init(layer: $0.key.layer, region: $0.key.region, checks: $0.value.checks, mismatches: $0.value.mismatches) }
            }
            return entry
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(entries)).map { [UInt8]($0) } ?? Array("[]".utf8)
    }
}
