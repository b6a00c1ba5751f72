import SkeinModel

// ptp: a veth pair (host end named and both MACs derived as for bridge, the peer created directly
// in the container) where everything the container sends goes through the gateway. As the
// reference sets it up: the container address without its subnet route; "gw/32 dev ifname scope
// link src ip"; "subnet via gw src ip"; IPAM's routes via the gateway. The host end carries the
// gateway as a /32 (/128) and a host-scoped route to each container address; forwarding is on
// for each family in use.

enum PtpAttachment {
    static let scopeLink: UInt8 = 253
    static let scopeHost: UInt8 = 254

    static func build(_ r: AddRequested, lookup: some AllocationLookup) throws(BuildFailure) -> AddDecision {
        let conf = try parsed { () throws(CNIError) in try PtpConfig.parse(plugin: r.plugin) }
        let addressing = try Attachments.address(r, ipam: conf.ipam, lookup: lookup)
        let mtu = conf.mtu.map(UInt32.init)
        var host = LinkSpec(name: Naming.hostVeth(r.key, network: r.network), namespace: .host,
                            kind: .veth(peer: r.key.ifname), mac: Naming.hostMAC(r.key, network: r.network), mtu: mtu)
        var peer = LinkSpec(name: r.key.ifname, namespace: .container, kind: .vethPeer,
                            mac: Naming.containerMAC(r.key, network: r.network), mtu: mtu,
                            addresses: addressing.ips.map(\.address), noPrefixRoute: true)
        var sysctls: [SysctlSpec] = []
        for ip in addressing.ips {
            guard let gw = ip.gateway else {
                throw .invalid("ptp routes through the gateway: address \(ip.address) has none")
            }
            let a = ip.address.address
            let gwHost = IPNetwork(address: gw, prefixLength: gw.bitWidth)!
            if !host.addresses.contains(gwHost) { host.addresses.append(gwHost) }
            host.routes.append(RouteSpec(dst: IPNetwork(address: a, prefixLength: a.bitWidth)!, scope: scopeHost))
            peer.routes.append(RouteSpec(dst: gwHost, scope: scopeLink, src: a))
            peer.routes.append(RouteSpec(dst: ip.address.masked, gateway: gw, src: a))
            let forward = SysctlSpec(key: a.isV4 ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding", value: "1",
                                     namespace: .host)
            if !sysctls.contains(forward) { sysctls.append(forward) }
        }
        for route in addressing.kernelRoutes where !peer.routes.contains(where: { $0.dst == route.dst && $0.gateway == route.gateway }) {
            peer.routes.append(route)
        }
        return AddDecision(pluginType: "ptp", spec: AttachmentSpec(links: [host, peer], sysctls: sysctls),
                           addresses: addressing.ips, cursors: addressing.cursors, resultRoutes: addressing.resultRoutes,
                           // The config's DNS wins only when it sets something; else IPAM's (static's).
                           dns: dnsOf(r.plugin) ?? addressing.dns, holdsAddresses: addressing.held)
    }
}
