/// One page of a list the platform returns in pieces — PERFORMANCE_DESCRIBE_LEVELS (DEN0056
/// §4.5.2.6), SENSOR_DESCRIPTION_GET (§4.7.2.5), SENSOR_AXIS_DESCRIPTION_GET (§4.7.2.7): from the
/// index the agent asked for, as many entries as fit the response buffer after its 4-byte
/// count word. The agent asks again from the first entry it did not get.
struct ScmiPage {
    /// The entries in this page.
    let entries: Range<Int>
    /// How many entries follow this page.
    var remaining: Int { total - entries.upperBound }
    private let total: Int

    /// `beyondEnd` is the status the protocol gives an index past the list (each protocol names
    /// its own); `what` names an entry in log lines.
    init(from index: UInt32, of total: Int, capacity: Int, entrySize: Int, beyondEnd: ScmiStatus, what: String) throws(ScmiStatusError) {
        guard index < UInt32(total) else { throw ScmiStatusError(beyondEnd, "\(what) index \(index) of \(total)") }
        let start = Int(index)
        let count = min(total - start, (capacity - 4) / entrySize)
        guard count > 0 else { throw ScmiStatusError(.protocolError, "no room for a \(what) in \(capacity) bytes") }
        entries = start..<(start + count)
        self.total = total
    }
}

extension ScmiPayloadWriter {
    /// The count word of DESCRIBE_LEVELS and SENSOR_DESCRIPTION_GET: entries returned in bits
    /// 15:0 (11:0 for levels, the rest reserved), entries remaining in bits 31:16.
    mutating func pageCounts(_ page: ScmiPage) {
        u16(UInt16(page.entries.count))
        u16(UInt16(page.remaining))
    }
}
