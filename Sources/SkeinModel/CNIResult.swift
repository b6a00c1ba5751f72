// The ADD result, one model for every supported version; the JSON shape is chosen on output.
//
// Shapes follow the reference Go types: pkg/types/040 (0.3.0–0.4.0) and pkg/types/100 (1.0.0, 1.1.0),
// with the per-version member sets of SPEC.md: interface mtu/socketPath/pciID and route
// mtu/advmss/priority/table/scope are new in 1.1.0, so older shapes leave them out.

public struct CNIResult: Equatable, Sendable {
    public struct Interface: Equatable, Sendable {
        public var name: String
        public var mac: String?
        public var mtu: Int?
        public var sandbox: String?
        public var socketPath: String?
        public var pciID: String?

        public init(name: String, mac: String? = nil, mtu: Int? = nil, sandbox: String? = nil,
                    socketPath: String? = nil, pciID: String? = nil) {
            self.name = name; self.mac = mac; self.mtu = mtu; self.sandbox = sandbox
            self.socketPath = socketPath; self.pciID = pciID
        }
    }

    public struct IPConfig: Equatable, Sendable {
        /// As given, host bits kept: "10.1.0.5/16" is both the address and its subnet.
        public var address: IPNetwork
        public var gateway: IPAddress?
        /// Index into `interfaces`; absent in IPAM results.
        public var interface: Int?

        public init(address: IPNetwork, gateway: IPAddress? = nil, interface: Int? = nil) {
            self.address = address; self.gateway = gateway; self.interface = interface
        }
    }

    public struct Route: Equatable, Sendable {
        public var dst: IPNetwork
        public var gw: IPAddress?
        public var mtu: Int?
        public var advmss: Int?
        public var priority: Int?
        public var table: Int?
        public var scope: Int?

        public init(dst: IPNetwork, gw: IPAddress? = nil, mtu: Int? = nil, advmss: Int? = nil,
                    priority: Int? = nil, table: Int? = nil, scope: Int? = nil) {
            self.dst = dst; self.gw = gw; self.mtu = mtu; self.advmss = advmss
            self.priority = priority; self.table = table; self.scope = scope
        }
    }

    public struct DNS: Equatable, Sendable {
        public var nameservers: [String]
        public var domain: String?
        public var search: [String]
        public var options: [String]

        public init(nameservers: [String] = [], domain: String? = nil, search: [String] = [], options: [String] = []) {
            self.nameservers = nameservers; self.domain = domain; self.search = search; self.options = options
        }

        public var isEmpty: Bool { nameservers.isEmpty && (domain ?? "").isEmpty && search.isEmpty && options.isEmpty }
    }

    public var interfaces: [Interface]
    public var ips: [IPConfig]
    public var routes: [Route]
    public var dns: DNS

    public init(interfaces: [Interface] = [], ips: [IPConfig] = [], routes: [Route] = [], dns: DNS = DNS()) {
        self.interfaces = interfaces; self.ips = ips; self.routes = routes; self.dns = dns
    }
}

// MARK: - Output

extension CNIResult {
    enum Shape { case v04x, v100, v110 }

    /// An unparseable version gets the newest shape; callers pass a version already validated.
    static func shape(for version: String) -> Shape {
        guard let v = CNIVersion(version) else { return .v110 }
        if v < CNIVersion(1, 0, 0) { return .v04x }
        return v < CNIVersion(1, 1, 0) ? .v100 : .v110
    }

    /// Key order is the Go struct field order with `cniVersion` first. Empty lists are left out
    /// (`omitempty`). `dns` is a struct in the Go types, which `omitempty` never omits, so 0.x
    /// always prints `"dns":{}`; types100 deletes an empty `dns` in its MarshalJSON, so 1.x omits it.
    public func json(version: String) -> JSON {
        let shape = CNIResult.shape(for: version)
        var out = JSONObject([("cniVersion", .string(version))])
        if !interfaces.isEmpty { out["interfaces"] = .array(interfaces.map { $0.json(shape) }) }
        if !ips.isEmpty { out["ips"] = .array(ips.map { $0.json(shape) }) }
        if !routes.isEmpty { out["routes"] = .array(routes.map { $0.json(shape) }) }
        if shape == .v04x || !dns.isEmpty { out["dns"] = dns.json() }
        return .object(out)
    }
}

/// Go's `int` with `omitempty` drops zero as well as absence.
private func putNonZero(_ o: inout JSONObject, _ key: String, _ v: Int?) {
    if let v, v != 0 { o[key] = .int(v) }
}

private func putNonEmpty(_ o: inout JSONObject, _ key: String, _ v: String?) {
    if let v, !v.isEmpty { o[key] = .string(v) }
}

extension CNIResult.Interface {
    func json(_ shape: CNIResult.Shape) -> JSON {
        var o = JSONObject([("name", .string(name))])
        putNonEmpty(&o, "mac", mac)
        if shape == .v110 { putNonZero(&o, "mtu", mtu) }
        putNonEmpty(&o, "sandbox", sandbox)
        if shape == .v110 {
            putNonEmpty(&o, "socketPath", socketPath)
            putNonEmpty(&o, "pciID", pciID)
        }
        return .object(o)
    }
}

extension CNIResult.IPConfig {
    /// `interface` is a pointer in Go: index 0 is printed, only absence is omitted.
    func json(_ shape: CNIResult.Shape) -> JSON {
        var o = JSONObject()
        if shape == .v04x { o["version"] = .string(address.address.isV4 ? "4" : "6") }
        if let interface { o["interface"] = .int(interface) }
        o["address"] = .string(address.description)
        if let gateway { o["gateway"] = .string(gateway.description) }
        return .object(o)
    }
}

extension CNIResult.Route {
    /// `table` and `scope` are pointers in Go (0 is meaningful: scope global); the rest are ints.
    func json(_ shape: CNIResult.Shape) -> JSON {
        var o = JSONObject([("dst", .string(dst.description))])
        if let gw { o["gw"] = .string(gw.description) }
        if shape == .v110 {
            putNonZero(&o, "mtu", mtu)
            putNonZero(&o, "advmss", advmss)
            putNonZero(&o, "priority", priority)
            if let table { o["table"] = .int(table) }
            if let scope { o["scope"] = .int(scope) }
        }
        return .object(o)
    }
}

extension CNIResult.DNS {
    func json() -> JSON {
        var o = JSONObject()
        if !nameservers.isEmpty { o["nameservers"] = .array(nameservers.map { .string($0) }) }
        putNonEmpty(&o, "domain", domain)
        if !search.isEmpty { o["search"] = .array(search.map { .string($0) }) }
        if !options.isEmpty { o["options"] = .array(options.map { .string($0) }) }
        return .object(o)
    }
}
