// IP addresses as plain integers: cheap to compare, hash, mask and step, and free of any
// platform socket types so the pure layers can use them.

/// An IPv4 or IPv6 address. Ordering is numeric within a family; every IPv4 address sorts
/// before every IPv6 address (an arbitrary but total order, so sets and sorted lists work).
public enum IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    /// High and low 64 bits, network order (the first textual group is the top of `hi`).
    case v6(UInt64, UInt64)

    public var isV4: Bool {
        if case .v4 = self { return true }
        return false
    }

    public var bitWidth: Int { isV4 ? 32 : 128 }

    /// 4 or 16 bytes in network order.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let v):
            return Self.bigEndianBytes(UInt64(v), count: 4)
        case .v6(let hi, let lo):
            return Self.bigEndianBytes(hi, count: 8) + Self.bigEndianBytes(lo, count: 8)
        }
    }

    /// Accepts exactly 4 (IPv4) or 16 (IPv6) bytes in network order.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self = .v4(UInt32(Self.integer(bytes[0..<4])))
        case 16:
            self = .v6(Self.integer(bytes[0..<8]), Self.integer(bytes[8..<16]))
        default:
            return nil
        }
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): return x < y
        case (.v6(let xh, let xl), .v6(let yh, let yl)): return (xh, xl) < (yh, yl)
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }

    /// The address `n` steps away (negative steps go down), or nil when that leaves the
    /// family's address space: wrapping 255.255.255.255 to 0.0.0.0 would silently hand out
    /// addresses from the wrong end of a range.
    public func advanced(by n: Int) -> IPAddress? {
        switch self {
        case .v4(let v):
            let (sum, overflow) = Int64(v).addingReportingOverflow(Int64(n))
            guard !overflow, sum >= 0, sum <= Int64(UInt32.max) else { return nil }
            return .v4(UInt32(sum))
        case .v6(let hi, let lo):
            guard let (h, l) = Self.add128(hi, lo, n) else { return nil }
            return .v6(h, l)
        }
    }

    public func next() -> IPAddress? { advanced(by: 1) }
    public func previous() -> IPAddress? { advanced(by: -1) }

    private static func add128(_ hi: UInt64, _ lo: UInt64, _ n: Int) -> (UInt64, UInt64)? {
        let step = UInt64(n.magnitude)
        if n >= 0 {
            let (l, carry) = lo.addingReportingOverflow(step)
            let (h, overflow) = hi.addingReportingOverflow(carry ? 1 : 0)
            return overflow ? nil : (h, l)
        }
        let (l, borrow) = lo.subtractingReportingOverflow(step)
        let (h, underflow) = hi.subtractingReportingOverflow(borrow ? 1 : 0)
        return underflow ? nil : (h, l)
    }

    private static func bigEndianBytes(_ v: UInt64, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64(count - 1 - $0))) }
    }

    private static func integer(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0) { ($0 << 8) | UInt64($1) }
    }
}

// MARK: - Text

extension IPAddress {
    /// Strict parser: IPv4 dotted quad (exactly four decimal parts, each ≤ 255, no leading
    /// zeros, because "010" means octal to some libc parsers and decimal to others), or IPv6
    /// text per RFC 4291 §2.2 (including "::" and an embedded IPv4 tail). Zone identifiers
    /// ("fe80::1%eth0") are rejected: an address value has no interface scope.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        if utf8.contains(UInt8(ascii: ":")) {
            guard let (hi, lo) = IPv6Text.parse(utf8) else { return nil }
            self = .v6(hi, lo)
        } else {
            guard let v = IPv4Text.parse(utf8[...]) else { return nil }
            self = .v4(v)
        }
    }

    /// IPv4 dotted quad, or IPv6 in RFC 5952 canonical form.
    public var description: String {
        switch self {
        case .v4(let v): return IPv4Text.format(v)
        case .v6(let hi, let lo): return IPv6Text.format(hi, lo)
        }
    }
}
