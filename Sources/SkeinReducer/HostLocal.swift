// host-local IPAM as a pure function. The reference plugin (containernetworking/plugins,
// plugins/ipam/host-local) keeps one file per address plus a "last reserved" file per range
// set; here both live in Skein's journal, so the allocator only *reads* them through
// `AllocationLookup` and returns what to persist (the addresses and the new cursors).

import SkeinModel

/// One allocatable range inside a subnet: `rangeStart...rangeEnd`, both inclusive.
public struct IPRange: Equatable, Sendable, CustomStringConvertible {
    public var subnet: IPNetwork
    public var rangeStart: IPAddress
    public var rangeEnd: IPAddress
    /// Always set by `HostLocalConfig.parse` (it defaults to the subnet's first host, as the
    /// reference does); optional so hand-built ranges can describe a gateway-less subnet.
    public var gateway: IPAddress?

    public init(subnet: IPNetwork, rangeStart: IPAddress, rangeEnd: IPAddress, gateway: IPAddress?) {
        self.subnet = subnet
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.gateway = gateway
    }

    /// Reference `Range.Contains`: same family, inside the subnet, inside start...end.
    public func contains(_ ip: IPAddress) -> Bool {
        subnet.contains(ip) && rangeStart <= ip && ip <= rangeEnd
    }

    /// Reference `Range.Overlaps`: either range holds an end point of the other.
    public func overlaps(_ other: IPRange) -> Bool {
        guard subnet.address.isV4 == other.subnet.address.isV4 else { return false }
        return contains(other.rangeStart) || contains(other.rangeEnd)
            || other.contains(rangeStart) || other.contains(rangeEnd)
    }

    /// "start-end", the reference's text for a range (it appears in error messages).
    public var description: String { "\(rangeStart)-\(rangeEnd)" }
}

public struct IPAMRoute: Equatable, Sendable {
    public var dst: IPNetwork
    public var gw: IPAddress?

    public init(dst: IPNetwork, gw: IPAddress? = nil) {
        self.dst = dst
        self.gw = gw
    }
}

/// The IPAM layer's one error type; the CLI edge maps kinds to CNI codes
/// (invalidConfig → 7, unsupported → 2, the rest → plugin-specific codes).
public struct IPAMError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case invalidConfig
        case unsupported
        case exhausted
        case conflict
        case requestedOutOfRange
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// What the allocator needs to know about addresses already held on a network.
public protocol AllocationLookup {
    func isAllocated(network: String, ip: IPAddress) -> Bool
    /// The cursor persisted from the previous allocation in this range set, if any.
    func lastReserved(network: String, rangeSet: Int) -> IPAddress?
}

public struct AllocatedIP: Equatable, Sendable {
    /// The address with its subnet's prefix length, as a CNI result reports it.
    public var address: IPNetwork
    public var gateway: IPAddress?
    public var rangeSet: Int

    public init(address: IPNetwork, gateway: IPAddress?, rangeSet: Int) {
        self.address = address
        self.gateway = gateway
        self.rangeSet = rangeSet
    }
}

public struct HostLocalAllocation: Equatable, Sendable {
    /// One address per range set, in range-set order.
    public var ips: [AllocatedIP]
    public var routes: [IPAMRoute]
    /// The new "last reserved" address per range set; the caller persists these with the
    /// allocation so the next call continues round robin from there.
    public var cursors: [Int: IPAddress]

    public init(ips: [AllocatedIP] = [], routes: [IPAMRoute] = [], cursors: [Int: IPAddress] = [:]) {
        self.ips = ips
        self.routes = routes
        self.cursors = cursors
    }
}

public enum HostLocal {
    /// Allocates one address per range set: the requested one if a requested address falls in
    /// that set, otherwise the next free address after the set's cursor (round robin).
    /// All or nothing: on any failure nothing is returned to persist.
    public static func allocate(
        config: HostLocalConfig, network: String, requested: [IPAddress], lookup: some AllocationLookup
    ) throws(IPAMError) -> HostLocalAllocation {
        let wanted = try assignRequested(requested, to: config.rangeSets)
        let guarded = Guard(config: config)
        var result = HostLocalAllocation(routes: config.routes)
        for (index, set) in config.rangeSets.enumerated() {
            let pick: (ip: IPAddress, range: IPRange)
            do throws(IPAMError) {
                if let ip = wanted[index] {
                    pick = try claim(ip, in: set, guarded: guarded, network: network, lookup: lookup)
                } else {
                    let last = lookup.lastReserved(network: network, rangeSet: index)
                    pick = try nextFree(in: set, after: last, guarded: guarded, network: network, lookup: lookup)
                }
            } catch {
                throw IPAMError(error.kind, "failed to allocate for range \(index): \(error.message)")
            }
            // The prefix length came from a valid subnet of the same family, so this cannot fail.
            let address = IPNetwork(address: pick.ip, prefixLength: pick.range.subnet.prefixLength)!
            result.ips.append(AllocatedIP(address: address, gateway: pick.range.gateway, rangeSet: index))
            result.cursors[index] = pick.ip
        }
        return result
    }

    static func rangeSetText(_ set: [IPRange]) -> String {
        set.map(\.description).joined(separator: ",")
    }

    /// Maps each requested address to the range set holding it (reference: the first requested
    /// address inside a set is that set's request). Unlike the reference, which reports all
    /// leftovers as "failed to allocate all requested IPs", say which rule was broken.
    static func assignRequested(_ requested: [IPAddress], to sets: [[IPRange]]) throws(IPAMError) -> [Int: IPAddress] {
        var wanted: [Int: IPAddress] = [:]
        for ip in requested {
            guard let index = sets.firstIndex(where: { set in set.contains { $0.contains(ip) } }) else {
                let all = sets.map(rangeSetText).joined(separator: "; ")
                throw IPAMError(.requestedOutOfRange, "requested IP \(ip) is not in any range set: \(all)")
            }
            if let first = wanted[index], first != ip {
                throw IPAMError(.requestedOutOfRange,
                                "requested IPs \(first) and \(ip) both fall in range set \(index); at most one address per range set")
            }
            wanted[index] = ip
        }
        return wanted
    }

    static func claim(
        _ ip: IPAddress, in set: [IPRange], guarded: Guard, network: String, lookup: some AllocationLookup
    ) throws(IPAMError) -> (ip: IPAddress, range: IPRange) {
        // assignRequested placed `ip` in this set, so some range holds it.
        let range = set.first { $0.contains(ip) }!
        if let reason = guarded.reason(ip, in: range) {
            throw IPAMError(.conflict, "requested ip \(ip) is \(reason)")
        }
        if lookup.isAllocated(network: network, ip: ip) {
            throw IPAMError(.conflict, "requested IP address \(ip) is not available in range set \(rangeSetText(set))")
        }
        return (ip, range)
    }

    /// The reference `RangeIter`: start just after the cursor in the range that holds it (or at
    /// the first range's start when there is no usable cursor), walk each range up to its end,
    /// move on to the next range's start, wrap around, and stop on returning to the start.
    static func nextFree(
        in set: [IPRange], after last: IPAddress?, guarded: Guard, network: String, lookup: some AllocationLookup
    ) throws(IPAMError) -> (ip: IPAddress, range: IPRange) {
        let first: Position
        if let last, let index = set.firstIndex(where: { $0.contains(last) }) {
            first = Position(range: index, ip: last).successor(in: set)
        } else {
            first = Position(range: 0, ip: set[0].rangeStart)
        }
        var position = first
        repeat {
            let range = set[position.range]
            if guarded.reason(position.ip, in: range) == nil,
               !lookup.isAllocated(network: network, ip: position.ip) {
                return (position.ip, range)
            }
            position = position.successor(in: set)
        } while position != first
        throw IPAMError(.exhausted, "no IP addresses available in range set: \(rangeSetText(set))")
    }

    struct Position: Equatable {
        var range: Int
        var ip: IPAddress

        func successor(in set: [IPRange]) -> Position {
            // Ranges are validated start <= end, so below the end `next()` cannot overflow.
            if ip == set[range].rangeEnd {
                let index = (range + 1) % set.count
                return Position(range: index, ip: set[index].rangeStart)
            }
            return Position(range: range, ip: ip.next()!)
        }
    }

    /// Addresses that are never handed out. The reference skips only the current range's own
    /// gateway and trusts rangeStart/rangeEnd to exclude the rest; an explicit rangeStart equal
    /// to the network address or a rangeEnd equal to the IPv4 broadcast would let it hand
    /// those out, and a gateway may sit inside another range. Skein refuses all of these.
    struct Guard {
        let gateways: Set<IPAddress>

        init(config: HostLocalConfig) {
            gateways = Set(config.rangeSets.joined().compactMap(\.gateway))
        }

        func reason(_ ip: IPAddress, in range: IPRange) -> String? {
            if gateways.contains(ip) { return "subnet's gateway" }
            if ip == range.subnet.network { return "the network address of \(range.subnet)" }
            if ip.isV4 && ip == range.subnet.broadcast { return "the broadcast address of \(range.subnet)" }
            return nil
        }
    }
}
