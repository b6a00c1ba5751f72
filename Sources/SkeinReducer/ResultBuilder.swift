import SkeinModel

// The CNI result of an applied attachment, in the reference plugins' shapes, read off the spec:
// one interface per link in spec order, host links without a sandbox and container links with
// it, the IPs pointing at the (last) container interface:
//   bridge                      [bridge, host veth, container veth]   ips → 2
//   ptp                         [host veth, container veth]           ips → 1
//   macvlan/ipvlan/vlan/host-device, loopback   [container interface] ips → 0
// A chained ipvlan replaces the interfaces before it, as the reference does with its prevResult.
// Tuning's MAC is in the spec already.
public enum ResultBuilder {
    /// `observedMAC` is what the kernel reports for a link after the ADD (nil where not looked at):
    /// an adopted bridge's own MAC, and the MAC of links whose spec sets none (ipvlan and vlan
    /// take their parent's, a host-device has its own).
    public static func result(_ record: AttachmentRecord, observedMAC: (LinkSpec) -> MACAddress?) -> CNIResult {
        var interfaces: [CNIResult.Interface] = []
        var containerIndex: Int?
        for link in resultLinks(record.spec) {
            let mac = macText(link, observed: observedMAC(link))
            if link.namespace == .host {
                interfaces.append(.init(name: link.name, mac: mac))
            } else {
                containerIndex = interfaces.count
                interfaces.append(.init(name: link.name, mac: mac, sandbox: record.netns))
            }
        }
        let ips = record.addresses.map { CNIResult.IPConfig(address: $0.address, gateway: $0.gateway, interface: containerIndex) }
        let routes = record.resultRoutes.map { CNIResult.Route(dst: $0.dst, gw: $0.gateway) }
        return CNIResult(interfaces: interfaces, ips: ips, routes: routes, dns: dns(record.dns))
    }

    /// The bridge's observed MAC only (enough for every kind whose spec fixes its MACs).
    public static func result(_ record: AttachmentRecord, bridgeMAC: MACAddress?) -> CNIResult {
        result(record) { $0.kind == .bridge ? bridgeMAC : nil }
    }

    /// The links the result reports.
    static func resultLinks(_ spec: AttachmentSpec) -> [LinkSpec] {
        if spec.links.count > 1, let last = spec.links.last, case .ipvlan = last.kind { return [last] }
        return spec.links
    }

    static func macText(_ link: LinkSpec, observed: MACAddress?) -> String? {
        switch link.kind {
        case .loopback: return "00:00:00:00:00:00"
        // An adopted shared bridge keeps the MAC it has.
        case .bridge: return (observed ?? link.mac)?.description
        case .hostDevice(let origin): return (link.mac ?? observed ?? origin.mac)?.description
        default: return (link.mac ?? observed)?.description
        }
    }

    static func dns(_ json: JSON?) -> CNIResult.DNS {
        guard let json else { return CNIResult.DNS() }
        let strings: (String) -> [String] = { key in (json[key]?.array ?? []).compactMap(\.string) }
        return CNIResult.DNS(nameservers: strings("nameservers"), domain: json["domain"]?.string,
                             search: strings("search"), options: strings("options"))
    }
}
