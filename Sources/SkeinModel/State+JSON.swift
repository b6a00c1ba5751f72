// Row encodings of the materialized state (attachments) and of the desired kernel spec inside it.

extension AttachmentRecord {
    public var json: JSON {
        var b = ObjectBuilder()
        b.set("key", key.json)
        b.set("network", network)
        b.set("netns", netns)
        b.set("type", pluginType)
        b.set("status", status.rawValue)
        b.set("pod", pod?.json)
        b.set("process", process.json)
        b.set("spec", spec.json)
        b.set("addresses", JSON.array(addresses.map(\.json)))
        if !resultRoutes.isEmpty { b.set("routes", JSON.array(resultRoutes.map(\.json))) }
        b.set("dns", dns)
        b.set("result", result)
        b.set("requestSeq", JSON.number(String(requestSeq)))
        b.set("updatedSeq", JSON.number(String(updatedSeq)))
        b.set("lastError", lastError)
        if !exec.isEmpty { b.set("exec", JSON.array(exec)) }
        b.set("cniArgs", cniArgs)
        return b.json
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> AttachmentRecord {
        let json: JSON
        do { json = try JSON.parse(bytes, limits: .stored) } catch { throw DecodeError("attachment", error.description) }
        return try AttachmentRecord(json: json)
    }

    public init(json: JSON) throws(DecodeError) {
        let f = try Fields(json, path: "attachment")
        let statusText = try f.string("status")
        guard let status = AttachmentStatus(rawValue: statusText) else {
            throw DecodeError("attachment.status", "unknown status \"\(statusText)\"")
        }
        var held: [HeldAddress] = []
        for a in try f.array("addresses") { held.append(try HeldAddress(json: a, path: "attachment.addresses")) }
        var routes: [RouteSpec] = []
        for r in try f.array("routes") { routes.append(try RouteSpec(json: r, path: "attachment.routes")) }
        guard let rs = try f.raw("requestSeq").uint64, let us = try f.raw("updatedSeq").uint64 else {
            throw DecodeError("attachment.requestSeq", "expected an unsigned integer")
        }
        self.init(key: try AttachmentKey(json: try f.raw("key"), path: "attachment.key"),
                  network: try f.string("network"), netns: try f.string("netns"), pluginType: try f.string("type"),
                  status: status,
                  pod: f.has("pod") ? try PodRef(json: try f.raw("pod"), path: "attachment.pod") : nil,
                  process: try ProcessRef(json: try f.raw("process"), path: "attachment.process"),
                  spec: try AttachmentSpec(json: try f.raw("spec")), addresses: held, resultRoutes: routes,
                  dns: f.has("dns") ? try f.raw("dns") : nil, result: f.has("result") ? try f.raw("result") : nil,
                  requestSeq: rs, updatedSeq: us, lastError: try f.optString("lastError"),
                  exec: try f.array("exec"), cniArgs: try f.optString("cniArgs"))
    }
}

extension RouteSpec {
    public var json: JSON {
        var b = ObjectBuilder()
        b.set("dst", dst.description)
        b.set("gw", gateway?.description)
        b.set("mtu", mtu)
        b.set("priority", priority)
        b.set("table", table)
        b.set("scope", scope.map { Int($0) })
        b.set("src", src?.description)
        return b.json
    }

    public init(json: JSON, path: String) throws(DecodeError) {
        let f = try Fields(json, path: path)
        let scope = try f.optInt("scope")
        self.init(dst: try f.cidr("dst"), gateway: try f.optIP("gw"), mtu: try f.uint32("mtu"),
                  priority: try f.uint32("priority"), table: try f.uint32("table"),
                  scope: scope.map { UInt8(truncatingIfNeeded: $0) }, src: try f.optIP("src"))
    }
}

extension AttachmentSpec {
    public var json: JSON {
        var b = ObjectBuilder()
        b.set("links", JSON.array(links.map(\.json)))
        if !sysctls.isEmpty {
            b.set("sysctls", JSON.array(sysctls.map {
                .obj([("key", .string($0.key)), ("value", .string($0.value)), ("ns", .string($0.namespace.rawValue))])
            }))
        }
        return b.json
    }

    public init(json: JSON) throws(DecodeError) {
        let f = try Fields(json, path: "spec")
        var links: [LinkSpec] = []
        for l in try f.array("links") { links.append(try LinkSpec(json: l)) }
        var sysctls: [SysctlSpec] = []
        for s in try f.array("sysctls") {
            let sf = try Fields(s, path: "spec.sysctls")
            sysctls.append(SysctlSpec(key: try sf.string("key"), value: try sf.string("value"),
                                      namespace: try NamespaceRef.decode(try sf.string("ns"))))
        }
        self.init(links: links, sysctls: sysctls)
    }
}

extension NamespaceRef {
    static func decode(_ s: String) throws(DecodeError) -> NamespaceRef {
        guard let ns = NamespaceRef(rawValue: s) else { throw DecodeError("ns", "unknown namespace \"\(s)\"") }
        return ns
    }
}

extension LinkSpec {
    public var json: JSON {
        var b = ObjectBuilder()
        b.set("name", name)
        b.set("ns", namespace.rawValue)
        switch kind {
        case .bridge: b.set("kind", "bridge")
        case .veth(let peer): b.set("kind", "veth"); b.set("peer", peer)
        case .vethPeer: b.set("kind", "vethPeer")
        case .macvlan(let p, let mode): b.set("kind", "macvlan"); p.encode(&b); b.set("mode", mode)
        case .ipvlan(let p, let mode): b.set("kind", "ipvlan"); p.encode(&b); b.set("mode", mode)
        case .vlan(let p, let id): b.set("kind", "vlan"); p.encode(&b); b.set("vlanId", id)
        case .hostDevice(let o): b.set("kind", "hostDevice"); b.set("origin", o.json)
        case .loopback: b.set("kind", "loopback")
        case .existing: b.set("kind", "existing")
        }
        b.set("mac", mac?.description)
        b.set("mtu", mtu)
        b.set("master", master)
        b.set("up", up)
        b.setIfTrue("hairpin", hairpin)
        b.setIfTrue("promisc", promisc)
        if !addresses.isEmpty { b.set("addresses", JSON.array(addresses.map { .string($0.description) })) }
        if !routes.isEmpty { b.set("routes", JSON.array(routes.map(\.json))) }
        b.setIfTrue("forceAddress", forceAddress)
        b.setIfTrue("shared", shared)
        b.set("allmulti", allmulti.map { JSON.bool($0) })
        b.set("txqlen", txQLen)
        b.setIfTrue("noPrefixRoute", noPrefixRoute)
        return b.json
    }

    public init(json: JSON) throws(DecodeError) {
        let f = try Fields(json, path: "link")
        let kind: LinkKind
        switch try f.string("kind") {
        case "bridge": kind = .bridge
        case "veth": kind = .veth(peer: try f.string("peer"))
        case "vethPeer": kind = .vethPeer
        case "macvlan": kind = .macvlan(parent: try ParentRef(f), mode: try f.string("mode"))
        case "ipvlan": kind = .ipvlan(parent: try ParentRef(f), mode: try f.string("mode"))
        case "vlan": kind = .vlan(parent: try ParentRef(f), id: try f.int("vlanId"))
        case "hostDevice": kind = .hostDevice(try HostDeviceOrigin(json: try f.raw("origin")))
        case "loopback": kind = .loopback
        case "existing": kind = .existing
        case let other: throw DecodeError("link.kind", "unknown link kind \"\(other)\"")
        }
        var addrs: [IPNetwork] = []
        for a in try f.array("addresses") {
            guard let s = a.string, let n = IPNetwork(s) else { throw DecodeError("link.addresses", "invalid CIDR") }
            addrs.append(n)
        }
        var routes: [RouteSpec] = []
        for r in try f.array("routes") { routes.append(try RouteSpec(json: r, path: "link.routes")) }
        self.init(name: try f.string("name"), namespace: try NamespaceRef.decode(try f.string("ns")), kind: kind,
                  mac: try f.mac("mac"), mtu: try f.uint32("mtu"), master: try f.optString("master"),
                  up: try f.bool("up"), hairpin: try f.bool("hairpin"), promisc: try f.bool("promisc"),
                  addresses: addrs, routes: routes, forceAddress: try f.bool("forceAddress"),
                  shared: try f.bool("shared"), allmulti: f.has("allmulti") ? try f.bool("allmulti") : nil,
                  txQLen: try f.uint32("txqlen"), noPrefixRoute: try f.bool("noPrefixRoute"))
    }
}

extension ParentRef {
    func encode(_ b: inout ObjectBuilder) {
        b.set("parent", name)
        b.set("parentNs", namespace.rawValue)
    }

    init(_ f: Fields) throws(DecodeError) {
        self.init(name: try f.string("parent"), namespace: try NamespaceRef.decode(try f.string("parentNs")))
    }
}

extension HostDeviceOrigin {
    public var json: JSON {
        var b = ObjectBuilder()
        b.set("name", name)
        b.set("index", Int(index))
        b.set("mac", mac?.description)
        b.set("mtu", mtu)
        // Optional and absent unless set, so origins recorded before these were observed keep their bytes.
        b.setIfTrue("promisc", promisc)
        b.setIfTrue("allmulti", allmulti)
        b.set("txqlen", txQLen)
        return b.json
    }

    public init(json: JSON) throws(DecodeError) {
        let f = try Fields(json, path: "origin")
        guard let mtu = try f.uint32("mtu") else { throw DecodeError("origin.mtu", "missing") }
        self.init(name: try f.string("name"), index: Int32(truncatingIfNeeded: try f.int("index")),
                  mac: try f.mac("mac"), mtu: mtu, promisc: try f.bool("promisc"), allmulti: try f.bool("allmulti"),
                  txQLen: try f.uint32("txqlen"))
    }
}
