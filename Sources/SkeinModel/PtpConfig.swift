// The built-in `ptp` delegate's config: the reference plugin's schema (plugins/main/ptp).

public struct PtpConfig: Equatable, Sendable {
    public var mtu: Int?
    /// Required: ptp routes everything through the gateway IPAM gives.
    public var ipam: JSON

    public static func parse(plugin: JSON) throws(CNIError) -> PtpConfig {
        let f = try PluginConfig.fields(plugin, type: "ptp")
        // As for bridge: a pod quietly missing its masquerade is worse than one that does not start.
        if try f.bool("ipMasq") == true { throw PluginConfig.unsupported("ptp", "ipMasq", .bool(true)) }
        if let backend = try f.string("ipMasqBackend") { throw PluginConfig.unsupported("ptp", "ipMasqBackend", .string(backend)) }
        guard let ipam = try PluginConfig.ipam(f) else { throw .invalidConfig("ptp requires \"ipam\" with a \"type\"") }
        return PtpConfig(mtu: try BridgeConfig.mtu(f), ipam: ipam)
    }
}
