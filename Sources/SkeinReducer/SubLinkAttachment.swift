import SkeinModel

// macvlan, ipvlan and vlan: one link on a parent device, created directly in the container under
// CNI_IFNAME (the reference creates it under a temporary name and renames it; creating it in the
// container with its final name needs no rename and cannot collide with a host name). IPAM
// addresses and routes as ipam.ConfigureIface installs them; macvlan and ipvlan with IPAM also set
// arp_notify on the interface, as the reference does.

enum SubLinkAttachment {
    static func macvlan(_ r: AddRequested, lookup: some AllocationLookup) throws(BuildFailure) -> AddDecision {
        let conf = try parsed { () throws(CNIError) in try MacvlanConfig.parse(plugin: r.plugin, envMAC: r.cniArgsMAC) }
        let parent = try parentRef(r, master: conf.master, linkInContainer: conf.linkInContainer)
        // Without a configured MAC the derived one: deterministic, so teardown can tell this
        // link from a foreign one of the same name.
        let mac = conf.mac.flatMap(MACAddress.init) ?? Naming.containerMAC(r.key, network: r.network)
        let link = LinkSpec(name: r.key.ifname, namespace: .container, kind: .macvlan(parent: parent, mode: conf.mode),
                            mac: mac, mtu: conf.mtu.map(UInt32.init))
        let addressing = try conf.ipam.map { ipam throws(BuildFailure) in try Attachments.address(r, ipam: ipam, lookup: lookup) }
        return Attachments.single(r, type: "macvlan", link, addressing, arpNotify: true, dns: dnsOf(r.plugin))
    }

    static func ipvlan(_ r: AddRequested, lookup: some AllocationLookup) throws(BuildFailure) -> AddDecision {
        let conf = try parsed { () throws(CNIError) in try IPvlanConfig.parse(plugin: r.plugin) }
        guard let ipam = conf.ipam else {
            throw .invalid("ipvlan requires \"ipam\" with a \"type\" unless it is chained after a plugin that assigned addresses")
        }
        let parent = try parentRef(r, master: conf.master, linkInContainer: conf.linkInContainer)
        let link = LinkSpec(name: r.key.ifname, namespace: .container, kind: .ipvlan(parent: parent, mode: conf.mode),
                            mtu: conf.mtu.map(UInt32.init))
        let addressing = try Attachments.address(r, ipam: ipam, lookup: lookup)
        return Attachments.single(r, type: "ipvlan", link, addressing, arpNotify: true, dns: dnsOf(r.plugin))
    }

    static func vlan(_ r: AddRequested, lookup: some AllocationLookup) throws(BuildFailure) -> AddDecision {
        let conf = try parsed { () throws(CNIError) in try VlanConfig.parse(plugin: r.plugin) }
        guard let ipam = conf.ipam else { throw .invalid("vlan requires \"ipam\" with a \"type\"") }
        let parent = ParentRef(name: conf.master, namespace: conf.linkInContainer ? .container : .host)
        let link = LinkSpec(name: r.key.ifname, namespace: .container, kind: .vlan(parent: parent, id: conf.vlanId),
                            mtu: conf.mtu.map(UInt32.init))
        let addressing = try Attachments.address(r, ipam: ipam, lookup: lookup)
        return Attachments.single(r, type: "vlan", link, addressing, arpNotify: false, dns: dnsOf(r.plugin))
    }

    /// The reference's chained mode: an ipvlan without IPAM after a plugin that assigned
    /// addresses takes those addresses (and the previous result's routes) onto a new ipvlan, whose
    /// master defaults to the previous result's only interface; its result lists only the ipvlan.
    static func chainedIPvlan(_ r: AddRequested, _ plugin: JSON, onto d: AddDecision) throws(BuildFailure) -> AddDecision {
        let conf = try parsed { () throws(CNIError) in try IPvlanConfig.parse(plugin: plugin) }
        guard conf.ipam == nil else {
            throw .invalid("an ipvlan after the first plugin of a chain takes the previous plugin's addresses and must not have \"ipam\"")
        }
        guard !d.addresses.isEmpty else { throw .invalid("chained ipvlan: the previous plugin assigned no addresses") }
        var master = conf.master
        if master == nil {
            let previous = ResultBuilder.resultLinks(d.spec)
            guard previous.count == 1 else {
                throw .invalid("chained master failure. PrevResult lacks a single named interface")
            }
            master = previous[0].name
        }
        guard d.spec.link(named: r.key.ifname, in: .container) == nil else {
            throw .invalid("chained ipvlan would create \(r.key.ifname) in the container a second time")
        }
        let addressing = Addressing(ips: d.addresses, routes: d.resultRoutes.map { IPAMRoute(dst: $0.dst, gw: $0.gateway) },
                                    held: d.holdsAddresses)
        var out = d
        out.spec.links.append(LinkSpec(
            name: r.key.ifname, namespace: .container,
            kind: .ipvlan(parent: ParentRef(name: master!, namespace: conf.linkInContainer ? .container : .host), mode: conf.mode),
            mtu: conf.mtu.map(UInt32.init), addresses: d.addresses.map(\.address), routes: addressing.kernelRoutes))
        out.spec.sysctls.append(arpNotify(r.key.ifname))
        out.dns = dnsOf(plugin)
        return out
    }

    /// The configured master, else the default route's interface the engine observed (in the
    /// container's namespace with linkInContainer, as newer reference releases look it up).
    static func parentRef(_ r: AddRequested, master: String?, linkInContainer: Bool) throws(BuildFailure) -> ParentRef {
        let ns: NamespaceRef = linkInContainer ? .container : .host
        if let master { return ParentRef(name: master, namespace: ns) }
        let fact = linkInContainer ? "containerDefaultRouteInterface" : "defaultRouteInterface"
        guard let name = r.facts?[fact]?.string, !name.isEmpty else {
            throw .invalid("no \"master\" given and no default route interface found in the \(linkInContainer ? "container" : "host")")
        }
        return ParentRef(name: name, namespace: ns)
    }

    static func arpNotify(_ ifname: String) -> SysctlSpec {
        SysctlSpec(key: "net/ipv4/conf/\(ifname)/arp_notify", value: "1", namespace: .container)
    }
}

extension Attachments {
    /// A decision whose spec is one container link, with IPAM's addresses and routes on it;
    /// `addressing` nil is layer 2 only (the link is just brought up).
    static func single(_ r: AddRequested, type: String, _ link: LinkSpec, _ addressing: Addressing?,
                       arpNotify: Bool, dns: JSON?) -> AddDecision {
        var link = link
        var sysctls: [SysctlSpec] = []
        if let addressing {
            link.addresses = addressing.ips.map(\.address)
            link.routes = addressing.kernelRoutes
            if arpNotify { sysctls.append(SubLinkAttachment.arpNotify(r.key.ifname)) }
        }
        return AddDecision(pluginType: type, spec: AttachmentSpec(links: [link], sysctls: sysctls),
                           addresses: addressing?.ips ?? [], cursors: addressing?.cursors ?? [:],
                           resultRoutes: addressing?.resultRoutes ?? [], dns: dns, holdsAddresses: addressing?.held ?? true)
    }
}

/// The plugin config's own `dns`, which the reference interface plugins put in their result.
func dnsOf(_ plugin: JSON) -> JSON? {
    guard let dns = plugin["dns"], let o = dns.object, !o.isEmpty else { return nil }
    return dns
}
