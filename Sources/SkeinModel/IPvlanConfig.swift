// The built-in `ipvlan` delegate's config: the reference plugin's schema (plugins/main/ipvlan).
// An ipvlan shares its parent's MAC, so there is no MAC to configure.

public struct IPvlanConfig: Equatable, Sendable {
    /// Nil: the default route's interface, or, chained, the previous result's single interface.
    public var master: String?
    public var mode: String
    public var mtu: Int?
    public var linkInContainer: Bool
    /// Nil: the addresses come from the previous plugin of the chain (the reference's chained mode).
    public var ipam: JSON?

    public static let modes = ["l2", "l3", "l3s"]

    public static func parse(plugin: JSON) throws(CNIError) -> IPvlanConfig {
        let f = try PluginConfig.fields(plugin, type: "ipvlan")
        return IPvlanConfig(
            master: try PluginConfig.interfaceName(f, "master"),
            mode: try PluginConfig.mode(f, type: "ipvlan", allowed: modes),
            mtu: try BridgeConfig.mtu(f),
            linkInContainer: try f.bool("linkInContainer") ?? false,
            ipam: try PluginConfig.ipam(f))
    }
}
