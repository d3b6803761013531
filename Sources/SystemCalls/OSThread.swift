#if canImport(Glibc)
import Glibc
#endif
import CAVPShim

/// A dedicated OS thread (pthread) that can be joined. Hot paths run on these,
/// never on Swift's cooperative pool.
public final class OSThread: @unchecked Sendable {
    private var thread: pthread_t = 0
    private var joined = false

    private final class Box {
        let name: String
        let body: () -> Void
        init(_ name: String, _ body: @escaping () -> Void) { self.name = String(name.utf8.prefix(15))!; self.body = body }
        func run() {
            _ = avp_set_thread_name(name)
            body()
        }
    }

    /// Starts `body` on a new thread named `name` (at most 15 bytes are kept by Linux).
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(Errno) {
        let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.run()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw Errno(rc, call: "pthread_create")
        }
    }

    /// Starts `body` on a thread nobody joins: its resources go when it ends (short-lived work
    /// such as one connection of a local web view).
    public static func detached(name: String, _ body: @escaping @Sendable () -> Void) throws(Errno) {
        let thread = try OSThread(name: name, body)
        thread.joined = true
        pthread_detach(thread.thread)
    }

    /// Waits for the thread to finish. Call once, from another thread.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }
}
