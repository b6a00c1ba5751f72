// The `k8s.v1.cni.cncf.io/network-status` pod annotation (NPWG spec §4.1.2.2), with the field
// order, omissions and always-present `dns` of the nad-client's NetworkStatus type.

import SkeinModel

/// Builds the network-status annotation from a plan's attachments and their delegates' results.
public enum NetworkStatus {
    public static let annotationKey = "k8s.v1.cni.cncf.io/network-status"

    /// The annotation's value: one entry per attachment, in plan order, indented like Multus'.
    public static func annotation(_ attached: [(attachment: MetaAttachment, result: CNIResult)]) -> String {
        JSON.array(attached.map { entry($0.attachment, result: $0.result) }).pretty()
    }

    /// One entry. The interface is the result's sandbox interface named like the attachment (else the
    /// last sandbox interface, as Multus); its IPs are those pointing at it or at no interface.
    /// `gateway` lists the default-route gateways the interface has once the plan's route changes
    /// are applied, so it is present only where the pod's default route is.
    public static func entry(_ attachment: MetaAttachment, result: CNIResult) -> JSON {
        let r = DefaultRoute.apply(attachment, to: result)
        let sandboxed = r.interfaces.indices.filter { !(r.interfaces[$0].sandbox ?? "").isEmpty }
        let index = sandboxed.first { r.interfaces[$0].name == attachment.ifname } ?? sandboxed.last
        var o = JSONObject([("name", .string(attachment.network))])
        if let index { o["interface"] = .string(r.interfaces[index].name) }
        let ips = r.ips.filter { index == nil || $0.interface == nil || $0.interface == index }
        if !ips.isEmpty { o["ips"] = .array(ips.map { .string($0.address.address.description) }) }
        if let index {
            let iface = r.interfaces[index]
            if let mac = iface.mac, !mac.isEmpty { o["mac"] = .string(mac) }
            if let mtu = iface.mtu, mtu != 0 { o["mtu"] = .int(mtu) }
        }
        if attachment.isDefault { o["default"] = .bool(true) }
        o["dns"] = dns(r.dns)
        let gateways = defaultGateways(r, ips: ips)
        if !gateways.isEmpty { o["gateway"] = .array(gateways.map { .string($0.description) }) }
        return .object(o)
    }

    static func dns(_ d: CNIResult.DNS) -> JSON {
        var o = JSONObject()
        if !d.nameservers.isEmpty { o["nameservers"] = .array(d.nameservers.map(JSON.string)) }
        if let domain = d.domain, !domain.isEmpty { o["domain"] = .string(domain) }
        if !d.search.isEmpty { o["search"] = .array(d.search.map(JSON.string)) }
        if !d.options.isEmpty { o["options"] = .array(d.options.map(JSON.string)) }
        return .object(o)
    }

    /// A default route without `gw` goes via the family's IP gateway, as the plugins install it.
    static func defaultGateways(_ r: CNIResult, ips: [CNIResult.IPConfig]) -> [IPAddress] {
        var out: [IPAddress] = []
        for route in r.routes where route.dst.prefixLength == 0 {
            let isV4 = route.dst.address.isV4
            if let gw = route.gw ?? ips.first(where: { $0.gateway?.isV4 == isV4 })?.gateway, !out.contains(gw) {
                out.append(gw)
            }
        }
        return out
    }
}
