import Foundation
import Testing

/// A time limit counted from the first line of a test's body, not from when Swift Testing scheduled it.
///
/// Swift Testing's `.timeLimit` starts its clock in a sibling task and runs the body in another child task,
/// which waits for a thread of the cooperative pool. That pool has one thread per core (two here), and real-guest
/// tests hold theirs for minutes, so a test of one second queued behind two of them "exceeded" its 2 minutes before
/// its first line ran (CI on `85a2307`: `FsSandboxFromTheHost`, 617 s into the run). It cannot stop a synchronous
/// body either: it only records an issue. This trait runs the body on the test case's own task, so the clock
/// starts when the body does; a plain OS thread prints a line if the body is still running at the limit (a hang is
/// visible while it lasts; the harness's own timeouts end it), and the test fails if the body took longer.
struct RunningTimeLimit: TestTrait, TestScoping {
    let seconds: Int

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let watch = OverrunWatch(seconds: seconds, name: test.displayName ?? test.name)
        let start = ContinuousClock.now
        defer { watch.finish() }
        try await function()
        let took = ContinuousClock.now - start
        if took > .seconds(seconds) {
            Issue.record("the body ran \(took.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))), beyond its limit of \(seconds) s")
        }
    }
}

extension Trait where Self == RunningTimeLimit {
    /// Fails the test if its body runs longer than `minutes`, counted from the body's first line.
    static func runningTimeLimit(minutes: Int) -> Self { RunningTimeLimit(seconds: minutes * 60) }
}

/// A thread that prints to standard error when a test body is still running at its limit.
final class OverrunWatch: Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(seconds: Int, name: String) {
        let done = self.done
        Thread.detachNewThread {
            if done.wait(timeout: .now() + .seconds(seconds)) == .timedOut {
                FileHandle.standardError.write(Data("\(name): still running \(seconds) s after its body started\n".utf8))
            }
        }
    }

    func finish() { done.signal() }
}
