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

public enum Attachments {
    /// The plugin types this build runs in-process.
    public static let builtInTypes: Set<String> = ["bridge"]

    public static func build(_ r: AddRequested, lookup: some AllocationLookup) -> Result<BuiltAttachment, BuildFailure> {
        guard let type = r.plugin["type"]?.string else {
            return .failure(BuildFailure(code: 7, message: "plugin config has no \"type\""))
        }
        switch type {
        case "bridge": return BridgeAttachment.build(r, lookup: lookup)
        default:
            return .failure(BuildFailure(code: 2, message: "plugin type \"\(type)\" is not supported by this version of skein"))
        }
    }

    /// host-local, the only IPAM type so far. Errors map to CNI codes here, at the reducer's edge.
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
