// libFuzzer target: what host-side clients send the GPU server — the web view's HTTP request
// heads (any local process can connect to 127.0.0.1) and the control socket's request lines
// (`avp display`), and what it sends the sound server's control socket (`avp audio`). The first
// byte picks the parser (low bits 11: audio; else odd: display; even: HTTP). Each must refuse
// or decode, never trap:
//   - a parsed head has a method of capital letters, a path starting with "/", headers in
//     lower case, and came from no more than HTTPRequestHead.maxSize bytes;
//   - a parsed control request, applied to a two-layer display, either is refused or gives a
//     policy that validates, has the same layers (only moved, restacked or faded: no layer
//     changes its size or source) and keeps the masks;
//   - a parsed audio request, carried out on a mixer, either is refused or leaves the VM's
//     volume within the policy's range (attenuation only) and shows what was asked.
// Build and run: fuzz/run control
import Devices
import Logging

let display = DisplayPolicy(name: "main", width: 64, height: 48, layers: [
    LayerPolicy(source: ScanoutSource(vm: "a", scanout: 0), destination: GpuRect(x: 0, y: 0, width: 40, height: 30),
                mask: try! AlphaMask(width: 40, height: 30, uniform: 200)),
    LayerPolicy(source: ScanoutSource(vm: "b", scanout: 1), destination: GpuRect(x: 20, y: 10, width: 40, height: 30), opacity: 128,
                safetyRegions: [GpuRect(x: 0, y: 0, width: 8, height: 8)]),
])

let mixer = try! SoundMixer(output: NullOutput(format: PCMStreamFormat(sample: .s16, rate: 8000, channels: 1)),
                            policy: AudioPolicy(vms: [AudioVM(name: "ivi", playback: ["media"]), AudioVM(name: "cluster", playback: ["chime"])]),
                            logger: Logger(label: "fuzz.audio"))

func checkAudio(_ bytes: [UInt8]) {
    guard let request = try? AudioControlRequest(line: bytes) else { return }
    precondition((try? AudioControlRequest(line: request.line)) == request, "a request survives its own encoding")
    switch request {
    case .show, .levels: break
    case let .volume(vm, decibels):
        guard (try? mixer.setVolume(of: vm, decibels: decibels)) != nil else { return }
        precondition(AudioVM.volumeRange.contains(decibels) && mixer.status.vms.first { $0.name == vm }?.volume == decibels)
    case let .mute(vm, muted):
        guard (try? mixer.setMuted(vm, muted)) != nil else { return }
        precondition(mixer.status.vms.first { $0.name == vm }?.muted == muted)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] & 3 == 3 {
        checkAudio(bytes)
        return 0
    }
    if data[0] & 1 == 0 {
        _ = HTTPRequestHead.end(in: bytes)
        guard let head = try? HTTPRequestHead(parsing: bytes[...]) else { return 0 }
        precondition(bytes.count <= HTTPRequestHead.maxSize && head.path.hasPrefix("/"))
        precondition(!head.method.isEmpty && head.method.allSatisfy { $0.isUppercase })
        precondition(head.headers.keys.allSatisfy { $0 == $0.lowercased() })
        return 0
    }
    guard let request = try? DisplayControlRequest(line: bytes) else { return 0 }
    precondition((try? DisplayControlRequest(line: request.line)) == request, "a request survives its own encoding")
    guard case let .change(_, layer, change) = request, let changed = try? change.applied(to: display, layer: layer) else { return 0 }
    do { try changed.validate() } catch { preconditionFailure("applied a change that does not validate: \(error)") }
    precondition(changed.layers.count == display.layers.count)
    for original in display.layers {
        let now = changed.layers.first { $0.source == original.source }!
        precondition(now.destination.width == original.destination.width && now.destination.height == original.destination.height)
        precondition(now.mask == original.mask && now.safetyRegions == original.safetyRegions)
    }
    return 0
}
