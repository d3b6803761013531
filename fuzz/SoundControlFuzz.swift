// libFuzzer target: virtio-snd requests from a guest that controls every byte (VIRTIO 1.2 §5.14).
//   - first byte even: the bytes after it are one control request for SoundControlRequest.parse,
//     the single parser of the controlq (it must refuse or decode, never trap); a decoded
//     SET_PARAMS is checked by PCMParameters.validate against both streams, and what passes
//     must keep the device's bounds (buffer, whole frames, period length);
//   - first byte odd: the bytes lay out a guest's RAM with a controlq, txq or rxq and its
//     requests (FuzzGuest), which one sound device executes: stream lifecycles, transfers of any
//     size on any stream, item queries with any range and size. The device persists across
//     inputs, so sequences (SET_PARAMS, PREPARE, START, transfers, STOP, RELEASE) are reached;
//     its streams' clocks run on their own threads as in a server, and play into the host's mixer
//     (muted: a gain of 0 times whatever the guest sends), whose thread runs too.
// Build and run: fuzz/run sound
import Devices
import Foundation
import GuestMemory
import Logging
import Virtio

/// The guest's playback goes through the host's mixer (conversion, gains, ducking, encoding of
/// whatever samples the guest sends) into an output that drops it.
private let mixer = try! SoundMixer(output: NullOutput(format: PCMStreamFormat(sample: .s16, rate: 48000, channels: 2)),
                                    policy: AudioPolicy(ducking: [DuckingRule(when: "navigation", duck: "media", decibels: 12)],
                                                        vms: [AudioVM(name: "fuzz", playback: ["media"], muted: true)]),
                                    logger: FuzzGuest.logger)
private let device: SoundDevice = {
    let d = try! SoundDevice(sink: mixer, source: TestToneSource(frequency: 1000), origin: "fuzz", logger: FuzzGuest.logger)
    d.acknowledge(features: VirtioFeatures.transport.union(d.deviceFeatures))
    return d
}()
nonisolated(unsafe) private var inputs = 0   // libFuzzer calls the target on one thread

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    if data[0] & 1 == 0 {
        checkParser(Array(UnsafeBufferPointer(start: data + 1, count: size - 1)))
        return 0
    }
    var features: VirtioFeatures = [.version1, .ringIndirectDescriptors]
    if data[0] & 2 != 0 { features.insert(.ringEventIndex) }
    guard let ring = FuzzGuest.queue(data + 1, size - 1, features: features) else { return 0 }
    let index = [0, 2, 3, 1][Int(data[0] >> 2) & 3]
    let queue = DeviceQueue(index: index, ring: ring, notifier: NullNotifier(), logger: FuzzGuest.logger)
    device.queueStarted(queue)
    device.process(queue)
    device.handleEvent(descriptor: device.eventDescriptors[0])
    // Every stream is in a state of the lifecycle, with parameters within the device's bounds.
    for state in device.streamStates {
        if let p = state.parameters {
            precondition(p.bufferBytes <= PCMParameters.maxBufferBytes && p.bufferBytes % p.periodBytes == 0
                && p.periodBytes % p.format.frameBytes == 0 && p.periodNanoseconds >= PCMParameters.minPeriodNanoseconds, "\(p)")
        }
    }
    // Start over now and then, as a rebooting guest does (this also stops running clocks).
    inputs += 1
    if inputs % 64 == 0 { device.reset() }
    return 0
}

private func checkParser(_ bytes: [UInt8]) {
    guard let request = try? SoundControlRequest.parse(bytes) else {
        precondition(bytes.count < 4 || bytes.count > SoundControlRequest.maxRequestBytes || isShort(bytes), "refused \(bytes.count) bytes")
        return
    }
    guard case let .setParameters(stream, parameters) = request else { return }
    // The request reads back from its bytes: header, stream, then the parameters as sent.
    precondition(Array(bytes[8..<24]) == parameters.bytes && stream == word(bytes, 4))
    for description in SoundTopology.standard().streams {
        guard let p = try? PCMParameters.validate(parameters, for: description) else { continue }
        precondition(p.bufferBytes <= PCMParameters.maxBufferBytes && p.bufferBytes % p.periodBytes == 0)
        precondition(p.periodBytes % p.format.frameBytes == 0 && p.periodNanoseconds >= PCMParameters.minPeriodNanoseconds)
        precondition(description.formats.contains(p.format.sample) && description.channels.contains(p.format.channels))
    }
}

/// Whether a request is shorter than the structure its code names (the only other refusal).
private func isShort(_ bytes: [UInt8]) -> Bool {
    switch word(bytes, 0) {
    case 1, 2, 0x0100, 0x0200: return bytes.count < 16
    case 0x0101: return bytes.count < 24
    case 0x0102...0x0105: return bytes.count < 8
    default: return false
    }
}

private func word(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
}
