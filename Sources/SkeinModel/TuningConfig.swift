// The built-in `tuning` meta-plugin's config: the reference plugin's schema (plugins/meta/tuning),
// applied to CNI_IFNAME as the previous plugin of the chain left it. Sysctls are confined to the
// pod: only keys under net/, and a per-interface key (net/<proto>/conf|neigh/<if>/…) only for the
// pod's own interface or the namespace-wide "all" and "default" — another attachment's interface
// is not this plugin's to change.

public struct TuningConfig: Equatable, Sendable {
    /// Keys as paths under /proc/sys ("net/ipv4/conf/net1/rp_filter"), in config order, written
    /// in the container's namespace.
    public var sysctls: [SysctlSpec]
    public var mac: String?
    public var mtu: Int?
    /// Only ever turned on, as in the reference (false is its default, not "turn off").
    public var promisc: Bool
    public var allmulti: Bool?
    public var txQLen: UInt32?

    /// Precedence as the reference: `mac` < CNI_ARGS MAC < runtimeConfig.mac < args.cni.mac, and
    /// args.cni's sysctl/promisc/mtu/allmulti/txQLen override the top-level ones.
    public static func parse(plugin: JSON, ifname: String, envMAC: String? = nil) throws(CNIError) -> TuningConfig {
        let f = try PluginConfig.fields(plugin, type: "tuning")
        let args = try PluginConfig.nested(f, ["args", "cni"])
        /// args.cni when it sets `key`, else the top level.
        func source(_ key: String) -> CNIFields {
            if let args, args.present(key) != nil { return args }
            return f
        }
        var sysctls = try sysctlMap(f, ifname: ifname)
        if let args {
            for s in try sysctlMap(args, ifname: ifname) {
                sysctls.removeAll { $0.key == s.key }
                sysctls.append(s)
            }
        }
        var mac = try f.string("mac")
        if let m = envMAC, !m.isEmpty { mac = m }
        if let m = try PluginConfig.nested(f, ["runtimeConfig"])?.string("mac"), !m.isEmpty { mac = m }
        // A pointer in the reference: even an empty args.cni.mac overrides (to "no change").
        if let m = try args?.string("mac") { mac = m }
        var validMAC: String?
        if let mac, !mac.isEmpty { validMAC = try BridgeConfig.validMAC(mac, key: "tuning mac") }
        return TuningConfig(
            sysctls: sysctls, mac: validMAC, mtu: try BridgeConfig.mtu(source("mtu")),
            promisc: try source("promisc").bool("promisc") ?? false,
            allmulti: try source("allmulti").bool("allmulti"),
            txQLen: try txQLen(source("txQLen")))
    }

    static func txQLen(_ f: CNIFields) throws(CNIError) -> UInt32? {
        guard let n = try f.int("txQLen") else { return nil }
        guard let v = UInt32(exactly: n) else {
            throw .invalidConfig("\(f.context)txQLen must be between 0 and \(UInt32.max)", details: "\(n)")
        }
        return v
    }

    static func sysctlMap(_ f: CNIFields, ifname: String) throws(CNIError) -> [SysctlSpec] {
        guard let map = try f.object("sysctl") else { return [] }
        var out: [SysctlSpec] = []
        for (key, value) in map.pairs {
            guard let text = value.string else { throw f.fail("sysctl[\"\(key)\"]", "a string", value) }
            let path = try sysctlPath(key, ifname: ifname)
            guard !out.contains(where: { $0.key == path }) else {
                throw .invalidConfig("duplicated sysctl keys are not allowed", details: "\(key) (\(path))")
            }
            out.append(SysctlSpec(key: path, value: text, namespace: .container))
        }
        return out
    }

    /// The reference's key rule (dots become '/', then "IFNAME" becomes the interface name, so a
    /// name with dots survives) with the pod confinement described above.
    public static func sysctlPath(_ key: String, ifname: String) throws(CNIError) -> String {
        let path = replacingFirst("IFNAME", with: ifname, in: String(key.map { $0 == "." ? "/" : $0 }))
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "net", !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw .invalidConfig("invalid net sysctl key: \"\(key)\"", details: "only keys under net. are allowed")
        }
        if parts.count >= 5, parts[2] == "conf" || parts[2] == "neigh" {
            let device = String(parts[3])
            guard device == ifname || device == "all" || device == "default" else {
                throw .invalidConfig("sysctl \"\(key)\" names interface \(device), not this attachment's \(ifname)",
                                     details: "per-interface keys may name IFNAME, \(ifname), all or default")
            }
        }
        return path
    }

    static func replacingFirst(_ target: String, with replacement: String, in text: String) -> String {
        let t = Array(target.utf8), u = Array(text.utf8)
        guard u.count >= t.count else { return text }
        for i in 0...(u.count - t.count) where Array(u[i..<(i + t.count)]) == t {
            return String(decoding: u[..<i], as: UTF8.self) + replacement + String(decoding: u[(i + t.count)...], as: UTF8.self)
        }
        return text
    }
}
