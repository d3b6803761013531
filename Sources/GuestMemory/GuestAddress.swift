/// A guest-physical address: what the guest driver writes into descriptors.
/// Distinct from `FrontendAddress` so the two address spaces never mix by accident.
public struct GuestAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt64

    public init(_ raw: UInt64) { self.raw = raw }

    /// `self + offset`, or `GuestMemoryError.addressOverflow` if that wraps past 2^64.
    public func adding(_ offset: UInt64) throws(GuestMemoryError) -> GuestAddress {
        let (sum, overflow) = raw.addingReportingOverflow(offset)
        if overflow { throw .addressOverflow(base: raw, offset: offset) }
        return GuestAddress(sum)
    }

    public static func < (a: GuestAddress, b: GuestAddress) -> Bool { a.raw < b.raw }

    public var description: String { "gpa 0x" + String(raw, radix: 16) }
}
