// libFuzzer target: virtio-scmi from a guest that controls every byte (VIRTIO 1.2 §5.21, Arm SCMI DEN0056).
//   - first byte 0 mod 4: the bytes after it are one cmdq message: ScmiCommand.parse, then the
//     agent executes what parses with a response room chosen by the first byte (the response
//     must fit it; a refusal carries no payload);
//   - 1 mod 4: a control-socket line for ScmiControlServer.answer (set/clear/limit on the host);
//   - 2 mod 4: the bytes as a signal CSV for ScmiSignalTrace (must parse or refuse; values finite);
//   - 3 mod 4: the bytes lay out a guest's RAM with a cmdq or eventq and its chains (FuzzGuest),
//     which one SCMI device answers; between inputs the time moves so continuous sensor updates
//     fall due. The agent persists across inputs (sensor configurations, notifications, requests
//     and power wants accumulate) and is reset now and then.
// Build and run: fuzz/run scmi
import Devices
import Foundation
import GuestMemory
import Logging
import Virtio

private let signals = try! ScmiSignals(trace: try! ScmiSignalTrace(csv: "time_s,speed,coolant\n0,0,20\n10,30,90\n"), constants: ["cabin": 21])
private let topology = try! ScmiHostTopology(
    sensors: [ScmiHostSensor(name: "speed", unit: .metersPerSecond, source: try! ScmiSignalSensor(signals: signals, signal: "speed")),
              ScmiHostSensor(name: "coolant", unit: .celsius, source: try! ScmiSignalSensor(signals: signals, signal: "coolant")),
              ScmiHostSensor(name: "cabin", unit: .celsius, source: try! ScmiSignalSensor(signals: signals, signal: "cabin"))],
    performance: [try! ScmiPerformanceDomain(name: "cpu", levels: [600_000, 1_200_000, 1_800_000], limit: 1_200_000),
                  try! ScmiPerformanceDomain(name: "gpu", levels: [100_000])],
    power: [try! ScmiPowerDomain(name: "gpu"), try! ScmiPowerDomain(name: "audio", initiallyOn: false)],
    reset: ["modem"])
private let host = ScmiHost(topology: topology, logger: FuzzGuest.logger)
private let view = try! ScmiAgentView(vm: "fuzz", topology: topology, sensors: ["coolant", "speed"], performance: ["cpu", "gpu"],
                                      power: ["gpu", "audio"], reset: ["modem"])
private let agent = ScmiAgent(view: view, host: host)
private let other = ScmiAgent(view: ScmiAgentView(vm: "other", sensors: [2], performance: [0], power: [0]), host: host)
private let device: ScmiDevice = {
    let d = try! ScmiDevice(view: view, host: host, logger: FuzzGuest.logger)
    d.acknowledge(features: VirtioFeatures.transport.union(d.deviceFeatures))
    return d
}()
private let control = try! ScmiControlServer(path: NSTemporaryDirectory() + "/avp-scmi-fuzz-\(getpid()).sock", host: host,
                                             signals: signals, logger: FuzzGuest.logger)
nonisolated(unsafe) private var inputs = 0   // libFuzzer calls the target on one thread
nonisolated(unsafe) private var clock: UInt64 = 1_000_000_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    clock += UInt64(data[0]) * 5_000_000
    switch data[0] & 3 {
    case 0:
        guard let command = try? ScmiCommand.parse(bytes) else {
            precondition(bytes.count < 4 || bytes.count > 4 + ScmiCodes.maxRequestPayload || (bytes[1] >> 0) & 3 != 0)
            break
        }
        let capacity = Int(data[0] >> 2) * 3
        let target = data[0] & 0x80 != 0 ? other : agent
        let response = target.execute(command, capacity: capacity, now: clock)
        precondition(response.payload.count <= capacity && response.payload.count <= ScmiCodes.maxPayload)
        precondition(response.status == .success || response.payload.isEmpty)
        for i in topology.performance.indices {
            let level = host.effectiveLevel(domain: i)
            precondition(topology.performance[i].levels.contains(level), "the effective level is a declared level")
            if let limit = host.limit(domain: i), limit >= topology.performance[i].levels[0] { precondition(level <= limit) }
        }
        for message in agent.dueNotifications(now: clock) { precondition(message.count == 28) }
    case 1:
        _ = control.answer(bytes)
    case 2:
        if let trace = try? ScmiSignalTrace(csv: String(decoding: bytes, as: UTF8.self), mode: data[0] & 4 != 0 ? .step : .interpolate) {
            for s in trace.signals.indices { precondition(trace.value(of: s, at: Double(data[0]) * 0.37).isFinite) }
        }
    default:
        var features: VirtioFeatures = [.version1, .ringIndirectDescriptors]
        if data[0] & 4 != 0 { features.insert(.ringEventIndex) }
        guard let ring = FuzzGuest.queue(data + 1, size - 1, features: features) else { return 0 }
        let index = Int(data[0] >> 3) & 1
        let queue = DeviceQueue(index: index, ring: ring, notifier: NullNotifier(), logger: FuzzGuest.logger)
        device.queueStarted(queue)
        device.process(queue)
        device.handleEvent(descriptor: device.eventDescriptors[0])
    }
    inputs += 1
    if inputs % 64 == 0 {
        device.reset()
        agent.reset()
        device.acknowledge(features: VirtioFeatures.transport.union(device.deviceFeatures))
    }
    return 0
}
