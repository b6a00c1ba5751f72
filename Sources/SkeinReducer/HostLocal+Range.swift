// Decoding and canonicalizing ranges: reference Range.Canonicalize and RangeSet.Canonicalize.

import SkeinModel

/// A range as written, before defaults are filled in.
struct RawRange: Equatable {
    var subnet: IPNetwork?
    var rangeStart: IPAddress?
    var rangeEnd: IPAddress?
    var gateway: IPAddress?
}

extension HostLocalConfig {
    static func rawRange(_ field: IPAMFields) throws(IPAMError) -> RawRange {
        RawRange(subnet: try field.network("subnet"),
                 rangeStart: try field.address("rangeStart"),
                 rangeEnd: try field.address("rangeEnd"),
                 gateway: try field.address("gateway"))
    }

    /// `[[range, ...], ...]`; absent or null means no range sets.
    static func parseRangeSets(_ value: JSON?, context: String) throws(IPAMError) -> [[RawRange]] {
        guard let sets = try IPAMFields.array(value, context: context) else { return [] }
        var result: [[RawRange]] = []
        for (i, set) in sets.enumerated() {
            let ranges = try IPAMFields.array(set, context: "\(context)[\(i)]") ?? []
            var parsed: [RawRange] = []
            for (j, range) in ranges.enumerated() {
                parsed.append(try rawRange(try IPAMFields(range, context: "\(context)[\(i)][\(j)]")))
            }
            result.append(parsed)
        }
        return result
    }

    /// RangeSet.Canonicalize: every range canonical, one family, no two ranges overlapping.
    static func canonicalize(_ set: [RawRange]) throws(IPAMError) -> [IPRange] {
        guard !set.isEmpty else { throw IPAMError(.invalidConfig, "empty range set") }
        var ranges: [IPRange] = []
        for raw in set {
            let range = try canonicalize(raw)
            if let first = ranges.first, first.subnet.address.isV4 != range.subnet.address.isV4 {
                throw IPAMError(.invalidConfig, "mixed address families")
            }
            ranges.append(range)
        }
        for i in ranges.indices {
            for j in ranges.indices where j > i && ranges[i].overlaps(ranges[j]) {
                throw IPAMError(.invalidConfig, "subnets \(ranges[i]) and \(ranges[j]) overlap")
            }
        }
        return ranges
    }

    /// Range.Canonicalize: defaults are the subnet's first host for gateway and rangeStart,
    /// and its last host for rangeEnd (the last address for IPv6, which has no broadcast).
    static func canonicalize(_ raw: RawRange) throws(IPAMError) -> IPRange {
        guard let subnet = raw.subnet else { throw IPAMError(.invalidConfig, "subnet is required") }
        let width = subnet.address.bitWidth
        // A /31 or /32 (/127, /128) has no address left once network and gateway are taken.
        guard subnet.prefixLength <= width - 2 else {
            throw IPAMError(.invalidConfig, "Network \(subnet) too small to allocate from")
        }
        guard subnet.address == subnet.network else {
            throw IPAMError(.invalidConfig, "Network has host bits set. For a subnet mask of length \(subnet.prefixLength) the network address is \(subnet.network)")
        }
        let firstHost = subnet.network.next()!  // prefix <= width-2 leaves room
        let lastHost = subnet.address.isV4 ? subnet.broadcast.previous()! : subnet.broadcast
        // The reference dropped its gateway-in-subnet check (a gateway may be off-link);
        // a gateway of the other family can only be a typo, so that is still refused.
        if let gw = raw.gateway, gw.isV4 != subnet.address.isV4 {
            throw IPAMError(.invalidConfig, "gateway \(gw) is not the same address family as \(subnet)")
        }
        let start = raw.rangeStart ?? firstHost
        guard subnet.contains(start) else {
            throw IPAMError(.invalidConfig, "RangeStart \(start) not in network \(subnet)")
        }
        let end = raw.rangeEnd ?? lastHost
        // As in the reference, an explicit end before the start reads as "not in network".
        if raw.rangeEnd != nil, !subnet.contains(end) || end < start {
            throw IPAMError(.invalidConfig, "RangeEnd \(end) not in network \(subnet)")
        }
        // Only reachable with a defaulted end; the reference would loop over the whole space.
        guard start <= end else {
            throw IPAMError(.invalidConfig, "RangeStart \(start) is after RangeEnd \(end)")
        }
        return IPRange(subnet: subnet, rangeStart: start, rangeEnd: end, gateway: raw.gateway ?? firstHost)
    }
}

/// Typed access to one JSON object, with errors that name the offending key. Null and absent
/// read alike, as with Go's decoder, which leaves the field at its zero value.
struct IPAMFields {
    let object: JSONObject
    let context: String

    init(object: JSONObject, context: String) {
        self.object = object
        self.context = context
    }

    init(_ value: JSON, context: String) throws(IPAMError) {
        guard let object = value.object else {
            throw IPAMError(.invalidConfig, "\(context) must be an object, not \(value.typeName)")
        }
        self.init(object: object, context: context)
    }

    static func array(_ value: JSON?, context: String) throws(IPAMError) -> [JSON]? {
        guard let value, !value.isNull else { return nil }
        guard let items = value.array else {
            throw IPAMError(.invalidConfig, "\(context) must be an array, not \(value.typeName)")
        }
        return items
    }

    func string(_ key: String) throws(IPAMError) -> String? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let text = value.string else {
            throw IPAMError(.invalidConfig, "\(context).\(key) must be a string, not \(value.typeName)")
        }
        return text
    }

    /// An empty string means "not set", as Go's net.IP decoding treats it.
    func address(_ key: String) throws(IPAMError) -> IPAddress? {
        guard let text = try string(key), !text.isEmpty else { return nil }
        guard let ip = IPAddress(text) else {
            throw IPAMError(.invalidConfig, "\(context).\(key): invalid IP address \"\(text)\"")
        }
        return ip
    }

    func network(_ key: String) throws(IPAMError) -> IPNetwork? {
        guard let text = try string(key) else { return nil }
        guard let net = IPNetwork(text) else {
            throw IPAMError(.invalidConfig, "\(context).\(key): invalid CIDR \"\(text)\"")
        }
        return net
    }
}
