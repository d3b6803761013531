/// Performance (DEN0056 §4.5, version 3.0), power (§4.3) and reset (§4.8) domain management for
/// one VM's domains. The physical state and the arbitration between VMs are `ScmiHost`'s.
extension ScmiAgent {
    /// §4.5.2.5: one level entry of DESCRIBE_LEVELS (performance level, power cost, latency).
    static let levelEntrySize = 12

    func performance(_ id: UInt8, _ reader: inout ScmiPayloadReader, capacity: Int) throws(ScmiStatusError) -> ScmiPayloadWriter {
        var out = ScmiPayloadWriter()
        if id == ScmiCommonMessage.protocolAttributes {
            // §4.5.2.4: number of domains, flags (bit 0 clear: power in abstract units), no statistics region.
            out.u16(UInt16(view.performance.count))
            out.u16(0)
            out.u32(0)
            out.u32(0)
            out.u32(0)
            return out
        }
        let local = try reader.u32()
        let index = try item(local, of: view.performance, "performance domain")
        let domain = host.topology.performance[index]
        switch id {
        case 0x3:
            // §4.5.2.5 PERFORMANCE_DOMAIN_ATTRIBUTES: limits and levels settable, no notifications,
            // no fast channels; sustained level = highest, at level kHz (Linux: 1 level = 1 kHz).
            out.u32(1 << 31 | 1 << 30)
            out.u32(0)
            out.u32(domain.levels.last!)
            out.u32(domain.levels.last!)
            out.name(domain.name)
        case 0x4:
            // §4.5.2.6 PERFORMANCE_DESCRIBE_LEVELS: from level_index, as many as fit.
            let page = try ScmiPage(from: try reader.u32(), of: domain.levels.count, capacity: capacity,
                                    entrySize: Self.levelEntrySize, beyondEnd: .outOfRange, what: "level")
            out.pageCounts(page)
            for i in page.entries {
                out.u32(domain.levels[i])
                out.u32(UInt32(i + 1) * 100)   // power cost: increasing, abstract units
                out.u16(0)                     // transition latency (µs)
                out.u16(0)
            }
        case 0x5:
            // §4.5.2.7 PERFORMANCE_LIMITS_SET: domain, range_max, range_min.
            let maximum = try reader.u32()
            let minimum = try reader.u32()
            guard minimum <= maximum else { throw ScmiStatusError(.invalidParameters, "minimum \(minimum) above maximum \(maximum)") }
            guard minimum >= domain.levels.first!, maximum <= domain.levels.last! else {
                throw ScmiStatusError(.outOfRange, "limits \(minimum)...\(maximum) outside \(domain.levels.first!)...\(domain.levels.last!)")
            }
            host.setVMLimits(domain: index, vm: view.vm, minimum: minimum, maximum: maximum)
        case 0x6:
            let limits = host.vmLimits(domain: index, vm: view.vm)
            out.u32(limits.maximum)
            out.u32(limits.minimum)
        case 0x7:
            // §4.5.2.9 PERFORMANCE_LEVEL_SET: the VM's request; the host arbitrates.
            let level = try reader.u32()
            guard level >= domain.levels.first!, level <= domain.levels.last! else {
                throw ScmiStatusError(.outOfRange, "level \(level) outside \(domain.levels.first!)...\(domain.levels.last!)")
            }
            host.requestLevel(domain: index, vm: view.vm, level: level)
        case 0x8:
            // §4.5.2.10 PERFORMANCE_LEVEL_GET: the level the domain runs at (capped by the host).
            out.u32(host.effectiveLevel(domain: index))
        default:
            throw ScmiStatusError(.notSupported, "performance message 0x\(String(id, radix: 16))")
        }
        return out
    }

    /// §4.3.2.6: the generic ON and OFF power states.
    static let powerOn: UInt32 = 0
    static let powerOff: UInt32 = 0x4000_0000

    func power(_ id: UInt8, _ reader: inout ScmiPayloadReader) throws(ScmiStatusError) -> ScmiPayloadWriter {
        var out = ScmiPayloadWriter()
        switch id {
        case ScmiCommonMessage.protocolAttributes:
            // §4.3.2.4: number of domains, no statistics region.
            out.u16(UInt16(view.power.count))
            out.u16(0)
            out.u32(0)
            out.u32(0)
            out.u32(0)
        case 0x3:
            // §4.3.2.5 POWER_DOMAIN_ATTRIBUTES: synchronous state changes only (bit 29).
            let index = try item(try reader.u32(), of: view.power, "power domain")
            out.u32(1 << 29)
            out.name(host.topology.power[index].name)
        case 0x4:
            // §4.3.2.6 POWER_STATE_SET: flags (bit 0 asynchronous), domain, state.
            let flags = try reader.u32()
            let index = try item(try reader.u32(), of: view.power, "power domain")
            let state = try reader.u32()
            guard flags & 1 == 0 else { throw ScmiStatusError(.notSupported, "asynchronous power state changes are not supported") }
            guard state == Self.powerOn || state == Self.powerOff else {
                throw ScmiStatusError(.invalidParameters, "power state 0x\(String(state, radix: 16)) is neither ON nor OFF")
            }
            host.setPower(domain: index, vm: view.vm, on: state == Self.powerOn)
        case 0x5:
            let index = try item(try reader.u32(), of: view.power, "power domain")
            out.u32(host.isPowered(domain: index) ? Self.powerOn : Self.powerOff)
        default:
            throw ScmiStatusError(.notSupported, "power message 0x\(String(id, radix: 16))")
        }
        return out
    }

    func resetDomain(_ id: UInt8, _ reader: inout ScmiPayloadReader) throws(ScmiStatusError) -> ScmiPayloadWriter {
        var out = ScmiPayloadWriter()
        switch id {
        case ScmiCommonMessage.protocolAttributes:
            out.u32(UInt32(view.reset.count))
        case 0x3:
            // §4.8.2.4 RESET_DOMAIN_ATTRIBUTES: no asynchronous reset, no notifications; latency 0 µs.
            let index = try item(try reader.u32(), of: view.reset, "reset domain")
            out.u32(0)
            out.u32(0)
            out.name(host.topology.reset[index])
        case 0x4:
            // §4.8.2.5 RESET: domain, flags (0 autonomous, 1 explicit assert, 2 async), reset_state (0: cold reset).
            let index = try item(try reader.u32(), of: view.reset, "reset domain")
            let flags = try reader.u32()
            let state = try reader.u32()
            guard flags & 4 == 0 else { throw ScmiStatusError(.notSupported, "asynchronous resets are not supported") }
            guard flags & ~7 == 0 else { throw ScmiStatusError(.invalidParameters, "reset flags 0x\(String(flags, radix: 16))") }
            guard state == 0 else { throw ScmiStatusError(.invalidParameters, "reset state 0x\(String(state, radix: 16)) is not a cold reset") }
            let kind: ScmiResetKind = flags & 1 != 0 ? .autonomous : (flags & 2 != 0 ? .assert : .deassert)
            host.reset(domain: index, vm: view.vm, kind: kind)
        default:
            throw ScmiStatusError(.notSupported, "reset message 0x\(String(id, radix: 16))")
        }
        return out
    }
}
