import AVPTestSupport
import ArgumentParser
import Foundation
import GuestMemory
import SystemCalls
import VhostUser
import Virtio

/// Broadcast frames from port a of a running `avp serve switch` while b takes them as fast as
/// it can and c, on a thread of its own, either does too (`healthy`) or posts its receive buffers once and never again
/// (`stuck`, a guest that stopped draining its RX queue). Prints a→b frames per second, the
/// switch's CPU time and resident memory, and what c got: bench/switch-stuck-port compares
/// the two modes.
struct SwitchStuckPortLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switch-stuck",
        abstract: "a→b broadcast throughput with a third port healthy or stuck; prints one key=value line.")

    enum Mode: String, ExpressibleByArgument { case healthy, stuck }

    @Option(help: "Port socket the frames are sent from.") var a: String
    @Option(help: "Port socket that takes every frame.") var b: String
    @Option(help: "Port socket that is healthy or stuck.") var c: String
    @Option(help: "healthy or stuck.") var mode: Mode
    @Option(help: "PID of the switch, for its CPU time and memory.") var serverPid: Int32
    @Option(help: "Ethernet frame size in bytes (64 to 1514).") var frameSize = 1514
    @Option(help: "Seconds measured.") var seconds: Double = 5

    /// A receiving port: its buffers, reposted after use unless stuck.
    final class Receiver: @unchecked Sendable {
        let driver: GuestDriver
        var byHead: [UInt16: GuestSlice] = [:]
        var received = 0
        private let lock = NSLock()
        private var stopped = false

        init(socket: String, queue: UInt16) throws {
            driver = try GuestDriver.start(socketPath: socket, queueSizes: [queue, queue], memorySize: 32 << 20)
            for _ in 0..<Int(queue) {
                let buffer = try driver.allocate(12 + 1514)
                byHead[try driver.queues[0].ring.add(writable: [buffer])] = buffer
            }
            driver.queues[0].kick()
        }

        /// Drains and reposts (or, stuck, only counts) on a thread of its own, as another VM would.
        func runInBackground(repost: Bool) {
            Thread.detachNewThread { [self] in
                while !isStopped {
                    if ((try? collect(repost: repost)) ?? 0) == 0 { _ = driver.queues[0].callEvent.wait(timeoutMilliseconds: 1) }
                }
            }
        }

        var isStopped: Bool { lock.withLock { stopped } }

        /// Stops the background thread; returns the frames it received.
        func stop() -> Int {
            lock.withLock { stopped = true }
            usleep(20_000)
            return received
        }

        func collect(repost: Bool) throws -> Int {
            let used = try driver.queues[0].ring.collectUsed()
            received += used.count
            guard repost, !used.isEmpty else { return used.count }
            // Take every used buffer first: reposting reuses descriptor heads.
            let done = used.compactMap { byHead.removeValue(forKey: $0.head) }
            for buffer in done { byHead[try driver.queues[0].ring.add(writable: [buffer])] = buffer }
            driver.queues[0].kick()
            return used.count
        }
    }

    func run() throws {
        let queue: UInt16 = 256
        let sender = try GuestDriver.start(socketPath: a, queueSizes: [queue, queue], memorySize: 32 << 20)
        let pb = try Receiver(socket: b, queue: queue)
        let pc = try Receiver(socket: c, queue: queue)
        pc.runInBackground(repost: mode == .healthy)
        let macA: [UInt8] = [0x02, 0, 0, 0, 0, 0x0a]
        let size = max(64, min(1514, frameSize))
        let frame = try sender.allocate(12 + size)
        var bytes = [UInt8](repeating: 0, count: 12)   // virtio-net header
        bytes += [UInt8](repeating: 0xff, count: 6)     // broadcast
        bytes += macA
        bytes += [0x88, 0xb5]
        bytes += [UInt8](repeating: 0x5a, count: size - 14)
        try frame.write(bytes)
        let tx = sender.queues[1]
        var inFlight = 0
        var started = false, start: UInt64 = 0, cpuStart = 0.0, receivedAtStart = 0
        let warmup = MonotonicClock.nanoseconds() + 500_000_000
        while true {
            while inFlight < Int(queue) - 1 {
                try tx.ring.add(readable: [frame])
                inFlight += 1
            }
            tx.kick()
            let done = try tx.ring.collectUsed().count
            inFlight -= done
            let arrived = try pb.collect(repost: true)
            let now = MonotonicClock.nanoseconds()
            if !started, now >= warmup {
                started = true
                start = now
                cpuStart = ProcessCPU.seconds(pid: serverPid) ?? 0
                receivedAtStart = pb.received
            }
            if started, Double(now - start) / 1e9 >= seconds {
                let frames = pb.received - receivedAtStart
                let elapsed = Double(now - start) / 1e9
                let cpu = (ProcessCPU.seconds(pid: serverPid) ?? 0) - cpuStart
                let cFrames = pc.stop()
                print("mode=\(mode.rawValue) " + String(format: "ab_frames_per_s=%.0f ab_mbit_s=%.0f switch_cpu_s=%.2f switch_rss_kib=%d c_frames=%d",
                             Double(frames) / elapsed, Double(frames * size * 8) / elapsed / 1e6, cpu,
                             Self.residentKiB(pid: serverPid), cFrames))
                return
            }
            if done == 0 && arrived == 0 { _ = pb.driver.queues[0].callEvent.wait(timeoutMilliseconds: 1) }
        }
    }

    /// VmRSS of a process, from /proc/PID/status.
    static func residentKiB(pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
