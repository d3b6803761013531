/// AVPS v2.0 block requirements a vhost-user-blk back end alone decides:
/// {AVPS-v2.0-4} virtio-blk per VIRTIO 1.2 §5.2, {AVPS-v2.0-5} FLUSH, {AVPS-v2.0-6} CONFIG_WCE,
/// {AVPS-v2.0-7} DISCARD.
///
/// Data safety: without `allowWrites` the one WRITE puts back the bytes just read from the first
/// sectors (a concurrent writer could still lose a write in between: probe an export nobody
/// uses). With it, the first `transferBytes` of the export are overwritten with a pattern and
/// discarded, then their old content is written back.
public enum BlockProbe {
    public static func run(_ session: ProbeSession) -> [ProbeFinding] {
        let features = session.featureEvidence
        let configResult = session.readConfig(size: UInt32(BlockProbeConfig.size))
        let config: BlockProbeConfig? = (try? configResult.get()).flatMap(BlockProbeConfig.init)
        var configLines: [String] = []
        switch configResult {
        case let .failure(failure): configLines.append("GET_CONFIG(0, \(BlockProbeConfig.size)): \(failure)")
        case .success: configLines.append("GET_CONFIG: " + (config?.evidence ?? "undecodable"))
        }
        let blockSize = logicalBlockSize(session, config)
        let transferBytes = max(4096, blockSize)
        let sectors = UInt64(transferBytes / BlockProbeSpec.sectorSize)

        let io: BlockProbeIO
        do {
            let queue = try session.startQueue(0)
            io = try BlockProbeIO(session: session, queue: queue, transferBytes: transferBytes)
        } catch {
            let finding = ProbeFinding(requirement: 4, verdict: .notMet, summary: "could not start a queue: \(error)",
                                       evidence: features + configLines)
            return [finding] + [5, 6, 7].map { ProbeFinding(requirement: $0, verdict: .notDecidable, summary: "no queue") }
        }

        // {AVPS-v2.0-4}: READ, WRITE (unchanged bytes), READ again, GET_ID.
        var requestLines: [String] = []
        var checks: [(String, Bool)] = [
            ("VIRTIO_F_VERSION_1 not offered", session.offers(bit: 32)),
            ("configuration space not readable with GET_CONFIG", config != nil),
            ("capacity is 0", (config?.capacity ?? 0) > 0),
            ("capacity below the \(sectors) sectors probed", (config?.capacity ?? 0) >= sectors),
        ]
        if session.offers(bit: BlockProbeSpec.blockSizeBit) {
            let size = config?.blockSize ?? 0
            checks.append(("blk_size \(size) is not a power of two >= 512", size >= 512 && size & (size - 1) == 0))
        }
        if session.offers(bit: BlockProbeSpec.segMaxBit) { checks.append(("seg_max is 0", (config?.segMax ?? 0) > 0)) }
        if session.offers(bit: BlockProbeSpec.multiQueueBit) { checks.append(("num_queues is 0", (config?.numQueues ?? 0) > 0)) }

        let firstRead = io.read(sector: 0)
        requestLines.append("READ sector 0, \(transferBytes) bytes: " + statusLine(firstRead.map(\.0)))
        checks.append(("READ did not return OK", firstRead.map(\.0).isOK))
        let original = (try? firstRead.get())?.1
        let readOnly = session.offers(bit: BlockProbeSpec.readOnlyBit)
        if readOnly {
            requestLines.append("WRITE: not tried (VIRTIO_BLK_F_RO offered)")
        } else if let original {
            let rewrite = io.write(sector: 0, bytes: original)
            requestLines.append("WRITE sector 0 with the bytes just read (unchanged): \(rewrite.statusText)")
            checks.append(("WRITE did not return OK", rewrite.isOK))
            let reread = io.read(sector: 0)
            let same = (try? reread.get())?.1 == original
            requestLines.append("READ again: \(statusLine(reread.map(\.0))), same bytes: \(yes(same))")
            checks.append(("READ after WRITE returned other bytes", same))
        }
        let id = io.getID()
        switch id {
        case let .success((status, serial)):
            requestLines.append("GET_ID: \(BlockProbeSpec.statusName(status))" + (status == 0 ? ", id \"\(serial)\"" : ""))
            // VIRTIO 1.2 §5.2.6 does not make GET_ID mandatory: UNSUPP is a proper answer too.
            checks.append(("GET_ID answered neither OK nor UNSUPP", status == 0 || status == 2))
        case let .failure(failure):
            requestLines.append("GET_ID: failed: \(failure)")
            checks.append(("GET_ID got no answer", false))
        }

        // Data-changing round trip, only when allowed: pattern, DISCARD, then the old bytes back.
        var discardResult: Result<UInt8, ProbeStepFailure>?
        var discardNote = "DISCARD request: not tried (needs --allow-writes: it would change the export's data)"
        if session.options.allowWrites, !readOnly, let original, (config?.capacity ?? 0) >= sectors {
            let pattern = (0..<transferBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 8) &+ 7) }
            let written = io.write(sector: 0, bytes: pattern)
            let back = io.read(sector: 0)
            let same = (try? back.get())?.1 == pattern
            requestLines.append("--allow-writes: WRITE pattern to sectors 0-\(sectors - 1): \(written.statusText); "
                + "READ back: \(statusLine(back.map(\.0))), pattern intact: \(yes(same))")
            checks.append(("pattern WRITE/READ round trip failed", written.isOK && same))
            if session.offers(bit: BlockProbeSpec.discardBit), let config {
                if let count = discardCount(config: config, sectors: sectors) {
                    let result = io.discard(sector: 0, count: count)
                    discardResult = result
                    discardNote = "--allow-writes: DISCARD sectors 0-\(UInt64(count) - 1): \(result.statusText)"
                } else {
                    discardNote = "DISCARD request: not tried (no range of at most \(config.maxDiscardSectors) sectors "
                        + "aligned to \(config.discardSectorAlignment) fits the export)"
                }
            }
            let restored = io.write(sector: 0, bytes: original)
            let check = io.read(sector: 0)
            let intact = (try? check.get())?.1 == original
            requestLines.append("--allow-writes: old content written back: \(restored.statusText), verified: \(yes(intact))")
        } else if session.options.allowWrites {
            requestLines.append("--allow-writes: pattern round trip not tried (read-only, or the first READ failed)")
        }
        let requirement4 = ProbeFinding.checks(4, checks, met: "virtio-blk configuration and READ/WRITE/GET_ID requests as VIRTIO 1.2 §5.2",
                                               evidence: features + configLines + requestLines)
        return [requirement4, flushFinding(session, io), wceFinding(session, config),
                discardFinding(session, config, discardResult, discardNote)]
    }

    /// {AVPS-v2.0-5}: VIRTIO_BLK_F_FLUSH offered and a FLUSH completing with OK.
    static func flushFinding(_ session: ProbeSession, _ io: BlockProbeIO) -> ProbeFinding {
        let offered = session.offers(bit: BlockProbeSpec.flushBit)
        guard offered else {
            return ProbeFinding(requirement: 5, verdict: .notMet, summary: "VIRTIO_BLK_F_FLUSH (bit 9) not offered",
                                evidence: ["VIRTIO_BLK_F_FLUSH offered: no", "FLUSH request: not sent (feature not offered)"])
        }
        let result = io.flush()
        return .checks(5, [("FLUSH did not return OK", result.isOK)], met: "FLUSH offered and a FLUSH request returns OK",
                       evidence: ["VIRTIO_BLK_F_FLUSH offered: yes", "FLUSH request: \(result.statusText)"])
    }

    /// {AVPS-v2.0-6}: VIRTIO_BLK_F_CONFIG_WCE offered, `writeback` 0 or 1, and a driver write of it taking
    /// effect (VIRTIO 1.2 §5.2.5: the driver switches the cache mode there); the old value is put back.
    static func wceFinding(_ session: ProbeSession, _ config: BlockProbeConfig?) -> ProbeFinding {
        let offered = session.offers(bit: BlockProbeSpec.configWCEBit)
        var evidence = ["VIRTIO_BLK_F_CONFIG_WCE offered: \(yes(offered))"]
        guard offered else {
            return ProbeFinding(requirement: 6, verdict: .notMet, summary: "VIRTIO_BLK_F_CONFIG_WCE (bit 11) not offered", evidence: evidence)
        }
        guard let config else {
            return ProbeFinding(requirement: 6, verdict: .notMet, summary: "configuration space not readable", evidence: evidence)
        }
        evidence.append("writeback = \(config.writeback) (\(config.writeback == 1 ? "write back" : "write through"))")
        let flipped: UInt8 = config.writeback == 0 ? 1 : 0
        let toggled = setWriteback(session, flipped)
        let restored = setWriteback(session, config.writeback)
        evidence.append("SET_CONFIG writeback = \(flipped): \(toggled.map { "reads back \($0)" } ?? "refused or unreadable"); "
            + "restored to \(config.writeback): \(restored.map { "reads back \($0)" } ?? "refused or unreadable")")
        return .checks(6, [
            ("writeback is \(config.writeback), neither 0 nor 1", config.writeback <= 1),
            ("a driver write of writeback did not take effect", toggled == flipped),
        ], met: "CONFIG_WCE offered; writeback readable and writable in the configuration space", evidence: evidence)
    }

    /// {AVPS-v2.0-7}: VIRTIO_BLK_F_DISCARD offered, its limits nonzero, a DISCARD completing with OK.
    static func discardFinding(_ session: ProbeSession, _ config: BlockProbeConfig?, _ result: Result<UInt8, ProbeStepFailure>?,
                               _ note: String) -> ProbeFinding {
        let offered = session.offers(bit: BlockProbeSpec.discardBit)
        var evidence = ["VIRTIO_BLK_F_DISCARD offered: \(yes(offered))"]
        guard offered else {
            return ProbeFinding(requirement: 7, verdict: .notMet, summary: "VIRTIO_BLK_F_DISCARD (bit 13) not offered", evidence: evidence)
        }
        if let config {
            evidence.append("max_discard_sectors=\(config.maxDiscardSectors), max_discard_seg=\(config.maxDiscardSegments), "
                + "discard_sector_alignment=\(config.discardSectorAlignment)")
        }
        evidence.append(note)
        let limits = (config?.maxDiscardSectors ?? 0) > 0 && (config?.maxDiscardSegments ?? 0) > 0
        guard limits else {
            return ProbeFinding(requirement: 7, verdict: .notMet, summary: "max_discard_sectors or max_discard_seg is 0 (or unreadable)",
                                evidence: evidence)
        }
        guard let result else {
            return ProbeFinding(requirement: 7, verdict: .notDecidable,
                                summary: "DISCARD offered with nonzero limits; no DISCARD request sent (needs --allow-writes)",
                                evidence: evidence)
        }
        return .checks(7, [("DISCARD did not return OK", result.isOK)],
                       met: "DISCARD offered with nonzero limits and a DISCARD request returns OK", evidence: evidence)
    }

    /// The block size requests are multiples of: blk_size when offered and sane, else 512.
    static func logicalBlockSize(_ session: ProbeSession, _ config: BlockProbeConfig?) -> Int {
        guard session.offers(bit: BlockProbeSpec.blockSizeBit), let size = config?.blockSize,
              size >= 512, size <= 65536, size & (size - 1) == 0 else { return BlockProbeSpec.sectorSize }
        return Int(size)
    }

    /// Sectors one DISCARD covers from sector 0: at most the `sectors` the probe saved and restores,
    /// a multiple of discard_sector_alignment, within max_discard_sectors; nil when none fits.
    static func discardCount(config: BlockProbeConfig, sectors: UInt64) -> UInt32? {
        let alignment = UInt64(max(1, config.discardSectorAlignment))
        let count = sectors / alignment * alignment
        guard count > 0, count <= UInt64(config.maxDiscardSectors) else { return nil }
        return UInt32(count)
    }

    /// SET_CONFIG of `writeback` (REPLY_ACK when negotiated), then its value read back.
    static func setWriteback(_ session: ProbeSession, _ value: UInt8) -> UInt8? {
        let frontend = session.driver.frontend
        do {
            try frontend.sendAcked(.setConfig(offset: UInt32(BlockProbeConfig.writebackOffset), flags: 0, bytes: [value]))
        } catch {
            return nil
        }
        // From offset 0, as QEMU reads it: libvhost-user's GET_CONFIG ignores the offset.
        return (try? session.readConfig(size: UInt32(BlockProbeConfig.size)).get()).flatMap(BlockProbeConfig.init)?.writeback
    }

    private static func statusLine(_ result: Result<UInt8, ProbeStepFailure>) -> String { result.statusText }
}
