import AVPTestSupport
import ArgumentParser
import Foundation
import GuestMemory
import SystemCalls
import VhostUser
import Virtio

/// Random 4 KiB reads or writes at a fixed queue depth against any vhost-user-blk
/// back end, measured in IOPS, latency percentiles and the server's CPU time.
struct BlockLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "block",
        abstract: "Random-I/O load on a vhost-user-blk socket; prints one key=value line.")

    enum Pattern: String, ExpressibleByArgument { case randread, randwrite }

    @Option(help: "vhost-user-blk socket.") var socket: String
    @Option(help: "PID of the server, for its CPU time.") var serverPid: Int32
    @Option(help: "randread or randwrite.") var pattern: Pattern = .randread
    @Option(help: "Requests kept in flight.") var depth = 1
    @Option(help: "Seconds measured (after one second of warm-up).") var seconds: Double = 10
    @Option(help: "Bytes per request.") var blockSize = 4096
    @Option(help: "Queue size.") var queueSize: UInt16 = 256

    func run() throws {
        let driver = try GuestDriver(frontend: try VhostUserFrontend.connect(to: socket), memorySize: 64 << 20)
        try driver.negotiate()
        try driver.shareMemory()
        let frontend = driver.frontend
        var config = ByteReader(try frontend.getConfig(offset: 0, size: 8))
        let capacityBytes = try config.read(UInt64.self) * 512
        let queue = try driver.startQueue(index: 0, size: queueSize)
        let blocks = UInt64(capacityBytes) / UInt64(blockSize)
        guard blocks > 0, depth >= 1, depth * 3 <= Int(queueSize) else { throw ValidationError("bad depth or image size") }

        // One header, data buffer and status byte per slot, reused for every request.
        struct Slot { var header: GuestSlice; var data: GuestSlice; var status: GuestSlice; var started: UInt64 }
        var slots: [Slot] = try (0..<depth).map { _ in
            Slot(header: try driver.allocate(16), data: try driver.allocate(blockSize, alignment: 4096),
                 status: try driver.allocate(1), started: 0)
        }
        for s in slots { s.data.fill(0x5a) }
        var slotOfHead: [UInt16: Int] = [:]
        var random = Xorshift(seed: 0x9e37_79b9_7f4a_7c15)
        let type: UInt32 = pattern == .randread ? 0 : 1

        func issue(_ i: Int) throws {
            let sector = (random.next() % blocks) * UInt64(blockSize / 512)
            try slots[i].header.store(type, at: 0)
            try slots[i].header.store(UInt32(0), at: 4)
            try slots[i].header.store(sector, at: 8)
            slots[i].started = MonotonicClock.nanoseconds()
            let head = type == 0
                ? try queue.ring.add(readable: [slots[i].header], writable: [slots[i].data, slots[i].status])
                : try queue.ring.add(readable: [slots[i].header, slots[i].data], writable: [slots[i].status])
            slotOfHead[head] = i
        }

        var latencies: [UInt32] = []
        latencies.reserveCapacity(4_000_000)
        var completed = 0
        var errors = 0
        for i in 0..<depth { try issue(i) }
        queue.kick()
        let warmup = MonotonicClock.nanoseconds() + 1_000_000_000
        var measuring = false
        var start: UInt64 = 0
        var end: UInt64 = 0
        var cpuStart = 0.0
        while true {
            let used = try queue.waitForUsed(count: 1, timeoutMilliseconds: 10_000)
            guard !used.isEmpty else { throw ValidationError("the server stopped answering") }
            let now = MonotonicClock.nanoseconds()
            if !measuring, now >= warmup {
                measuring = true
                start = now
                cpuStart = ProcessCPU.seconds(pid: serverPid) ?? 0
            }
            for element in used {
                guard let i = slotOfHead.removeValue(forKey: element.head) else { continue }
                if try slots[i].status.load(UInt8.self, at: 0) != 0 { errors += 1 }
                if measuring {
                    completed += 1
                    latencies.append(UInt32(clamping: (now - slots[i].started) / 1000))
                }
                try issue(i)
            }
            queue.kick()
            if measuring, Double(now - start) / 1e9 >= seconds {
                end = now
                break
            }
        }
        let cpu = (ProcessCPU.seconds(pid: serverPid) ?? 0) - cpuStart
        let elapsed = Double(end - start) / 1e9
        latencies.sort()
        func percentile(_ p: Double) -> UInt32 { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        let iops = Double(completed) / elapsed
        let cpuPerMillion = completed > 0 ? cpu / Double(completed) * 1_000_000 : 0
        print(String(format: "iops=%.0f p50_us=%u p99_us=%u server_cpu_s=%.2f cpu_s_per_million=%.2f iops_per_cpu_s=%.0f errors=%d",
                     iops, percentile(0.5), percentile(0.99), cpu, cpuPerMillion, cpu > 0 ? Double(completed) / cpu : 0, errors))
    }
}

/// xorshift64*: cheap, reproducible offsets.
struct Xorshift {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
}
