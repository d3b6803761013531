import Foundation

/// Headless Chromium for tests that look at a page as a person would: a screenshot of a URL
/// at a given window size, one device pixel per CSS pixel.
public enum HeadlessBrowser {
    public struct Failed: Error, CustomStringConvertible {
        public let description: String
    }

    /// The browser, or nil where none is installed (scripts/host-setup installs chromium).
    public static var executable: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Loads `url` in a `width`x`height` window and writes a PNG of it to `path` once the
    /// page's load event (its images included) has come. (No virtual time budget: it would
    /// wait for a page's pending long polls.)
    public static func screenshot(_ url: String, width: Int, height: Int, to path: String, timeoutSeconds: Double = 60) throws {
        let (browser, profile) = try prepare()
        defer { try? FileManager.default.removeItem(atPath: profile) }
        // --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
        let (status, output) = try run(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
                                                 "--no-first-run", "--disable-extensions", "--user-data-dir=\(profile)",
                                                 "--window-size=\(width),\(height)", "--screenshot=\(path)", url], timeoutSeconds: timeoutSeconds)
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failed(description: "chromium wrote no screenshot of \(url) (status \(status)): \(output)")
        }
    }

    /// Opens `url` in a `width`x`height` page, waits until its images have loaded, clicks the
    /// left mouse button at (x, y) as a person would (press, release: the page sees pointer
    /// events) and waits for the page's `sending` promise (its queued requests), through the
    /// DevTools protocol over a pipe (`--remote-debugging-pipe`), driven by python3.
    public static func click(_ url: String, x: Int, y: Int, width: Int, height: Int, timeoutSeconds: Double = 60) throws {
        let (browser, profile) = try prepare()
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let (status, output) = try run("/usr/bin/env", ["python3", "-c", clickProgram, browser, url, String(width), String(height),
                                                        String(x), String(y), profile], timeoutSeconds: timeoutSeconds)
        guard status == 0 else { throw Failed(description: "clicking \(url) at \(x),\(y) failed (status \(status)): \(output)") }
    }

    /// The browser and a fresh profile directory for one run (the caller removes it).
    private static func prepare() throws -> (browser: String, profile: String) {
        guard let browser = executable else { throw Failed(description: "no chromium installed (scripts/host-setup)") }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("avp-chromium-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        return (browser, profile)
    }

    /// Runs a program to its end (stopped after `timeoutSeconds`); its status and the last of its output.
    private static func run(_ program: String, _ arguments: [String], timeoutSeconds: Double) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = arguments
        let log = Pipe()
        p.standardOutput = log
        p.standardError = log
        try p.run()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        let output = LockedData()
        let reader = Thread { output.set(log.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        while p.isRunning, Date() < deadline { usleep(50_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        usleep(100_000)   // the reader has the output once the pipe closed
        return (p.terminationStatus, String(decoding: output.get().suffix(2000), as: UTF8.self))
    }

    private static let clickProgram = """
        import json, os, subprocess, sys
        browser, url, w, h, x, y, profile = sys.argv[1:8]
        to_browser, commands = os.pipe()
        replies, from_browser = os.pipe()
        def pipes():
            # Via high numbers: a pipe may already be 3 or 4, and dup2 onto itself would keep it close-on-exec.
            os.dup2(to_browser, 100); os.dup2(from_browser, 101)
            os.dup2(100, 3); os.dup2(101, 4); os.set_inheritable(3, True); os.set_inheritable(4, True)
        p = subprocess.Popen([browser, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run',
                              '--force-device-scale-factor=1', '--remote-debugging-pipe', '--user-data-dir=' + profile, 'about:blank'],
                             preexec_fn=pipes, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser); os.close(from_browser)
        pending = b''; last = 0
        def call(method, params={}, session=None, tolerate=False):
            global pending, last
            last += 1
            message = {'id': last, 'method': method, 'params': params}
            if session: message['sessionId'] = session
            os.write(commands, json.dumps(message).encode() + b'\\0')
            while True:
                while b'\\0' not in pending:
                    chunk = os.read(replies, 65536)
                    if not chunk: sys.exit('the browser closed its pipe')
                    pending += chunk
                text, pending = pending.split(b'\\0', 1)
                reply = json.loads(text)
                if reply.get('id') == last:
                    if 'error' in reply:
                        if tolerate: return None
                        sys.exit(method + ': ' + json.dumps(reply['error']))
                    return reply.get('result', {})
        target = call('Target.createTarget', {'url': 'about:blank', 'width': int(w), 'height': int(h), 'newWindow': True})['targetId']
        session = call('Target.attachToTarget', {'targetId': target, 'flatten': True})['sessionId']
        call('Page.navigate', {'url': url}, session)
        # Until the page itself has loaded with its images (an evaluation may meet the blank page
        # or a context the navigation destroys: asked again).
        loaded = "new Promise(r=>{const f=()=>location.protocol.startsWith('http')&&document.readyState==='complete'&&[...document.images].every(i=>i.complete&&i.naturalWidth)?r(1):setTimeout(f,50);f()})"
        for attempt in range(200):
            result = call('Runtime.evaluate', {'expression': loaded, 'awaitPromise': True, 'returnByValue': True}, session, tolerate=True)
            if result and result.get('result', {}).get('value') == 1: break
        else:
            sys.exit('the page did not load')
        for kind, buttons in (('mousePressed', 1), ('mouseReleased', 0)):
            call('Input.dispatchMouseEvent', {'type': kind, 'x': int(x), 'y': int(y), 'button': 'left', 'buttons': buttons, 'clickCount': 1}, session)
        call('Runtime.evaluate', {'expression': "typeof sending === 'undefined' ? 0 : sending.then(() => 1)", 'awaitPromise': True}, session)
        try:
            call('Browser.close')
        except SystemExit:
            pass
        p.wait(timeout=20)
        """

    private final class LockedData: @unchecked Sendable {
        private var data = Data()
        private let lock = NSLock()
        func set(_ d: Data) { lock.withLock { data = d } }
        func get() -> Data { lock.withLock { data } }
    }
}
