// The delegate list of one pod, as Multus builds it (pkg/k8sclient, pkg/multus): the cluster
// network first as CNI_IFNAME, then `defaultNetworks`, then the pod's annotation, with interface
// names, per-attachment runtime data and the default-route decision. Looking networks up is the
// caller's job (API, nadDir, confDir), through the resolver.

import SkeinModel

/// One delegate of a pod's plan: which network, as which interface, with what extra runtime data.
public struct MetaAttachment: Equatable, Sendable {
    /// "namespace/name" for a NAD; the CNI network name for the cluster network and config delegates.
    public var network: String
    public var ifname: String
    public var delegate: DelegateConfig
    /// The cluster network (Multus' master plugin): CNI_IFNAME unless it asks otherwise, its result
    /// is the ADD's result, and network-status marks it `default`.
    public var isDefault: Bool
    /// Capability arguments for the delegate's plugins: the runtime's `runtimeConfig`, with the
    /// selection's ips, mac, portMappings, bandwidth, infinibandGUID and deviceID laid over it
    /// (Multus does not lay them over the cluster network's).
    public var runtimeConfig: JSONObject
    /// CNI_ARGS additions in Multus' order: "MAC=…", then "IP=a,b".
    public var cniArgs: [String]
    /// The selection's `cni-args`, merged into each plugin's `args.cni`.
    public var argsCNI: JSONObject?
    /// Delete this interface's default routes (IPv4 and IPv6) after ADD: another attachment, or this
    /// one with its own gateways, is the pod's default route.
    public var dropDefaultRoute: Bool
    /// After dropping, add a default route via each of these (the selection's `default-route`).
    public var defaultGateways: [IPAddress]

    public init(network: String, ifname: String, delegate: DelegateConfig, isDefault: Bool = false,
                runtimeConfig: JSONObject = JSONObject(), cniArgs: [String] = [], argsCNI: JSONObject? = nil,
                dropDefaultRoute: Bool = false, defaultGateways: [IPAddress] = []) {
        self.network = network; self.ifname = ifname; self.delegate = delegate; self.isDefault = isDefault
        self.runtimeConfig = runtimeConfig; self.cniArgs = cniArgs; self.argsCNI = argsCNI
        self.dropDefaultRoute = dropDefaultRoute; self.defaultGateways = defaultGateways
    }
}

/// The ordered attachments of one pod.
public struct MetaPlan: Equatable, Sendable {
    public var attachments: [MetaAttachment]

    /// Looks a network up: a NAD (namespace, name), else — for clusterNetwork and defaultNetworks,
    /// which come with `multusNamespace` — a CNI network name in confDir, or a path when the name
    /// contains '/'. Not found is the resolver's error to throw.
    public typealias Resolver = (_ namespace: String, _ name: String) throws(CNIError) -> DelegateConfig

    /// One network before interface names and default routes are decided.
    struct Entry {
        var network: String
        var delegate: DelegateConfig
        var selection: NetworkSelection?
        var isDefault = false
    }

    /// `annotations` are the pod's; `ifname` is CNI_IFNAME.
    public static func build(config: SkeinConfig, podNamespace: String, annotations: [String: String],
                             ifname: String, resolve: Resolver) throws(CNIError) -> MetaPlan {
        var entries = [try clusterEntry(config, annotations: annotations, resolve: resolve)]
        for d in config.delegates.dropFirst() { entries.append(Entry(network: d.name, delegate: d)) }
        if config.clusterNetwork != nil && !config.systemNamespaces.contains(podNamespace) {
            for name in config.defaultNetworks {
                let d = try resolve(config.multusNamespace, name)
                entries.append(Entry(network: name.contains("/") ? d.name : "\(config.multusNamespace)/\(name)", delegate: d))
            }
        }
        let selections = try NetworkSelection.parse(annotations[NetworkSelection.annotationKey] ?? "",
                                                    defaultNamespace: podNamespace)
        for s in selections {
            try checkIsolation(s, config: config, podNamespace: podNamespace)
            entries.append(Entry(network: s.networkName, delegate: try resolve(s.namespace, s.name), selection: s))
        }
        var attachments = try named(entries, ifname: ifname).map { e -> MetaAttachment in
            MetaAttachment(network: e.entry.network, ifname: e.ifname, delegate: e.entry.delegate, isDefault: e.entry.isDefault,
                           runtimeConfig: capabilityArgs(e.entry, base: config.runtimeConfig),
                           cniArgs: cniArgs(e.entry.selection), argsCNI: e.entry.selection?.cniArgs)
        }
        try decideDefaultRoute(&attachments, selections: entries.map(\.selection))
        return MetaPlan(attachments: attachments)
    }

    /// The pod's `v1.multus-cni.io/default-network` (one NAD, in multusNamespace) replaces the
    /// configured cluster network.
    static func clusterEntry(_ config: SkeinConfig, annotations: [String: String],
                             resolve: Resolver) throws(CNIError) -> Entry {
        let key = NetworkSelection.defaultNetworkAnnotationKey
        let chosen = try NetworkSelection.parse(annotations[key] ?? "", defaultNamespace: config.multusNamespace, source: key)
        if let s = chosen.first {
            guard chosen.count == 1 else { throw .invalidConfig("\(key) names more than one network") }
            guard s.namespace == config.multusNamespace else {
                throw .invalidConfig("\(key) must name a NetworkAttachmentDefinition in \(config.multusNamespace)",
                                     details: s.networkName)
            }
            return Entry(network: s.networkName, delegate: try resolve(s.namespace, s.name), selection: s, isDefault: true)
        }
        if let cluster = config.clusterNetwork {
            let d = try resolve(config.multusNamespace, cluster)
            return Entry(network: d.name, delegate: d, isDefault: true)
        }
        guard let first = config.delegates.first else { throw .invalidConfig("one of delegates or clusterNetwork is required") }
        return Entry(network: first.name, delegate: first, isDefault: true)
    }

    /// With namespaceIsolation a pod may only use its own namespace's NADs and the global ones.
    static func checkIsolation(_ s: NetworkSelection, config: SkeinConfig, podNamespace: String) throws(CNIError) {
        guard config.namespaceIsolation, s.namespace != podNamespace, !config.globalNamespaces.contains(s.namespace) else { return }
        throw .invalidConfig("namespace isolation: a pod in namespace \(podNamespace) may not use \(s.networkName)",
                             details: "allowed: \(podNamespace), " + config.globalNamespaces.joined(separator: ", "))
    }

    /// Explicit names win; the cluster network is CNI_IFNAME; the rest are net<position>, so
    /// defaultNetworks take net1… before the annotation's. Two attachments may not share a name.
    static func named(_ entries: [Entry], ifname: String) throws(CNIError) -> [(entry: Entry, ifname: String)] {
        var seen: [String: String] = [:]
        var out: [(entry: Entry, ifname: String)] = []
        for (i, e) in entries.enumerated() {
            let name = e.selection?.interface ?? (e.isDefault ? ifname : "net\(i)")
            if let other = seen[name] {
                throw .invalidConfig("interface name \(name) is used twice, by \(other) and \(e.network)")
            }
            seen[name] = e.network
            out.append((e, name))
        }
        return out
    }

    static func capabilityArgs(_ e: Entry, base: JSONObject) -> JSONObject {
        var args = base
        guard let s = e.selection, !e.isDefault else { return args }
        if let p = s.portMappings { args["portMappings"] = .array(p) }
        if let b = s.bandwidth { args["bandwidth"] = .object(b) }
        if !s.ips.isEmpty { args["ips"] = .array(s.ips.map(JSON.string)) }
        if let mac = s.mac { args["mac"] = .string(mac) }
        if let guid = s.infinibandGUID { args["infinibandGUID"] = .string(guid) }
        if let id = s.deviceID { args["deviceID"] = .string(id) }
        return args
    }

    /// Multus passes the requests in CNI_ARGS too (deprecated there, still read by some IPAMs), for every attachment.
    static func cniArgs(_ s: NetworkSelection?) -> [String] {
        guard let s else { return [] }
        var out: [String] = []
        if let mac = s.mac { out.append("MAC=\(mac)") }
        if !s.ips.isEmpty { out.append("IP=" + s.ips.joined(separator: ",")) }
        return out
    }
}
