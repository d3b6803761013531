import SystemCalls

/// One VM's SCMI agent as the platform sees it (DEN0056 §4): executes its commands on its view of
/// the host and produces its notifications. Pure protocol logic over `ScmiHost`, with no queue or
/// thread of its own: `ScmiDevice` feeds it from the cmdq and gives its notifications to the
/// eventq; tests and the fuzz target call it directly.
///
/// Every command gets a status: unknown protocols and messages NOT_SUPPORTED, short payloads
/// PROTOCOL_ERROR, identifiers outside the VM's view NOT_FOUND, bad values INVALID_PARAMETERS or
/// OUT_OF_RANGE. A response never exceeds the room the agent gave (`capacity`).
public final class ScmiAgent: @unchecked Sendable {
    /// DEN0056 §4.2.2.8: agent 0 is the platform; the VM is agent 1.
    public static let agentID: UInt32 = 1
    public static let vendor = "AVP"
    public static let subVendor = "vhost-user"
    public static let implementationVersion: UInt32 = 0x0001_0000

    public let view: ScmiAgentView
    public let host: ScmiHost
    var sensorConfigs: [ScmiSensorConfig]

    public init(view: ScmiAgentView, host: ScmiHost) {
        self.view = view
        self.host = host
        sensorConfigs = view.sensors.map { _ in ScmiSensorConfig() }
        host.register(vm: view.vm, powerDomains: view.power)
    }

    /// Back to the initial state (driver reset): configurations, requests and wants forgotten.
    public func reset() {
        sensorConfigs = view.sensors.map { _ in ScmiSensorConfig() }
        host.forget(vm: view.vm)
    }

    /// The response to `command`, whose payload is at most `capacity` bytes.
    public func execute(_ command: ScmiCommand, capacity: Int, now: UInt64 = MonotonicClock.nanoseconds()) -> ScmiResponse {
        do throws(ScmiStatusError) {
            let payload = try dispatch(command, capacity: min(capacity, ScmiCodes.maxPayload), now: now)
            guard payload.bytes.count <= capacity else {
                throw ScmiStatusError(.protocolError, "the response needs \(payload.bytes.count) bytes, the buffer has \(capacity)")
            }
            return ScmiResponse(status: .success, payload: payload.bytes)
        } catch {
            return ScmiResponse(status: error.status, payload: [], refusal: error.expected ? nil : error.reason)
        }
    }

    private func dispatch(_ command: ScmiCommand, capacity: Int, now: UInt64) throws(ScmiStatusError) -> ScmiPayloadWriter {
        let id = command.header.messageID
        var reader = ScmiPayloadReader(command.payload)
        guard let proto = ScmiProtocolID(rawValue: command.header.protocolID), proto == .base || view.protocols.contains(proto) else {
            throw ScmiStatusError(.notSupported, "protocol \(command.header.protocolName) is not one of this VM's")
        }
        var out = ScmiPayloadWriter()
        switch id {
        case ScmiCommonMessage.protocolVersion:
            out.u32(proto.version)
            return out
        case ScmiCommonMessage.protocolMessageAttributes:
            let asked = try reader.u32()
            guard asked <= 0xFF, Self.messages(of: proto).contains(UInt8(asked)) else {
                throw ScmiStatusError(.notFound, "message 0x\(String(asked, radix: 16)) of \(proto) is not implemented", expected: true)
            }
            out.u32(0)
            return out
        case ScmiCommonMessage.negotiateProtocolVersion:
            let version = try reader.u32()
            guard version == proto.version else {
                throw ScmiStatusError(.notSupported, "\(proto) version 0x\(String(version, radix: 16)) asked; AVP has 0x\(String(proto.version, radix: 16))")
            }
            return out
        default: break
        }
        switch proto {
        case .base: return try base(id, &reader, capacity: capacity)
        case .sensor: return try sensor(id, &reader, capacity: capacity, now: now)
        case .performance: return try performance(id, &reader, capacity: capacity)
        case .power: return try power(id, &reader)
        case .reset: return try resetDomain(id, &reader)
        }
    }

    /// The messages AVP implements for each protocol (PROTOCOL_MESSAGE_ATTRIBUTES).
    static func messages(of proto: ScmiProtocolID) -> Set<UInt8> {
        let common: Set<UInt8> = [0x0, 0x1, 0x2, 0x10]
        switch proto {
        case .base: return common.union([0x3, 0x4, 0x5, 0x6, 0x7])
        case .sensor: return common.union([0x3, 0x6, 0x7, 0x8, 0x9, 0xA, 0xB])
        case .performance: return common.union([0x3, 0x4, 0x5, 0x6, 0x7, 0x8])
        case .power: return common.union([0x3, 0x4, 0x5])
        case .reset: return common.union([0x3, 0x4])
        }
    }

    /// The host index of the VM's item `id` of `list`, or NOT_FOUND.
    func item(_ id: UInt32, of list: [Int], _ what: String) throws(ScmiStatusError) -> Int {
        guard id < UInt32(list.count) else { throw ScmiStatusError(.notFound, "no \(what) \(id) (this VM has \(list.count))") }
        return list[Int(id)]
    }

    // MARK: Base protocol (DEN0056 §4.2)

    private func base(_ id: UInt8, _ reader: inout ScmiPayloadReader, capacity: Int) throws(ScmiStatusError) -> ScmiPayloadWriter {
        var out = ScmiPayloadWriter()
        switch id {
        case ScmiCommonMessage.protocolAttributes:
            // §4.2.2.4: bits 15:8 number of agents, 7:0 number of protocols (base not counted).
            out.u32(1 << 8 | UInt32(view.protocols.count))
        case 0x3: out.name(Self.vendor)
        case 0x4: out.name(Self.subVendor)
        case 0x5: out.u32(Self.implementationVersion)
        case 0x6:
            // §4.2.2.8 DISCOVER_LIST_PROTOCOLS: skip, then the count and the ids packed in bytes, padded to words.
            let skip = try reader.u32()
            let all = view.protocols.map(\.rawValue)
            guard skip <= UInt32(all.count) else { throw ScmiStatusError(.invalidParameters, "skip \(skip) of \(all.count) protocols") }
            let rest = Array(all.dropFirst(Int(skip)))
            out.u32(UInt32(rest.count))
            out.append(rest + [UInt8](repeating: 0, count: (4 - rest.count % 4) % 4))
        case 0x7:
            // §4.2.2.9 DISCOVER_AGENT: 0 the platform, 1 (or 0xFFFFFFFF, the caller) this VM.
            let agent = try reader.u32()
            switch agent {
            case 0:
                out.u32(0)
                out.name("platform")
            case Self.agentID, 0xFFFF_FFFF:
                out.u32(Self.agentID)
                out.name(view.vm)
            default:
                throw ScmiStatusError(.notFound, "no agent \(agent)")
            }
        default:
            throw ScmiStatusError(.notSupported, "base message 0x\(String(id, radix: 16))")
        }
        return out
    }
}

/// A command's answer: its status and, on success, its payload.
public struct ScmiResponse: Sendable, Equatable {
    public var status: ScmiStatus
    public var payload: [UInt8]
    /// Why the command was refused, for the log.
    public var refusal: String?

    public init(status: ScmiStatus, payload: [UInt8], refusal: String? = nil) {
        self.status = status
        self.payload = payload
        self.refusal = refusal
    }

    /// DEN0056 §4.1.2 over VIRTIO 1.2 §5.21.6: the command's header echoed, the status, the payload.
    public func bytes(echoing header: ScmiMessageHeader) -> [UInt8] {
        var out = ScmiPayloadWriter()
        out.u32(header.raw)
        out.u32(UInt32(bitPattern: status.rawValue))
        out.append(payload)
        return out.bytes
    }
}
