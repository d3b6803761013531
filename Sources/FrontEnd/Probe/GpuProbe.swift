import GuestMemory
import VhostUser

/// AVPS v2.0 GPU requirements a vhost-user-gpu back end alone decides: {AVPS-v2.0-17} device id,
/// {AVPS-v2.0-18} controlq and cursorq, {AVPS-v2.0-19} no VIRGL, {AVPS-v2.0-20} EDID,
/// {AVPS-v2.0-21} configuration layout, {AVPS-v2.0-22} the 2D command flow (VIRTIO 1.2 §5.7).
public enum GpuProbe {
    public static func run(socket: String, options: ProbeOptions) throws(ProbeError) -> [ProbeFinding] {
        // Only EDID among the device bits: the Swift driver does no 3D, blobs or contexts.
        let session = try ProbeSession(socket: socket, options: options) { offered in
            offered & ~ProbeSession.deviceSpecificMask | offered & (1 << UInt64(GpuProbeSpec.edidBit))
        }
        let virgl = session.offers(bit: GpuProbeSpec.virglBit)
        let edidOffered = session.offers(bit: GpuProbeSpec.edidBit)
        let requirement17 = ProbeFinding(
            requirement: 17, verdict: .notDecidable,
            summary: "vhost-user does not carry the device id: the VMM sets it (16 for QEMU's vhost-user-gpu-pci); probed as --kind gpu",
            evidence: ["VIRTIO device id for gpu: \(ProbeKind.gpu.virtioDeviceID) (VIRTIO 1.2 §5.7.1)"])
        let requirement19 = ProbeFinding.checks(19, [("VIRTIO_GPU_F_VIRGL (bit 0) offered", !virgl)],
                                                met: "VIRTIO_GPU_F_VIRGL not offered",
                                                evidence: ["VIRTIO_GPU_F_VIRGL offered: \(yes(virgl))"])
        let requirement21 = configFinding(session)

        func unstarted(_ why: String) -> [ProbeFinding] {
            [requirement17, ProbeFinding(requirement: 18, verdict: .notMet, summary: why, evidence: session.featureEvidence),
             requirement19, ProbeFinding(requirement: 20, verdict: .notDecidable, summary: why), requirement21,
             ProbeFinding(requirement: 22, verdict: .notDecidable, summary: why)]
        }
        let peer: GpuDisplayPeer
        do { peer = try GpuDisplayPeer() } catch { return unstarted("no display socket pair: \(error)") }
        defer { peer.stop() }
        let control: DriverQueue, cursor: DriverQueue
        do {
            control = try session.startQueue(0)
            cursor = try session.startQueue(1)
            // QEMU hands the socket over at DRIVER_OK, after the rings are set up.
            try session.driver.frontend.send(.gpuSetSocket(peer.backEndSide.descriptor))
        } catch {
            return unstarted("could not start the controlq and cursorq: \(error)")
        }
        let flow = GpuCommandFlow(session: session, control: control)
        let steps = flow.run(edid: edidOffered)

        // {AVPS-v2.0-18}: MOVE_CURSOR on the cursorq comes back (the device answers cursor commands with no data).
        let move = GpuProbeSpec.request(.moveCursor, [0, 16, 16, 0, 0, 0, 0, 0])
        let cursorResult = flow.send(move, responseSize: 0, on: cursor)
        var queueEvidence = session.featureEvidence
        queueEvidence.append("queue 0 (controlq): answered \(steps.filter { $0.type != nil }.count) of \(steps.count) command(s)")
        queueEvidence.append("queue 1 (cursorq): MOVE_CURSOR " + cursorResult.description)
        var queueChecks: [(String, Bool)] = []
        if let queues = session.queueNum { queueChecks.append(("GET_QUEUE_NUM is \(queues), fewer than 2", queues >= 2)) }
        queueChecks.append(("the controlq answered no command", steps.contains { $0.type != nil }))
        queueChecks.append(("the cursorq did not return MOVE_CURSOR", cursorResult.completed))
        let requirement18 = ProbeFinding.checks(18, queueChecks, met: "controlq (0) and cursorq (1) both serve requests",
                                                evidence: queueEvidence)

        let received = peer.messages.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
        let display = "display socket (VHOST_USER_GPU_SET_SOCKET): " + (received.isEmpty ? "no messages yet" : received.joined(separator: ", "))
        let requirement20 = edidFinding(offered: edidOffered, steps: steps, forwarded: peer.count(of: 11) > 0)
        let flowSteps = steps.filter { $0.command != .getEDID }
        let requirement22 = ProbeFinding.checks(22, flowSteps.map { step in
            ("\(step.name) returned \(step.typeName), expected \(GpuProbeSpec.responseName(step.expected))", step.type == step.expected)
        }, met: "GET_DISPLAY_INFO, RESOURCE_CREATE_2D, ATTACH_BACKING, SET_SCANOUT, TRANSFER_TO_HOST_2D, RESOURCE_FLUSH return OK_*",
           evidence: flowSteps.map(\.description) + [display])
        return [requirement17, requirement18, requirement19, requirement20, requirement21, requirement22]
    }

    /// {AVPS-v2.0-21}: `struct virtio_gpu_config` (§5.7.4) read with GET_CONFIG.
    static func configFinding(_ session: ProbeSession) -> ProbeFinding {
        switch session.readConfig(size: UInt32(GpuProbeSpec.configSize)) {
        case let .failure(failure):
            return ProbeFinding(requirement: 21, verdict: .notMet, summary: "configuration space not readable: \(failure)",
                                evidence: session.featureEvidence)
        case let .success(bytes):
            let read = GpuProbeSpec.u32(bytes, at: 0) ?? 0, clear = GpuProbeSpec.u32(bytes, at: 4) ?? 0
            let scanouts = GpuProbeSpec.u32(bytes, at: 8) ?? 0, capsets = GpuProbeSpec.u32(bytes, at: 12) ?? 0
            let evidence = ["GET_CONFIG: events_read=0x\(String(read, radix: 16)), events_clear=0x\(String(clear, radix: 16)), "
                + "num_scanouts=\(scanouts), num_capsets=\(capsets)"]
            // QEMU's vhost-user-gpu front end reads the back end's configuration and then puts its own
            // num_scanouts, events_read and events_clear over it; QEMU's C back end leaves them 0.
            if scanouts == 0 {
                return ProbeFinding(requirement: 21, verdict: .notDecidable,
                                    summary: "the 16-byte layout reads, but num_scanouts is 0: this back end leaves num_scanouts and "
                                        + "the events to the VMM (QEMU's vhost-user-gpu front end fills them in)",
                                    evidence: evidence)
            }
            return .checks(21, [
                ("num_scanouts \(scanouts) outside 1...\(GpuProbeSpec.maxScanouts)", (1...UInt32(GpuProbeSpec.maxScanouts)).contains(scanouts)),
                // §5.7.4: VIRTIO_GPU_EVENT_DISPLAY (bit 0) is the only event defined.
                ("events_read has undefined bits 0x\(String(read & ~1, radix: 16))", read & ~1 == 0),
            ], met: "events_read, events_clear, num_scanouts, num_capsets as VIRTIO 1.2 §5.7.4", evidence: evidence)
        }
    }

    /// {AVPS-v2.0-20}: VIRTIO_GPU_F_EDID offered and GET_EDID returning a valid block.
    static func edidFinding(offered: Bool, steps: [GpuCommandFlow.Step], forwarded: Bool) -> ProbeFinding {
        var evidence = ["VIRTIO_GPU_F_EDID offered: \(yes(offered))"]
        guard offered else {
            return ProbeFinding(requirement: 20, verdict: .notMet, summary: "VIRTIO_GPU_F_EDID (bit 1) not offered", evidence: evidence)
        }
        guard let step = steps.first(where: { $0.command == .getEDID }) else {
            return ProbeFinding(requirement: 20, verdict: .notMet, summary: "GET_EDID not answered", evidence: evidence)
        }
        evidence.append(step.description)
        guard step.type == GpuProbeSpec.okEDID else {
            return ProbeFinding(requirement: 20, verdict: .notMet, summary: "GET_EDID returned \(step.typeName)", evidence: evidence)
        }
        let size = Int(GpuProbeSpec.u32(step.response, at: GpuProbeSpec.headerSize) ?? 0)
        let edid = Array(step.response.dropFirst(GpuProbeSpec.headerSize + 8))
        let problem = GpuProbeEDID.problem(edid, size: size)
        evidence.append("EDID: \(size) bytes, " + (problem ?? "header and checksums valid, \(GpuProbeEDID.summary(edid))"))
        evidence.append(forwarded ? "the back end asked the display socket for it (VHOST_USER_GPU_GET_EDID): the VMM's EDID, here the probe's"
                                  : "the back end made it itself (no VHOST_USER_GPU_GET_EDID on the display socket)")
        return .checks(20, [("GET_EDID block invalid: \(problem ?? "")", problem == nil)],
                       met: "EDID offered; GET_EDID returns a valid EDID block", evidence: evidence)
    }
}
