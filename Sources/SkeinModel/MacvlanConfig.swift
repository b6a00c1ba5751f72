// The built-in `macvlan` delegate's config: the reference plugin's schema (plugins/main/macvlan,
// NetConf), so an existing NAD works unchanged.

public struct MacvlanConfig: Equatable, Sendable {
    /// Nil: the interface of the default route (of the container's table with linkInContainer).
    public var master: String?
    public var mode: String
    /// Nil: the kernel's default (the parent's MTU); the reference treats 0 the same way.
    public var mtu: Int?
    /// Lower-case "aa:bb:cc:dd:ee:ff"; runtimeConfig.mac, else CNI_ARGS MAC, else `mac`.
    public var mac: String?
    /// The master lives in the container's namespace, not the host's.
    public var linkInContainer: Bool
    /// Nil: layer 2 only (the link is brought up with no addresses).
    public var ipam: JSON?

    public static let modes = ["bridge", "private", "vepa", "passthru"]

    /// `envMAC` is CNI_ARGS' `MAC`: the reference lets it override `mac` and runtimeConfig.mac override both.
    public static func parse(plugin: JSON, envMAC: String? = nil) throws(CNIError) -> MacvlanConfig {
        let f = try PluginConfig.fields(plugin, type: "macvlan")
        // Newer reference releases have it; a set value would be silently lost here.
        if let len = try f.int("bcqueuelen"), len != 0 { throw PluginConfig.unsupported("macvlan", "bcqueuelen", .int(len)) }
        return MacvlanConfig(
            master: try PluginConfig.interfaceName(f, "master"),
            mode: try PluginConfig.mode(f, type: "macvlan", allowed: modes),
            mtu: try BridgeConfig.mtu(f),
            mac: try mac(f, envMAC: envMAC),
            linkInContainer: try f.bool("linkInContainer") ?? false,
            ipam: try PluginConfig.ipam(f))
    }

    static func mac(_ f: CNIFields, envMAC: String?) throws(CNIError) -> String? {
        if let rc = try PluginConfig.nested(f, ["runtimeConfig"]), let m = try rc.string("mac"), !m.isEmpty {
            return try BridgeConfig.validMAC(m, key: "runtimeConfig.mac")
        }
        if let m = envMAC, !m.isEmpty { return try BridgeConfig.validMAC(m, key: "CNI_ARGS MAC") }
        if let m = try f.string("mac"), !m.isEmpty { return try BridgeConfig.validMAC(m, key: "mac") }
        return nil
    }
}
