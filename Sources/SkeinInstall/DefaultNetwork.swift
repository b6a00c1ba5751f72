import SkeinModel

// Finding the cluster's default network the way the runtime finds a network config: the files
// of the CNI config directory ending in .conf, .conflist or .json (libcni's ConfFiles), in byte
// order (Go's sort.Strings), first one wins. Skein's own file must be that first one; the next
// one that is not a meta-plugin becomes `clusterNetwork`, as Multus' auto-configuration does.

/// The config Skein delegates the pod's eth0 to.
public struct DefaultNetwork: Equatable, Sendable {
    public let fileName: String
    /// Copied into Skein's config as they are (the runtime then speaks the same version to both).
    public let cniVersion: JSON?
    public let cniVersions: JSON?
    /// Capabilities any of its plugins enables, sorted: the runtime only passes a capability's
    /// runtimeConfig to a config that declares it, so Skein must declare the union to forward them.
    public let capabilities: [String]
}

enum Discovery: Equatable {
    case found(DefaultNetwork)
    /// Nothing usable yet; the reason is for the log.
    case waiting(String)
}

enum DefaultNetworkSearch {
    static let extensions = [".conf", ".conflist", ".json"]
    /// Delegating the cluster network to one of these would call Skein (or Multus) again.
    static let metaPluginTypes: Set<String> = ["skein", "multus", "multus-shim"]

    /// The names the runtime would consider, in the order it considers them.
    static func configNames(_ names: [String]) -> [String] {
        names.filter { name in extensions.contains { name.hasSuffix($0) } }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// One look at the directory. A config sorting before Skein's is a conflict, not something to
    /// wait out: the runtime would use it, and pods would start without their extra networks.
    static func search(names: [String], own: String, directory: String,
                       read: (String) throws(InstallError) -> [UInt8]?) throws(InstallError) -> Discovery {
        let configs = configNames(names)
        if let first = configs.first(where: { $0 != own && $0.utf8.lexicographicallyPrecedes(own.utf8) }) {
            throw InstallError(.conflict, "\(joinPath(directory, first)) sorts before \(own), so the container runtime "
                + "would use it and never call Skein: remove it (is Multus still installed?) or choose an earlier --conf-file-name")
        }
        for name in configs where name != own {
            guard let bytes = try read(name) else { continue }  // removed since the listing
            switch inspect(bytes) {
            case .network(let n):
                return .found(DefaultNetwork(fileName: name, cniVersion: n.cniVersion, cniVersions: n.cniVersions,
                                             capabilities: n.capabilities))
            case .meta:
                continue
            case .invalid(let reason):
                // Possibly half-written by the network's own installer: wait rather than skip to a
                // file the runtime would not have chosen.
                return .waiting("\(joinPath(directory, name)): \(reason)")
            }
        }
        return .waiting("no network config in \(directory) yet")
    }

    enum Inspection {
        case network(DefaultNetwork)
        case meta(String)
        case invalid(String)
    }

    static func inspect(_ bytes: [UInt8]) -> Inspection {
        guard let json = try? JSON.parse(bytes), json.object != nil else {
            return .invalid("not a JSON object (still being written?)")
        }
        let plugins: [JSON]
        if let list = json["plugins"] {
            guard let array = list.array, !array.isEmpty else { return .invalid("plugins must be a non-empty array") }
            plugins = array
        } else if json["type"] != nil {
            plugins = [json]
        } else {
            return .invalid("has neither plugins nor type")
        }
        var capabilities: Set<String> = []
        for plugin in plugins {
            guard let type = plugin["type"]?.string, !type.isEmpty else { return .invalid("a plugin has no type") }
            if metaPluginTypes.contains(type) { return .meta(type) }
            for pair in plugin["capabilities"]?.object?.pairs ?? [] where pair.value == .bool(true) {
                capabilities.insert(pair.key)
            }
        }
        do { _ = try CNIVersion.resolve(config: json) } catch {
            return .invalid("\(error.msg)\(error.details.isEmpty ? "" : " (\(error.details))")")
        }
        return .network(DefaultNetwork(fileName: "", cniVersion: json["cniVersion"], cniVersions: json["cniVersions"],
                                       capabilities: capabilities.sorted()))
    }
}
