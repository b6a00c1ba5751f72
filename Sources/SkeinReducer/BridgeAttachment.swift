import SkeinModel

// The reference `bridge` plugin's behaviour as desired state: a bridge (created or adopted), a veth
// pair with the host end on the bridge and the peer created directly inside the container, the
// IPAM addresses and routes inside, gateway addresses on the bridge when isGateway.

enum BridgeAttachment {
    static func build(_ r: AddRequested, lookup: some AllocationLookup) -> Result<BuiltAttachment, BuildFailure> {
        let conf: BridgeConfig
        do throws(CNIError) {
            conf = try BridgeConfig.parse(plugin: r.plugin, envMAC: r.cniArgsMAC)
        } catch {
            return .failure(BuildFailure(code: error.code, message: error.msg))
        }
        let alloc: HostLocalAllocation
        switch Attachments.allocate(r, ipam: r.plugin["ipam"], lookup: lookup) {
        case .success(let v): alloc = v.1
        case .failure(let f): return .failure(f)
        }
        let spec = makeSpec(r, conf: conf, alloc: alloc)
        var resultRoutes = alloc.routes.map { RouteSpec(dst: $0.dst, gateway: $0.gw) }
        if conf.isDefaultGateway {
            for ip in alloc.ips {
                guard let gw = ip.gateway else { continue }
                let dst = IPNetwork(address: gw.isV4 ? IPAddress.v4(0) : IPAddress.v6(0, 0), prefixLength: 0)!
                if !resultRoutes.contains(where: { $0.dst == dst }) { resultRoutes.append(RouteSpec(dst: dst, gateway: gw)) }
            }
        }
        return .success(BuiltAttachment(
            pluginType: "bridge", spec: spec,
            addresses: alloc.ips.map { HeldAddress(address: $0.address, gateway: $0.gateway) },
            cursors: alloc.cursors, resultRoutes: resultRoutes, dns: dnsOf(r.plugin)))
    }

    static func makeSpec(_ r: AddRequested, conf: BridgeConfig, alloc: HostLocalAllocation) -> AttachmentSpec {
        let mtu = conf.mtu.map { UInt32($0) }
        let bridgeName = conf.bridge.value
        let hostName = Naming.hostVeth(r.key, network: r.network)
        var bridge = LinkSpec(name: bridgeName, namespace: .host, kind: .bridge, mac: Naming.bridgeMAC(bridgeName),
                              mtu: mtu, promisc: conf.promiscMode, forceAddress: conf.forceAddress, shared: true)
        var sysctls: [SysctlSpec] = []
        if conf.isGateway {
            for ip in alloc.ips {
                guard let gw = ip.gateway, let a = IPNetwork(address: gw, prefixLength: ip.address.prefixLength) else { continue }
                bridge.addresses.append(a)
                let key = gw.isV4 ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding"
                let s = SysctlSpec(key: key, value: "1", namespace: .host)
                if !sysctls.contains(s) { sysctls.append(s) }
            }
        }
        let host = LinkSpec(name: hostName, namespace: .host, kind: .veth(peer: r.key.ifname),
                            mac: Naming.hostMAC(r.key, network: r.network), mtu: mtu, master: bridgeName,
                            hairpin: conf.hairpinMode)
        let container = LinkSpec(name: r.key.ifname, namespace: .container, kind: .vethPeer,
                                 mac: conf.mac.flatMap(MACAddress.init) ?? Naming.containerMAC(r.key, network: r.network), mtu: mtu,
                                 addresses: alloc.ips.map(\.address), routes: kernelRoutes(conf: conf, alloc: alloc))
        return AttachmentSpec(links: [bridge, host, container], sysctls: sysctls)
    }

    /// Routes as installed in the container: an IPAM route without a gateway goes via the gateway
    /// of its family (the reference ipam.ConfigureIface does the same); isDefaultGateway adds a
    /// default route via the gateway.
    static func kernelRoutes(conf: BridgeConfig, alloc: HostLocalAllocation) -> [RouteSpec] {
        let gw4 = alloc.ips.first { $0.address.address.isV4 }?.gateway
        let gw6 = alloc.ips.first { !$0.address.address.isV4 }?.gateway
        var routes: [RouteSpec] = []
        for r in alloc.routes {
            let gw = r.gw ?? (r.dst.address.isV4 ? gw4 : gw6)
            routes.append(RouteSpec(dst: r.dst, gateway: gw))
        }
        if conf.isDefaultGateway {
            for gw in [gw4, gw6].compactMap({ $0 }) {
                let dst = IPNetwork(address: gw.isV4 ? IPAddress.v4(0) : IPAddress.v6(0, 0), prefixLength: 0)!
                if !routes.contains(where: { $0.dst == dst }) { routes.append(RouteSpec(dst: dst, gateway: gw)) }
            }
        }
        return routes
    }

    static func dnsOf(_ plugin: JSON) -> JSON? {
        guard let dns = plugin["dns"], let o = dns.object, !o.isEmpty else { return nil }
        return dns
    }
}
