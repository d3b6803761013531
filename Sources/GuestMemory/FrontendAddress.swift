/// An address in the front end's (the VMM's) virtual address space. vhost-user
/// gives ring locations this way (VHOST_USER_SET_VRING_ADDR); they are turned
/// into guest addresses through the memory table before any access.
public struct FrontendAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt64

    public init(_ raw: UInt64) { self.raw = raw }

    public static func < (a: FrontendAddress, b: FrontendAddress) -> Bool { a.raw < b.raw }

    public var description: String { "uva 0x" + String(raw, radix: 16) }
}
