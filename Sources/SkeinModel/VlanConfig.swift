// The built-in `vlan` delegate's config: the reference plugin's schema (plugins/main/vlan).

public struct VlanConfig: Equatable, Sendable {
    public var master: String
    /// 0...4094; absent is 0, as in the reference (Go's zero value), which the kernel accepts.
    public var vlanId: Int
    public var mtu: Int?
    public var linkInContainer: Bool
    public var ipam: JSON?

    public static func parse(plugin: JSON) throws(CNIError) -> VlanConfig {
        let f = try PluginConfig.fields(plugin, type: "vlan")
        guard let master = try PluginConfig.interfaceName(f, "master") else {
            throw .invalidConfig("\"master\" field is required. It specifies the host interface name to create the VLAN for.")
        }
        let id = try f.int("vlanId") ?? 0
        guard (0...4094).contains(id) else { throw .invalidConfig("vlanId must be between 0 and 4094", details: "\(id)") }
        return VlanConfig(master: master, vlanId: id, mtu: try BridgeConfig.mtu(f),
                          linkInContainer: try f.bool("linkInContainer") ?? false, ipam: try PluginConfig.ipam(f))
    }
}
