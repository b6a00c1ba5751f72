// The built-in `bridge` delegate's config: the reference plugin's schema (plugins/main/bridge,
// NetConf), so an existing NAD works unchanged. Keys Skein does not implement yet are refused
// with code 2 rather than silently ignored: a pod quietly missing its masquerade or VLAN is worse
// than a pod that does not start.

public struct BridgeConfig: Equatable, Sendable {
    public var networkName: String?
    public var bridge: InterfaceName
    public var isGateway: Bool
    public var isDefaultGateway: Bool
    public var forceAddress: Bool
    /// Nil: leave the kernel's default (the reference treats 0 the same way).
    public var mtu: Int?
    public var hairpinMode: Bool
    public var promiscMode: Bool
    /// Lower-case "aa:bb:cc:dd:ee:ff"; from runtimeConfig.mac, else args.cni.mac, else CNI_ARGS MAC.
    public var mac: String?
    /// Passed to IPAM unchanged.
    public var ipam: JSON

    public static let defaultBridge = "cni0"
    public static let supportedIPAM = ["host-local"]

    /// `envMAC` is CNI_ARGS' `MAC`, which the reference reads with the lowest precedence.
    public static func parse(plugin: JSON, envMAC: String? = nil) throws(CNIError) -> BridgeConfig {
        guard let f = CNIFields(plugin, code: 7) else {
            throw .invalidConfig("bridge config must be a JSON object", details: "got \(plugin.typeName)")
        }
        let type = try f.requiredString("type")
        guard type == "bridge" else { throw .invalidConfig("type must be \"bridge\"", details: type) }
        try refuseUnimplemented(f)
        let isDefaultGateway = try f.bool("isDefaultGateway") ?? false
        return BridgeConfig(
            networkName: try f.string("name"),
            bridge: try bridgeName(f),
            // The reference sets isGateway when isDefaultGateway is set: a default route needs a gateway.
            isGateway: (try f.bool("isGateway") ?? false) || isDefaultGateway,
            isDefaultGateway: isDefaultGateway,
            forceAddress: try f.bool("forceAddress") ?? false,
            mtu: try mtu(f),
            hairpinMode: try f.bool("hairpinMode") ?? false,
            promiscMode: try f.bool("promiscMode") ?? false,
            mac: try mac(f, envMAC: envMAC),
            ipam: try ipam(f))
    }

    static func bridgeName(_ f: CNIFields) throws(CNIError) -> InterfaceName {
        let name = try f.string("bridge") ?? defaultBridge
        do {
            return try InterfaceName(validating: name)
        } catch {
            throw .invalidConfig("bridge: \(error.msg)", details: name)
        }
    }

    static func mtu(_ f: CNIFields) throws(CNIError) -> Int? {
        guard let mtu = try f.int("mtu"), mtu != 0 else { return nil }
        guard (1...65535).contains(mtu) else { throw .invalidConfig("mtu must be between 1 and 65535", details: "\(mtu)") }
        return mtu
    }

    static func mac(_ f: CNIFields, envMAC: String?) throws(CNIError) -> String? {
        if let rc = try f.object("runtimeConfig"),
           let m = try CNIFields(rc, context: "runtimeConfig.", code: 7).string("mac"), !m.isEmpty {
            return try validMAC(m, key: "runtimeConfig.mac")
        }
        if let args = try f.object("args"),
           let cni = try CNIFields(args, context: "args.", code: 7).object("cni"),
           let m = try CNIFields(cni, context: "args.cni.", code: 7).string("mac"), !m.isEmpty {
            return try validMAC(m, key: "args.cni.mac")
        }
        if let m = envMAC, !m.isEmpty { return try validMAC(m, key: "CNI_ARGS MAC") }
        return nil
    }

    /// Six colon-separated hex octets. Multicast and all-zero addresses are refused too: the kernel
    /// rejects them for an Ethernet device (is_valid_ether_addr), better said here than as EADDRNOTAVAIL.
    public static func validMAC(_ text: String, key: String = "mac") throws(CNIError) -> String {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        var octets: [UInt8] = []
        for p in parts {
            guard p.utf8.count == 2, let v = UInt8(p, radix: 16) else { break }
            octets.append(v)
        }
        guard parts.count == 6, octets.count == 6 else {
            throw .invalidConfig("\(key) is not a MAC address of the form aa:bb:cc:dd:ee:ff", details: text)
        }
        guard octets[0] & 1 == 0, octets.contains(where: { $0 != 0 }) else {
            throw .invalidConfig("\(key) must be a unicast, non-zero MAC address", details: text)
        }
        return text.lowercased()
    }

    /// Required for now: a layer-2-only bridge (no ipam) is valid in the reference but not built here.
    static func ipam(_ f: CNIFields) throws(CNIError) -> JSON {
        guard let ipam = try f.object("ipam") else {
            throw .unsupportedField("bridge without ipam (layer 2 only) is not supported yet")
        }
        let type = try CNIFields(ipam, context: "ipam.", code: 7).string("type") ?? ""
        guard !type.isEmpty else { throw .unsupportedField("bridge without ipam.type (layer 2 only) is not supported yet") }
        guard supportedIPAM.contains(type) else {
            throw .unsupportedField("ipam type \"\(type)\" is not supported yet", details: "supported: \(supportedIPAM)")
        }
        return .object(ipam)
    }
}

extension BridgeConfig {
    /// Type errors come first (code 7), then a set value is code 2 naming key and value, as the
    /// spec asks. False, zero, null and empty values are what the reference does by default: accepted.
    static func refuseUnimplemented(_ f: CNIFields) throws(CNIError) {
        func unsupported(_ key: String, _ value: JSON) -> CNIError {
            .unsupportedField("bridge key \(key) is not supported yet", details: "\(key): \(value.serialized())")
        }
        for key in ["ipMasq", "preserveDefaultVlan", "enabledad", "macspoofchk", "disableContainerInterface", "portIsolation"] {
            if try f.bool(key) == true { throw unsupported(key, .bool(true)) }
        }
        if let backend = try f.string("ipMasqBackend") { throw unsupported("ipMasqBackend", .string(backend)) }
        if let vlan = try f.int("vlan") {
            // The reference refuses ids outside 0...4094 as invalid before anything else.
            guard (0...4094).contains(vlan) else { throw .invalidConfig("vlan must be between 0 and 4094", details: "\(vlan)") }
            if vlan != 0 { throw unsupported("vlan", .int(vlan)) }
        }
        if let trunk = try f.array("vlanTrunk"), !trunk.isEmpty { throw unsupported("vlanTrunk", .array(trunk)) }
    }
}
