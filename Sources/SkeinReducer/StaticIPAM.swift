// The `static` IPAM type as a pure function of the config and CNI_ARGS, with the reference
// plugin's (plugins/ipam/static) precedence: the `addresses` list plus CNI_ARGS `IP=` (comma
// separated CIDRs, appended), then CNI_ARGS `GATEWAY=` sets the gateway of every address whose
// subnet contains it; `args.cni.ips` replaces the whole list, and `runtimeConfig.ips` replaces
// that (both without gateways). Nothing is allocated: the addresses are reported, not held.

import SkeinModel

public struct StaticIPAMConfig: Equatable, Sendable {
    /// With their prefix length and host bits, as the result reports them.
    public var addresses: [HeldAddress]
    public var routes: [IPAMRoute]
    /// `ipam.dns`: reported by the IPAM result (ptp passes it on when it has no DNS of its own).
    public var dns: JSON?

    public init(addresses: [HeldAddress], routes: [IPAMRoute] = [], dns: JSON? = nil) {
        self.addresses = addresses
        self.routes = routes
        self.dns = dns
    }

    public static func parse(plugin: JSON, cniArgs: String?) throws(IPAMError) -> StaticIPAMConfig {
        guard let ipamValue = plugin["ipam"], !ipamValue.isNull else {
            throw IPAMError(.invalidConfig, "IPAM config missing 'ipam' key")
        }
        let ipam = try IPAMFields(ipamValue, context: "ipam")
        if let type = try ipam.string("type"), type != "static" {
            throw IPAMError(.invalidConfig, "ipam type \"\(type)\" is not static")
        }
        var addresses = try configured(ipam)
        let args = argPairs(cniArgs)
        for (key, value) in args where key == "IP" && !value.isEmpty {
            for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                addresses.append(HeldAddress(address: try cidr(trimmed(item), "the 'ip' field"), gateway: nil))
            }
        }
        for (key, value) in args where key == "GATEWAY" && !value.isEmpty {
            for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                guard let gw = IPAddress(trimmed(item)) else {
                    throw IPAMError(.invalidConfig, "invalid gateway address: \(item)")
                }
                for i in addresses.indices where addresses[i].address.contains(gw) { addresses[i].gateway = gw }
            }
        }
        for path in [["args", "cni", "ips"], ["runtimeConfig", "ips"]] {
            let list = try strings(plugin, path)
            guard !list.isEmpty else { continue }
            addresses = []
            for text in list { addresses.append(HeldAddress(address: try cidr(text, "an entry in the 'ips' field"), gateway: nil)) }
        }
        var dns: JSON?
        if let value = ipam.object["dns"], !value.isNull {
            guard let o = value.object else { throw IPAMError(.invalidConfig, "ipam.dns must be an object, not \(value.typeName)") }
            if !o.isEmpty { dns = value }
        }
        return StaticIPAMConfig(addresses: addresses, routes: try HostLocalConfig.parseRoutes(ipam.object["routes"]), dns: dns)
    }

    static func configured(_ ipam: IPAMFields) throws(IPAMError) -> [HeldAddress] {
        var out: [HeldAddress] = []
        for (i, item) in (try IPAMFields.array(ipam.object["addresses"], context: "ipam.addresses") ?? []).enumerated() {
            let field = try IPAMFields(item, context: "ipam.addresses[\(i)]")
            let text = try field.string("address") ?? ""
            out.append(HeldAddress(address: try cidr(text, "the 'address' field"), gateway: try field.address("gateway")))
        }
        return out
    }

    static func cidr(_ text: String, _ what: String) throws(IPAMError) -> IPNetwork {
        guard let net = IPNetwork(text) else {
            throw IPAMError(.invalidConfig, "\(what) is expected to be in CIDR notation, got: '\(text)'")
        }
        return net
    }

    static func strings(_ plugin: JSON, _ path: [String]) throws(IPAMError) -> [String] {
        var value: JSON? = plugin
        for key in path { value = value?[key] }
        let context = path.joined(separator: ".")
        var out: [String] = []
        for (i, item) in (try IPAMFields.array(value, context: context) ?? []).enumerated() {
            guard let s = item.string else { throw IPAMError(.invalidConfig, "\(context)[\(i)] must be a string, not \(item.typeName)") }
            out.append(s)
        }
        return out
    }

    /// "K=V;K=V". The engine validated the syntax before the request was journaled; a part
    /// without '=' is skipped here rather than refused twice.
    static func argPairs(_ raw: String?) -> [(String, String)] {
        guard let raw else { return [] }
        var out: [(String, String)] = []
        for pair in raw.split(separator: ";") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.count == 2 { out.append((String(kv[0]), String(kv[1]))) }
        }
        return out
    }

    static func trimmed(_ s: Substring) -> String {
        String(s.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
