import SystemCalls

/// The measuring window of a request-rate load against a device server: a half-second warm-up,
/// then `seconds` of completions counted against the server's CPU time. `avp-bench gpio` and
/// `avp-bench scmi` feed it their completion count after each reap.
struct ServerCPUWindow {
    let serverPid: Int32
    let seconds: Double
    /// The unit printed in the keys: `requests` gives `requests_per_s`, `requests_per_cpu_s`.
    let unit: String
    private let warmupEnd = MonotonicClock.nanoseconds() + 500_000_000
    private var start: UInt64?
    private var cpuStart = 0.0
    private var completedAtStart = 0

    init(serverPid: Int32, seconds: Double, unit: String) {
        self.serverPid = serverPid
        self.seconds = seconds
        self.unit = unit
    }

    /// Records the total completed so far; once the window is over, prints one key=value line
    /// and returns true.
    mutating func finished(completed: Int, errors: Int) -> Bool {
        let now = MonotonicClock.nanoseconds()
        guard let start else {
            if now >= warmupEnd {
                start = now
                cpuStart = ProcessCPU.seconds(pid: serverPid) ?? 0
                completedAtStart = completed
            }
            return false
        }
        let elapsed = Double(now - start) / 1e9
        guard elapsed >= seconds else { return false }
        let done = completed - completedAtStart
        let cpu = (ProcessCPU.seconds(pid: serverPid) ?? 0) - cpuStart
        let perCPU = cpu > 0 ? Double(done) / cpu : 0
        let cpuNanoseconds = done > 0 ? cpu / Double(done) * 1e9 : 0
        print("\(unit)_per_s=\(Int(Double(done) / elapsed)) server_cpu_s=\((cpu * 100).rounded() / 100) \(unit)_per_cpu_s=\(Int(perCPU)) cpu_ns_per_\(unit.dropLast())=\(Int(cpuNanoseconds)) errors=\(errors)")
        return true
    }
}
