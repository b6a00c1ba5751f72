// CIDR prefixes. The address is kept exactly as written ("10.1.2.3/24" is an interface
// address, not a network) because CNI results and configs carry both meanings in one type.

public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Nil when the prefix length is outside 0...32 (IPv4) or 0...128 (IPv6).
    public init?(address: IPAddress, prefixLength: Int) {
        guard (0...address.bitWidth).contains(prefixLength) else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// "address/prefix"; the prefix is plain decimal with no sign and no leading zeros.
    public init?(_ cidr: String) {
        let parts = cidr.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2,
              let address = IPAddress(String(parts[0])),
              let prefix = Self.parsePrefix(parts[1])
        else { return nil }
        self.init(address: address, prefixLength: prefix)
    }

    private static func parsePrefix(_ text: Substring) -> Int? {
        guard (1...3).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        if text.utf8.count > 1 && text.utf8.first == UInt8(ascii: "0") { return nil }
        return Int(text)
    }

    public var description: String { "\(address)/\(prefixLength)" }

    /// The first address (host bits zeroed).
    public var network: IPAddress {
        switch address {
        case .v4(let v): return .v4(v & Self.mask32(prefixLength))
        case .v6(let hi, let lo):
            let (mh, ml) = Self.mask128(prefixLength)
            return .v6(hi & mh, lo & ml)
        }
    }

    /// The last address (host bits set): the IPv4 broadcast address.
    public var broadcast: IPAddress {
        switch address {
        case .v4(let v): return .v4(v | ~Self.mask32(prefixLength))
        case .v6(let hi, let lo):
            let (mh, ml) = Self.mask128(prefixLength)
            return .v6(hi | ~mh, lo | ~ml)
        }
    }

    /// The same prefix with host bits zeroed.
    public var masked: IPNetwork {
        IPNetwork(uncheckedAddress: network, prefixLength: prefixLength)
    }

    public func contains(_ ip: IPAddress) -> Bool {
        guard ip.isV4 == address.isV4 else { return false }
        return IPNetwork(uncheckedAddress: ip, prefixLength: prefixLength).network == network
    }

    private init(uncheckedAddress: IPAddress, prefixLength: Int) {
        self.address = uncheckedAddress
        self.prefixLength = prefixLength
    }

    private static func mask32(_ prefix: Int) -> UInt32 {
        prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix)
    }

    private static func mask128(_ prefix: Int) -> (UInt64, UInt64) {
        if prefix <= 64 {
            return (prefix == 0 ? 0 : UInt64.max << UInt64(64 - prefix), 0)
        }
        return (UInt64.max, prefix == 128 ? UInt64.max : UInt64.max << UInt64(128 - prefix))
    }
}
