import Foundation
import Logging
import Synchronization
import SystemCalls
import Virtio

/// A display sink a person looks at with a browser: a local web page with every composed
/// display live (AVPS 2.8: the cockpit as the platform composes it), served on 127.0.0.1
/// only. Read-only on purpose: a page on any site the person visits can make the browser
/// send requests to localhost, so nothing here changes the policy (`avp display` does,
/// through the GPU server's control socket, whose file permissions keep others out).
///
/// Pages: `/` (every display, with its safety checks), `/view/NAME` (one display alone at
/// the page's top left, for kiosks and screenshots), `/display/NAME.png[?after=G]` (the
/// composed frame; with `after`, waits until a frame newer than generation G exists, at most
/// `longPollSeconds`), `/displays.json`.
///
/// One thread accepts; each connection gets its own short-lived thread (at most
/// `maxConnections`), blocking I/O with timeouts, one request each. A frame is encoded once
/// per generation however many viewers ask, on the thread of the first to ask.
public final class WebView: DisplaySink, @unchecked Sendable {
    public static let maxConnections = 16
    public static let longPollSeconds = 20.0

    public let port: UInt16
    public var url: String { "http://127.0.0.1:\(port)/" }

    private let listener: LoopbackListener
    private let title: String
    private let names: [String]
    private let displays: [String: Display]
    private let statistics: (@Sendable () -> CompositorStatistics)?
    private let logger: Logger
    private let refused = Mutex(LogSampler(always: 4))
    private let connections = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    /// Set once in `init`, joined once in `stop`.
    private var thread: OSThread?

    /// One display: its frame (the compositor's output object, fixed for its life), the
    /// newest generation announced, and the PNG of the last generation encoded.
    private final class Display: Sendable {
        let frame: ScanoutFrame
        let announced: Atomic<UInt64>
        let encoded = Mutex<(generation: UInt64, png: [UInt8])?>(nil)

        init(frame: ScanoutFrame) {
            self.frame = frame
            announced = Atomic(frame.generation)
        }
    }

    /// Listens on 127.0.0.1:`port` (0: any free port; `port` tells which) for `displays`,
    /// in the order given; `statistics` adds the safety checks to the page.
    public init(port: UInt16, title: String, displays: [(name: String, frame: ScanoutFrame)],
                statistics: (@Sendable () -> CompositorStatistics)? = nil, logger: Logger) throws(Errno) {
        listener = try LoopbackListener(port: port)
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

    public func displayComposed(_ name: String, frame: ScanoutFrame, generation: UInt64) {
        displays[name]?.announced.max(generation, ordering: .releasing)
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
        while end == nil, received.count <= HTTPRequestHead.maxSize {
            let n = (try? buffer.withUnsafeMutableBytes { try connection.read(into: $0) }) ?? 0
            guard n > 0 else { return }   // closed, timed out or failed: nothing to answer
            received += buffer[..<n]
            end = HTTPRequestHead.end(in: received)
        }
        let response: HTTPResponse
        var headOnly = false
        do {
            let head = try HTTPRequestHead(parsing: received[..<(end ?? received.count)])
            headOnly = head.method == "HEAD"
            response = respond(to: head)
        } catch {
            if refused.withLock({ $0.record() }) { logger.notice("web view: refused a request: \(error)") }
            response = .text(error.status, error.description)
        }
        try? connection.sendAll(response.bytes(headOnly: headOnly))
    }

    /// The answer to one request (waits for a newer frame when asked to).
    func respond(to head: HTTPRequestHead) -> HTTPResponse {
        guard head.method == "GET" || head.method == "HEAD" else {
            return HTTPResponse(status: .methodNotAllowed, contentType: "text/plain", extraHeaders: [("Allow", "GET, HEAD")],
                                body: Array("the web view is read-only; change the policy with avp display\n".utf8))
        }
        let path = head.path
        if path == "/" || path == "/index.html" {
            return .init(status: .ok, contentType: "text/html; charset=utf-8", body: Array(WebViewPage.index(title: title, displays: pageDisplays).utf8))
        }
        if path == "/displays.json" {
            return .init(status: .ok, contentType: "application/json", body: displaysJSON())
        }
        if path.hasPrefix("/view/") {
            let name = String(path.dropFirst("/view/".count))
            guard let page = pageDisplays.first(where: { $0.name == name }) else { return notFound(name) }
            return .init(status: .ok, contentType: "text/html; charset=utf-8", body: Array(WebViewPage.single(title: title, display: page).utf8))
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
        while display.announced.load(ordering: .acquiring) <= generation, display.frame.generation <= generation,
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

    private func displaysJSON() -> [UInt8] {
        let stats = statistics?()
        let entries: [[String: Any]] = pageDisplays.map { d in
            var entry: [String: Any] = ["name": d.name, "width": d.width, "height": d.height, "generation": d.generation]
            if let stats {
                entry["framesComposed"] = stats.framesComposed[d.name] ?? 0
                entry["safety"] = stats.safety.filter { $0.key.display == d.name }
                    .sorted { ($0.key.layer, $0.key.region) < ($1.key.layer, $1.key.region) }
                    .map { ["layer": $0.key.layer, "region": $0.key.region, "checks": $0.value.checks, "mismatches": $0.value.mismatches] }
            }
            return entry
        }
        return (try? JSONSerialization.data(withJSONObject: entries, options: [.sortedKeys])).map { [UInt8]($0) } ?? Array("[]".utf8)
    }
}
