// flannel as a delegate type, built the way the flannel CNI plugin (flannel-io/cni-plugin) builds
// its own delegate: flanneld's subnet.env becomes a bridge (unless the config's `delegate` says
// otherwise) with host-local IPAM over this node's subnet and a route to the whole cluster network.
// Pure: the engine reads the file and journals the expanded config, so DEL never needs subnet.env.

import SkeinModel

/// What flanneld wrote to subnet.env (`FLANNEL_*=value` lines).
public struct FlannelSubnetEnv: Equatable, Sendable {
    /// Masked, as Go's net.ParseCIDR returns the network: "10.244.1.1/24" is 10.244.1.0/24.
    public var network: IPNetwork?
    public var subnet: IPNetwork?
    public var ipv6Network: IPNetwork?
    public var ipv6Subnet: IPNetwork?
    public var mtu: Int?
    /// Whether flanneld masquerades itself (then the bridge must not).
    public var ipMasq: Bool?

    public init(network: IPNetwork? = nil, subnet: IPNetwork? = nil, ipv6Network: IPNetwork? = nil,
                ipv6Subnet: IPNetwork? = nil, mtu: Int? = nil, ipMasq: Bool? = nil) {
        self.network = network; self.subnet = subnet; self.ipv6Network = ipv6Network
        self.ipv6Subnet = ipv6Subnet; self.mtu = mtu; self.ipMasq = ipMasq
    }

    /// The file's text; `path` names it in errors. Unknown lines are ignored, as the plugin does;
    /// a known key with a bad value, or a missing key, is an error (code 7).
    public static func parse(_ text: String, path: String) throws(CNIError) -> FlannelSubnetEnv {
        var env = FlannelSubnetEnv()
        for raw in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = raw.trimmedWhitespace
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq]), value = String(line[line.index(after: eq)...])
            func cidr() throws(CNIError) -> IPNetwork {
                guard let n = IPNetwork(value) else { throw .invalidConfig("\(path): \(key) is not a CIDR", details: value) }
                return n.masked
            }
            switch key {
            case "FLANNEL_NETWORK": env.network = try cidr()
            case "FLANNEL_SUBNET": env.subnet = try cidr()
            case "FLANNEL_IPV6_NETWORK": env.ipv6Network = try cidr()
            case "FLANNEL_IPV6_SUBNET": env.ipv6Subnet = try cidr()
            case "FLANNEL_MTU":
                guard let mtu = UInt32(value) else { throw .invalidConfig("\(path): FLANNEL_MTU is not a number", details: value) }
                env.mtu = Int(mtu)
            case "FLANNEL_IPMASQ": env.ipMasq = value == "true"
            default: continue
            }
        }
        let missing = env.missing
        guard missing.isEmpty else { throw .invalidConfig("\(path) is missing \(missing.joined(separator: ", "))") }
        return env
    }

    /// The plugin's own list and wording, so an operator's search finds the same thing.
    var missing: [String] {
        var m: [String] = []
        if network == nil && ipv6Network == nil { m += ["FLANNEL_NETWORK", "FLANNEL_IPV6_NETWORK"] }
        if subnet == nil && ipv6Subnet == nil { m += ["FLANNEL_SUBNET", "FLANNEL_IPV6_SUBNET"] }
        if mtu == nil { m.append("FLANNEL_MTU") }
        if ipMasq == nil { m.append("FLANNEL_IPMASQ") }
        return m
    }
}

public enum Flannel {
    public static let type = "flannel"
    public static let defaultSubnetFile = "/run/flannel/subnet.env"

    /// The plugin config's `subnetFile`, else the default.
    public static func subnetFile(_ plugin: JSON) throws(CNIError) -> String {
        guard let v = plugin["subnetFile"], !v.isNull else { return defaultSubnetFile }
        guard let path = v.string, !path.isEmpty else {
            throw .invalidConfig("flannel subnetFile must be a non-empty string", details: "got \(v.typeName)")
        }
        guard path.hasPrefix("/"), !path.utf8.contains(0) else {
            throw .invalidConfig("flannel subnetFile must be an absolute path", details: path)
        }
        return path
    }

    /// The delegate config the flannel plugin would hand on: its `delegate` object (type bridge
    /// unless given) with name, ipMasq (= !FLANNEL_IPMASQ), mtu, isGateway (bridge), cniVersion and
    /// host-local IPAM filled in where the object leaves them out; the config's `runtimeConfig`
    /// passes through. `name` and `ipam` in `delegate` are refused, as the plugin refuses them.
    public static func delegate(_ plugin: JSON, env: FlannelSubnetEnv) throws(CNIError) -> JSON {
        guard let conf = plugin.object else { throw .invalidConfig("flannel config must be an object") }
        let m = Members(conf, context: "flannel ")
        var d = try m.object("delegate") ?? JSONObject()
        if let t = d["type"], t.string == nil { throw .invalidConfig("'delegate' dictionary, if present, must have (string) 'type' field") }
        if d["name"] != nil { throw .invalidConfig("'delegate' dictionary must not have 'name' field, it'll be set by flannel") }
        if d["ipam"] != nil { throw .invalidConfig("'delegate' dictionary must not have 'ipam' field, it'll be set by flannel") }
        if let runtime = try m.object("runtimeConfig") { d["runtimeConfig"] = .object(runtime) }
        d["name"] = .string(try m.string("name") ?? "")
        if d["type"] == nil { d["type"] = .string("bridge") }
        if d["ipMasq"] == nil { d["ipMasq"] = .bool(!(env.ipMasq ?? false)) }
        if d["mtu"] == nil, let mtu = env.mtu { d["mtu"] = .int(mtu) }
        if d["type"]?.string == "bridge" && d["isGateway"] == nil { d["isGateway"] = .bool(true) }
        if let version = try m.string("cniVersion"), !version.isEmpty { d["cniVersion"] = .string(version) }
        d["ipam"] = .object(try ipam(m, env: env))
        return .object(d)
    }

    /// The config's own `ipam` (type host-local unless given) with `ranges` replaced by this node's
    /// subnets and the cluster networks appended to its `routes`.
    static func ipam(_ m: Members, env: FlannelSubnetEnv) throws(CNIError) -> JSONObject {
        var ipam = try m.object("ipam") ?? JSONObject()
        if ipam["type"] == nil { ipam["type"] = .string("host-local") }
        var ranges: [JSON] = []
        for subnet in [env.subnet, env.ipv6Subnet].compactMap({ $0 }) {
            ranges.append(.array([.obj([("subnet", .string(subnet.description))])]))
        }
        ipam["ranges"] = .array(ranges)
        var routes = try Members(ipam, context: "flannel ipam.").array("routes") ?? []
        for (i, route) in routes.enumerated() {
            guard let dst = route["dst"]?.string, IPNetwork(dst) != nil else {
                throw .invalidConfig("failed to read IPAM routes: flannel ipam.routes[\(i)].dst is not a CIDR")
            }
        }
        for network in [env.network, env.ipv6Network].compactMap({ $0 }) {
            routes.append(.obj([("dst", .string(network.description))]))
        }
        ipam["routes"] = .array(routes)
        return ipam
    }
}
