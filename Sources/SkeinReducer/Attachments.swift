import SkeinModel

// From an ADD request to the desired kernel state and the addresses to hold: per plugin type.

public struct BuildFailure: Error, Equatable, Sendable {
    public var code: Int
    public var message: String
    public init(code: Int, message: String) {
        self.code = code
        self.message = message
    }
}

public typealias BuiltAttachment = AddDecision

extension BuildFailure {
    /// A config parser's error, keeping its details (the key and value it names) in the message.
    init(_ e: CNIError) {
        self.init(code: e.code, message: e.details.isEmpty ? e.msg : "\(e.msg) (\(e.details))")
    }

    static func invalid(_ message: String) -> BuildFailure { BuildFailure(code: 7, message: message) }
}

/// Runs a config parser, turning its CNIError into the reducer's failure.
func parsed<T>(_ parse: () throws(CNIError) -> T) throws(BuildFailure) -> T {
    do { return try parse() } catch { throw BuildFailure(error) }
}

public enum Attachments {
    /// The plugin types this build runs in-process.
    public static let builtInTypes: Set<String> = ["bridge", "macvlan", "ipvlan", "vlan", "host-device", "ptp", "loopback", "tuning"]
    /// The built-in types that make the container interface; a chain's first plugin must be one.
    public static let interfaceTypes: Set<String> = builtInTypes.subtracting(["tuning"])
    /// IPAM types the built-in interface plugins run in-process.
    public static let builtInIPAMTypes: Set<String> = ["host-local", "static"]

    /// The whole chain (`r.plugins`) as one decision. The exec rule: the chain runs built in up to
    /// the first plugin that must be exec'ed from CNI_PATH, and from there on every later plugin
    /// is exec'ed too — its prevResult then comes from outside Skein, so nothing after it can be
    /// planned here. Those configs go into `exec`. A plugin must be exec'ed when its type is not
    /// built in, when its type is in `r.execTypes` (the force-exec switch), or when it is a
    /// built-in interface plugin whose IPAM type is not built in or is forced (dhcp, whereabouts:
    /// the reference plugin is exec'ed whole and execs its IPAM). When the first plugin is exec'ed
    /// the decision has an empty spec. The built-in part starts with an interface plugin; after it
    /// only tuning and a chained ipvlan without IPAM may follow.
    public static func build(_ r: AddRequested, lookup: some AllocationLookup) -> Result<BuiltAttachment, BuildFailure> {
        do throws(BuildFailure) {
            return .success(try buildChain(r, lookup: lookup))
        } catch {
            return .failure(error)
        }
    }

    static func buildChain(_ r: AddRequested, lookup: some AllocationLookup) throws(BuildFailure) -> AddDecision {
        let plugins = r.plugins
        var types: [String] = []
        for (i, p) in plugins.enumerated() {
            guard let t = p["type"]?.string, !t.isEmpty else {
                throw .invalid(i == 0 ? "plugin config has no \"type\"" : "plugin \(i) of the chain has no \"type\"")
            }
            types.append(t)
        }
        let split = plugins.indices.first { mustExec(plugins[$0], type: types[$0], r) } ?? plugins.count
        if split == 0 {
            return AddDecision(pluginType: types[0], spec: AttachmentSpec(), addresses: [], cursors: [:],
                               resultRoutes: [], dns: nil, exec: plugins)
        }
        guard interfaceTypes.contains(types[0]) else {
            throw .invalid("\(types[0]) cannot be the first plugin of a chain: it modifies the interface a previous"
                + " plugin made (put an interface plugin such as bridge or macvlan first)")
        }
        var decision = try buildInterface(r, type: types[0], lookup: lookup)
        for i in 1..<split {
            decision = try buildChained(r, plugins[i], type: types[i], index: i, onto: decision)
        }
        decision.exec = Array(plugins[split...])
        return decision
    }

    public static func mustExec(_ plugin: JSON, type: String, _ r: AddRequested) -> Bool {
        if !builtInTypes.contains(type) || r.execTypes.contains(type) { return true }
        guard interfaceTypes.contains(type), let ipam = plugin["ipam"]?["type"]?.string, !ipam.isEmpty else { return false }
        return !builtInIPAMTypes.contains(ipam) || r.execTypes.contains(ipam)
    }

    static func buildInterface(_ r: AddRequested, type: String, lookup: some AllocationLookup) throws(BuildFailure) -> AddDecision {
        switch type {
        case "bridge": return try BridgeAttachment.build(r, lookup: lookup).get()
        case "macvlan": return try SubLinkAttachment.macvlan(r, lookup: lookup)
        case "ipvlan": return try SubLinkAttachment.ipvlan(r, lookup: lookup)
        case "vlan": return try SubLinkAttachment.vlan(r, lookup: lookup)
        case "host-device": return try HostDeviceAttachment.build(r, lookup: lookup)
        case "ptp": return try PtpAttachment.build(r, lookup: lookup)
        case "loopback": return try LoopbackAttachment.build(r)
        default: preconditionFailure("\(type) is not an interface type")
        }
    }

    static func buildChained(_ r: AddRequested, _ plugin: JSON, type: String, index: Int,
                             onto decision: AddDecision) throws(BuildFailure) -> AddDecision {
        switch type {
        case "tuning": return try Tuning.apply(r, plugin, onto: decision)
        case "ipvlan": return try SubLinkAttachment.chainedIPvlan(r, plugin, onto: decision)
        default:
            throw .invalid("\(type) (plugin \(index) of the chain) makes an interface of its own; only the first"
                + " plugin of a chain may, followed by tuning or an ipvlan without ipam")
        }
    }

    /// host-local, for every built-in interface type. Errors map to CNI codes here, at the reducer's edge.
    static func allocate(_ r: AddRequested, ipam: JSON?, lookup: some AllocationLookup)
        -> Result<(HostLocalConfig, HostLocalAllocation), BuildFailure> {
        guard let ipam, ipam.object != nil else {
            return .failure(BuildFailure(code: 7, message: "\"ipam\" is required"))
        }
        let type = ipam["type"]?.string ?? ""
        guard type == "host-local" else {
            return .failure(BuildFailure(code: 2, message: "IPAM type \"\(type)\" is not supported by this version of skein"))
        }
        do throws(IPAMError) {
            let config = try HostLocalConfig.parse(ipam: ipam, runtimeIPRanges: r.plugin["runtimeConfig"]?["ipRanges"])
            if let key = config.unsupportedKeys.first {
                return .failure(BuildFailure(code: 2, message: "host-local \"\(key)\" is not supported by skein"))
            }
            let alloc = try HostLocal.allocate(config: config, network: r.network, requested: r.requestedIPs, lookup: lookup)
            return .success((config, alloc))
        } catch {
            return .failure(BuildFailure(code: ipamCode(error.kind), message: error.message))
        }
    }

    static func ipamCode(_ kind: IPAMError.Kind) -> Int {
        switch kind {
        case .invalidConfig, .requestedOutOfRange: return 7
        case .unsupported: return 2
        // Plugin-specific: the pool cannot serve this request now. host-local uses a generic error.
        case .exhausted, .conflict: return 101
        }
    }
}

/// Names and MACs derived from (containerID, ifname, network): the same attachment always maps to
/// the same host veth and MACs, so DEL and recovery can find them again without any other record.
public enum Naming {
    static func digest(_ parts: [String]) -> [UInt8] {
        var h = SHA256()
        for p in parts {
            h.update(Array(p.utf8))
            h.update([0])
        }
        return h.finalize()
    }

    /// "veth" + 11 hex digits: 15 bytes, the most IFNAMSIZ allows. 44 bits, not the reference's 32:
    /// two attachments on one node whose names collide cannot both be added, so the space matters.
    public static func hostVeth(_ key: AttachmentKey, network: String) -> String {
        "veth" + String(SHA256.hex(digest(["veth", key.containerID, key.ifname, network])).prefix(11))
    }

    public static func containerMAC(_ key: AttachmentKey, network: String) -> MACAddress {
        .derived(from: digest(["mac", key.containerID, key.ifname, network]))
    }

    public static func hostMAC(_ key: AttachmentKey, network: String) -> MACAddress {
        .derived(from: digest(["hostmac", key.containerID, key.ifname, network]))
    }

    /// A bridge's MAC depends only on its name: it must not change as ports come and go.
    public static func bridgeMAC(_ bridge: String) -> MACAddress {
        .derived(from: digest(["bridge", bridge]))
    }
}
