import Foundation
import Testing

/// The limit counts the body's own time: one that overruns fails, one within it does not.
@Suite struct RunningTimeLimitCounting {
    @Test("a body that runs past its limit records an issue; one within it records none")
    func overrunIsAnIssue() async throws {
        let test = try #require(Test.current)
        await withKnownIssue("the body slept 1.2 s against a 1 s limit") {
            try await RunningTimeLimit(seconds: 1).provideScope(for: test, testCase: nil) { usleep(1_200_000) }
        }
        try await RunningTimeLimit(seconds: 5).provideScope(for: test, testCase: nil) { usleep(10_000) }
    }
}
