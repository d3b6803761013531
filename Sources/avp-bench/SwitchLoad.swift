import AVPTestSupport
import ArgumentParser
import Foundation
import GuestMemory
import SystemCalls
import VhostUser
import Virtio

/// Frames from one switch port to another as fast as the switch takes them: two
/// vhost-user-net front ends (AVP's Swift front end), no guests. Reports frames per
/// second and the switch's CPU time per frame.
struct SwitchLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switch",
        abstract: "Frames between two ports of a running `avp serve switch`; prints one key=value line.")

    @Option(help: "Port socket the frames are sent from.") var from: String
    @Option(help: "Port socket the frames go to.") var to: String
    @Option(help: "PID of the switch, for its CPU time.") var serverPid: Int32
    @Option(help: "Ethernet frame size in bytes (64 to 1514).") var frameSize = 64
    @Option(help: "Seconds measured.") var seconds: Double = 5

    func run() throws {
        let queue: UInt16 = 256
        let sender = try GuestDriver.start(socketPath: from, queueSizes: [queue, queue], memorySize: 32 << 20)
        let receiver = try GuestDriver.start(socketPath: to, queueSizes: [queue, queue], memorySize: 32 << 20)
        let macA: [UInt8] = [0x02, 0, 0, 0, 0, 0x0a], macB: [UInt8] = [0x02, 0, 0, 0, 0, 0x0b]
        let header = [UInt8](repeating: 0, count: 12)
        let size = max(64, min(1514, frameSize))

        // Receive buffers, all posted; the receiver announces itself so the switch learns its MAC.
        let rxBuffers = try (0..<Int(queue)).map { _ in try receiver.allocate(12 + 1514) }
        for b in rxBuffers { try receiver.queues[0].ring.add(writable: [b]) }
        receiver.queues[0].kick()
        let hello = try receiver.allocate(12 + 64)
        try hello.write(header + [UInt8](repeating: 0xff, count: 6) + macB + [0x88, 0xb5] + [UInt8](repeating: 0, count: 50))
        try receiver.queues[1].ring.add(readable: [hello])
        receiver.queues[1].kick()
        _ = try sender.queues[0].waitForUsed(timeoutMilliseconds: 2000)   // the flooded hello

        let frame = try sender.allocate(12 + size)
        try frame.write(header + macB + macA + [0x88, 0xb5] + [UInt8](repeating: 0x5a, count: size - 14))
        let tx = sender.queues[1], rx = receiver.queues[0]
        var inFlight = 0, sent = 0, received = 0
        var started = false, start: UInt64 = 0, cpuStart = 0.0, receivedAtStart = 0
        let warmup = MonotonicClock.nanoseconds() + 500_000_000
        while true {
            while inFlight < Int(queue) - 1 {
                try tx.ring.add(readable: [frame])
                inFlight += 1
                sent += 1
            }
            tx.kick()
            let done = try tx.ring.collectUsed().count
            inFlight -= done
            let arrived = try rx.ring.collectUsed()
            received += arrived.count
            if !arrived.isEmpty {
                for b in rxBuffers.prefix(arrived.count) { try rx.ring.add(writable: [b]) }
                rx.kick()
            }
            let now = MonotonicClock.nanoseconds()
            if !started, now >= warmup {
                started = true
                start = now
                cpuStart = ProcessCPU.seconds(pid: serverPid) ?? 0
                receivedAtStart = received
            }
            if started, Double(now - start) / 1e9 >= seconds {
                let frames = received - receivedAtStart
                let elapsed = Double(now - start) / 1e9
                let cpu = (ProcessCPU.seconds(pid: serverPid) ?? 0) - cpuStart
                print(String(format: "frames_per_s=%.0f mbit_s=%.0f switch_cpu_s=%.2f cpu_ns_per_frame=%.0f",
                             Double(frames) / elapsed, Double(frames * size * 8) / elapsed / 1e6, cpu,
                             frames > 0 ? cpu / Double(frames) * 1e9 : 0))
                return
            }
            if done == 0 && arrived.isEmpty { _ = rx.callEvent.wait(timeoutMilliseconds: 1) }
        }
    }
}
