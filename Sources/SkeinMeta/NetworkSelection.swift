// The pod's `k8s.v1.cni.cncf.io/networks` annotation (NPWG spec v1.3 §4.1.2), in both forms:
// the comma form `[ns/]name[@ifname]` and the JSON list. Validated here once, so that what
// reaches a delegate (runtimeConfig.ips, mac, CNI_ARGS) is well formed.

import SkeinModel

/// One requested attachment: an element of the networks annotation (or of the default-network one).
public struct NetworkSelection: Equatable, Sendable {
    public var namespace: String
    public var name: String
    /// The requested interface name in the pod (`interface`, `@ifname`); nil lets the plan name it.
    public var interface: String?
    /// IPs or CIDRs for `runtimeConfig.ips` and CNI_ARGS `IP=`.
    public var ips: [String]
    /// For `runtimeConfig.mac` and CNI_ARGS `MAC=`, lower-cased.
    public var mac: String?
    /// Nil when absent. An empty list makes this network's own default route the pod's.
    public var defaultRoute: [IPAddress]?
    /// Merged into every plugin's `args.cni`.
    public var cniArgs: JSONObject?
    public var portMappings: [JSON]?
    public var bandwidth: JSONObject?
    public var infinibandGUID: String?
    public var deviceID: String?

    public static let annotationKey = "k8s.v1.cni.cncf.io/networks"
    public static let defaultNetworkAnnotationKey = "v1.multus-cni.io/default-network"

    public init(namespace: String, name: String, interface: String? = nil) {
        self.namespace = namespace
        self.name = name
        self.interface = interface
        self.ips = []
    }

    /// "namespace/name", how Multus names the network in events and network-status.
    public var networkName: String { "\(namespace)/\(name)" }

    /// The annotation's elements in order; an empty (or all-blank) annotation selects nothing.
    /// `source` names the annotation in error messages.
    public static func parse(_ annotation: String, defaultNamespace: String,
                             source: String = annotationKey) throws(CNIError) -> [NetworkSelection] {
        if annotation.trimmedWhitespace.isEmpty { return [] }
        // Multus' test: any of these characters means the JSON form.
        if annotation.contains(where: { $0 == "[" || $0 == "{" || $0 == "\"" }) {
            return try parseJSON(annotation, defaultNamespace: defaultNamespace, source: source)
        }
        var out: [NetworkSelection] = []
        for item in annotation.split(separator: ",", omittingEmptySubsequences: false) {
            out.append(try parseItem(item.trimmedWhitespace, defaultNamespace: defaultNamespace, source: source))
        }
        return out
    }

    /// `[namespace/]name[@interface]`.
    static func parseItem(_ item: String, defaultNamespace: String, source: String) throws(CNIError) -> NetworkSelection {
        let ctx = "\(source) element \"\(item)\""
        guard !item.isEmpty else { throw .invalidConfig("\(source) has an empty element") }
        let slash = item.split(separator: "/", omittingEmptySubsequences: false)
        guard slash.count <= 2 else { throw .invalidConfig("\(ctx) has more than one '/'") }
        let namespace = slash.count == 2 ? slash[0].trimmedWhitespace : ""
        let at = slash.last!.split(separator: "@", omittingEmptySubsequences: false)
        guard at.count <= 2 else { throw .invalidConfig("\(ctx) has more than one '@'") }
        var s = NetworkSelection(namespace: namespace.isEmpty ? defaultNamespace : namespace, name: at[0].trimmedWhitespace)
        try validateName(s.name, what: "\(ctx): network name")
        if !namespace.isEmpty { try validateName(namespace, what: "\(ctx): namespace") }
        // As Multus, "/name" and "name@" mean the default namespace and no interface request.
        if at.count == 2, case let ifname = at[1].trimmedWhitespace, !ifname.isEmpty {
            try validateInterface(ifname, what: "\(ctx): interface name")
            s.interface = ifname
        }
        return s
    }

    static func parseJSON(_ text: String, defaultNamespace: String, source: String) throws(CNIError) -> [NetworkSelection] {
        let json: JSON
        do { json = try JSON.parse(text) } catch {
            throw .invalidConfig("\(source) is not valid JSON", details: error.description)
        }
        guard let list = json.array else {
            throw .invalidConfig("\(source) must be a JSON list of network selection objects", details: "got \(json.typeName)")
        }
        var out: [NetworkSelection] = []
        for (i, item) in list.enumerated() {
            guard let object = item.object else {
                throw .invalidConfig("\(source)[\(i)] must be an object", details: "got \(item.typeName)")
            }
            out.append(try parseElement(Members(object, context: "\(source)[\(i)]."), defaultNamespace: defaultNamespace))
        }
        return out
    }

    static func parseElement(_ m: Members, defaultNamespace: String) throws(CNIError) -> NetworkSelection {
        let name = try m.string("name") ?? ""
        try validateName(name, what: m.context + "name")
        let namespace = try m.string("namespace") ?? ""
        if !namespace.isEmpty { try validateName(namespace, what: m.context + "namespace") }
        var s = NetworkSelection(namespace: namespace.isEmpty ? defaultNamespace : namespace, name: name)
        // `interfaceRequest` is the pre-3.2 spelling; Multus still honours it when `interface` is unset.
        var ifname = try m.string("interface") ?? ""
        if ifname.isEmpty { ifname = try m.string("interfaceRequest") ?? "" }
        if !ifname.isEmpty {
            try validateInterface(ifname, what: m.context + "interface")
            s.interface = ifname
        }
        s.ips = try ips(m)
        if let mac = try m.string("mac"), !mac.isEmpty { s.mac = try BridgeConfig.validMAC(mac, key: m.context + "mac") }
        s.defaultRoute = try gateways(m)
        s.cniArgs = try m.object("cni-args")
        s.portMappings = try portMappings(m)
        s.bandwidth = try bandwidth(m)
        if let guid = try m.string("infiniband-guid"), !guid.isEmpty { s.infinibandGUID = try infinibandGUID(guid, m) }
        if let id = try m.string("deviceID"), !id.isEmpty { s.deviceID = id }
        _ = try m.string("ipam-claim-reference")
        return s
    }
}

// MARK: - Member validation

extension NetworkSelection {
    static func validateName(_ name: String, what: String) throws(CNIError) {
        guard !name.isEmpty else { throw .invalidConfig("\(what) is missing") }
        guard KubeName.isLabel(name) else {
            throw .invalidConfig("\(what) must be a DNS-1123 label (lower-case alphanumerics and '-', starting and ending alphanumeric, at most 63)",
                                 details: name)
        }
    }

    /// The kernel's rules (at most 15 bytes, no '/', ':' or whitespace, not "." or ".."), as code 7.
    static func validateInterface(_ ifname: String, what: String) throws(CNIError) {
        do { _ = try InterfaceName(validating: ifname) } catch {
            throw .invalidConfig("\(what) is not a valid interface name: \(error.msg)", details: ifname)
        }
    }

    static func ips(_ m: Members) throws(CNIError) -> [String] {
        let list = try m.strings("ips")
        for (i, ip) in list.enumerated() {
            let valid = ip.contains("/") ? IPNetwork(ip) != nil : IPAddress(ip) != nil
            guard valid else { throw .invalidConfig("\(m.context)ips[\(i)] is not an IP address or CIDR", details: ip) }
        }
        return list
    }

    static func gateways(_ m: Members) throws(CNIError) -> [IPAddress]? {
        guard let list = try m.optionalStrings("default-route") else { return nil }
        var out: [IPAddress] = []
        for (i, text) in list.enumerated() {
            guard let ip = IPAddress(text) else {
                throw .invalidConfig("\(m.context)default-route[\(i)] is not an IP address", details: text)
            }
            out.append(ip)
        }
        return out
    }

    /// Go decodes these into typed structs, so a wrong type fails the whole annotation there too.
    static func portMappings(_ m: Members) throws(CNIError) -> [JSON]? {
        guard let list = try m.array("portMappings") else { return nil }
        for (i, item) in list.enumerated() {
            guard let o = item.object else { throw m.fail("portMappings[\(i)]", "an object", item) }
            let e = Members(o, context: "\(m.context)portMappings[\(i)].")
            for key in ["hostPort", "containerPort"] {
                if let port = try e.int(key), !(0...65535).contains(port) {
                    throw .invalidConfig("\(e.context)\(key) must be a port number (0-65535)", details: "\(port)")
                }
            }
            _ = try e.string("protocol")
            if let hostIP = try e.string("hostIP"), !hostIP.isEmpty, IPAddress(hostIP) == nil {
                throw .invalidConfig("\(e.context)hostIP is not an IP address", details: hostIP)
            }
        }
        return list
    }

    static func bandwidth(_ m: Members) throws(CNIError) -> JSONObject? {
        guard let o = try m.object("bandwidth") else { return nil }
        let b = Members(o, context: m.context + "bandwidth.")
        for key in ["ingressRate", "ingressBurst", "egressRate", "egressBurst"] {
            if let v = try b.int(key), v < 0 { throw .invalidConfig("\(b.context)\(key) must not be negative", details: "\(v)") }
        }
        return o
    }

    /// An InfiniBand GUID: 8 octets (or the 20-octet IPoIB hardware address), ':'- or '-'-separated hex.
    static func infinibandGUID(_ text: String, _ m: Members) throws(CNIError) -> String {
        let separator: Character = text.contains("-") ? "-" : ":"
        let parts = text.split(separator: separator, omittingEmptySubsequences: false)
        let valid = [6, 8, 20].contains(parts.count) && parts.allSatisfy { $0.utf8.count == 2 && $0.allSatisfy(\.isHexDigit) }
        guard valid else { throw .invalidConfig("\(m.context)infiniband-guid is not a hardware address", details: text) }
        return text
    }
}
