import GuestMemory

/// The 2D command flow of VIRTIO 1.2 §5.7.6 on the controlq, one command at a time: what a
/// guest's driver sends to show a frame.
final class GpuCommandFlow {
    struct Step: CustomStringConvertible {
        var command: GpuProbeSpec.Command
        var name: String
        var expected: UInt32
        /// The response type, or nil when no response came.
        var type: UInt32?
        var response: [UInt8]
        var failure: String?

        var typeName: String { type.map(GpuProbeSpec.responseName) ?? "no response (\(failure ?? "?"))" }
        var description: String { "\(name): \(typeName)" }
    }

    struct Completion: CustomStringConvertible {
        var completed: Bool
        var length: UInt32
        var failure: String?
        var description: String { completed ? "returned (used length \(length))" : "not returned: \(failure ?? "?")" }
    }

    let session: ProbeSession
    let control: DriverQueue
    private let request: GuestSlice?
    private let response: GuestSlice?
    private let backing: GuestSlice?
    static let resourceID: UInt32 = 0x5042
    static let side: UInt32 = 64

    init(session: ProbeSession, control: DriverQueue) {
        self.session = session
        self.control = control
        request = try? session.buffer(4096)
        response = try? session.buffer(4096)
        backing = try? session.buffer(Int(Self.side * Self.side * 4))
    }

    /// GET_DISPLAY_INFO, GET_EDID (when offered), RESOURCE_CREATE_2D, ATTACH_BACKING, SET_SCANOUT,
    /// TRANSFER_TO_HOST_2D, RESOURCE_FLUSH; then the scanout is disabled and the resource released.
    func run(edid: Bool) -> [Step] {
        let id = Self.resourceID, side = Self.side
        backing?.fill(0x80)
        var steps = [step(.getDisplayInfo, "GET_DISPLAY_INFO", GpuProbeSpec.request(.getDisplayInfo, []),
                          GpuProbeSpec.okDisplayInfo, GpuProbeSpec.displayInfoSize)]
        if let info = steps.last, info.type == GpuProbeSpec.okDisplayInfo {
            let enabled = (0..<GpuProbeSpec.maxScanouts).compactMap { i -> String? in
                let base = GpuProbeSpec.headerSize + 24 * i
                guard GpuProbeSpec.u32(info.response, at: base + 16) == 1 else { return nil }
                return "scanout \(i) \(GpuProbeSpec.u32(info.response, at: base + 8) ?? 0)×\(GpuProbeSpec.u32(info.response, at: base + 12) ?? 0)"
            }
            steps[0].name += " (enabled: \(enabled.isEmpty ? "none" : enabled.joined(separator: ", ")))"
        }
        if edid {
            steps.append(step(.getEDID, "GET_EDID scanout 0", GpuProbeSpec.request(.getEDID, [0, 0]), GpuProbeSpec.okEDID,
                              GpuProbeSpec.edidResponseSize))
        }
        let ok = GpuProbeSpec.okNoData, header = GpuProbeSpec.headerSize
        steps.append(step(.resourceCreate2D, "RESOURCE_CREATE_2D \(side)×\(side) B8G8R8X8",
                          GpuProbeSpec.request(.resourceCreate2D, [id, GpuProbeSpec.formatBGRX, side, side]), ok, header))
        steps.append(step(.resourceAttachBacking, "RESOURCE_ATTACH_BACKING (1 entry)",
                          GpuProbeSpec.attachBacking(resource: id, address: backing?.guestAddress.raw ?? 0, length: side * side * 4),
                          ok, header))
        steps.append(step(.setScanout, "SET_SCANOUT 0", GpuProbeSpec.request(.setScanout, [0, 0, side, side, 0, id]), ok, header))
        steps.append(step(.transferToHost2D, "TRANSFER_TO_HOST_2D", GpuProbeSpec.transferToHost2D(resource: id, width: side, height: side),
                          ok, header))
        steps.append(step(.resourceFlush, "RESOURCE_FLUSH", GpuProbeSpec.request(.resourceFlush, [0, 0, side, side, id, 0]), ok, header))
        // Tidy up; not part of the verdict.
        _ = send(GpuProbeSpec.request(.setScanout, [0, 0, 0, 0, 0, 0]), responseSize: header, on: control)
        _ = send(GpuProbeSpec.request(.resourceUnref, [id, 0]), responseSize: header, on: control)
        return steps
    }

    private func step(_ command: GpuProbeSpec.Command, _ name: String, _ bytes: [UInt8], _ expected: UInt32, _ size: Int) -> Step {
        let completion = send(bytes, responseSize: size, on: control)
        var result = Step(command: command, name: name, expected: expected, type: nil, response: [], failure: completion.failure)
        if completion.completed, completion.length >= 4, let response {
            result.response = (try? response.bytes(count: min(size, Int(completion.length)))) ?? []
            result.type = GpuProbeSpec.u32(result.response, at: 0)
        } else if completion.completed {
            result.failure = "used length \(completion.length)"
        }
        return result
    }

    /// One chain: the request readable, `responseSize` bytes writable (none for the cursorq).
    func send(_ bytes: [UInt8], responseSize: Int, on queue: DriverQueue) -> Completion {
        guard let request, let response, bytes.count <= request.count, responseSize <= response.count else {
            return Completion(completed: false, length: 0, failure: "no guest memory for the request")
        }
        do {
            let out = try request.subslice(at: 0, count: bytes.count)
            try out.write(bytes)
            response.fill(0)
            let writable = responseSize > 0 ? [try response.subslice(at: 0, count: responseSize)] : []
            switch session.exchange(on: queue, readable: [out], writable: writable) {
            case let .success(length): return Completion(completed: true, length: length)
            case let .failure(failure): return Completion(completed: false, length: 0, failure: failure.description)
            }
        } catch {
            return Completion(completed: false, length: 0, failure: "\(error)")
        }
    }
}
