import SkeinModel

// The reference `bridge` plugin's behaviour as desired state: a bridge (created or adopted), a veth
// pair with the host end on the bridge and the peer created directly inside the container, the
// IPAM addresses and routes inside, gateway addresses on the bridge when isGateway.

enum BridgeAttachment {
    static func build(_ r: AddRequested, lookup: some AllocationLookup) -> Result<BuiltAttachment, BuildFailure> {
        do throws(BuildFailure) {
            let conf = try parsed { () throws(CNIError) in try BridgeConfig.parse(plugin: configForParse(r.plugin), envMAC: r.cniArgsMAC) }
            // The real ipam: `conf` was read with the stand-in.
            let addressing = try Attachments.address(r, ipam: r.plugin["ipam"] ?? conf.ipam, lookup: lookup)
            var resultRoutes = addressing.resultRoutes
            for route in defaultRoutes(conf, addressing) where !resultRoutes.contains(where: { $0.dst == route.dst }) {
                resultRoutes.append(route)
            }
            return .success(BuiltAttachment(
                pluginType: "bridge", spec: makeSpec(r, conf: conf, addressing: addressing), addresses: addressing.ips,
                cursors: addressing.cursors, resultRoutes: resultRoutes, dns: dnsOf(r.plugin),
                holdsAddresses: addressing.held))
        } catch {
            return .failure(error)
        }
    }

    /// BridgeConfig checks that the IPAM type is one it knows, and static is handled here like
    /// host-local: it reads the config with a stand-in IPAM type and keeps the real `ipam`.
    static func configForParse(_ plugin: JSON) -> JSON {
        guard plugin["ipam"]?["type"]?.string == "static", var o = plugin.object, var ipam = o["ipam"]?.object else {
            return plugin
        }
        ipam["type"] = .string("host-local")
        o["ipam"] = .object(ipam)
        return .object(o)
    }

    static func makeSpec(_ r: AddRequested, conf: BridgeConfig, addressing: Addressing) -> AttachmentSpec {
        let mtu = conf.mtu.map { UInt32($0) }
        let bridgeName = conf.bridge.value
        let hostName = Naming.hostVeth(r.key, network: r.network)
        var bridge = LinkSpec(name: bridgeName, namespace: .host, kind: .bridge, mac: Naming.bridgeMAC(bridgeName),
                              mtu: mtu, promisc: conf.promiscMode, forceAddress: conf.forceAddress, shared: true)
        var sysctls: [SysctlSpec] = []
        if conf.isGateway {
            for ip in addressing.ips {
                guard let gw = ip.gateway, let a = IPNetwork(address: gw, prefixLength: ip.address.prefixLength) else { continue }
                if !bridge.addresses.contains(a) { bridge.addresses.append(a) }
                let key = gw.isV4 ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding"
                let s = SysctlSpec(key: key, value: "1", namespace: .host)
                if !sysctls.contains(s) { sysctls.append(s) }
            }
        }
        let host = LinkSpec(name: hostName, namespace: .host, kind: .veth(peer: r.key.ifname),
                            mac: Naming.hostMAC(r.key, network: r.network), mtu: mtu, master: bridgeName,
                            hairpin: conf.hairpinMode)
        var routes = addressing.kernelRoutes
        for route in defaultRoutes(conf, addressing) where !routes.contains(where: { $0.dst == route.dst }) {
            routes.append(route)
        }
        let container = LinkSpec(name: r.key.ifname, namespace: .container, kind: .vethPeer,
                                 mac: conf.mac.flatMap(MACAddress.init) ?? Naming.containerMAC(r.key, network: r.network), mtu: mtu,
                                 addresses: addressing.ips.map(\.address), routes: routes)
        return AttachmentSpec(links: [bridge, host, container], sysctls: sysctls)
    }

    /// isDefaultGateway: a default route via the first gateway of each family.
    static func defaultRoutes(_ conf: BridgeConfig, _ addressing: Addressing) -> [RouteSpec] {
        guard conf.isDefaultGateway else { return [] }
        var out: [RouteSpec] = []
        for ip in addressing.ips {
            guard let gw = ip.gateway else { continue }
            let dst = IPNetwork(address: gw.isV4 ? IPAddress.v4(0) : IPAddress.v6(0, 0), prefixLength: 0)!
            if !out.contains(where: { $0.dst == dst }) { out.append(RouteSpec(dst: dst, gateway: gw)) }
        }
        return out
    }
}
