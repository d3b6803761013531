import Foundation

/// CPU time (user + system, all threads) a server has used, from /proc/PID/stat, counting its
/// live descendants too: a sandboxed `avp serve` forks, and its child in the new PID namespace
/// does the serving while the process the script started only waits (docs/sandbox.md).
enum ProcessCPU {
    static func seconds(pid: Int32) -> Double? {
        guard let own = ownSeconds(pid: pid) else { return nil }
        return children(of: pid).reduce(own) { $0 + (seconds(pid: $1) ?? 0) }
    }

    private static func ownSeconds(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// /proc/PID/task/TID/children of every thread (CONFIG_PROC_CHILDREN).
    private static func children(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int32($0) }
        }
    }
}
