import SkeinModel

// The CNI result of an applied attachment, in the reference bridge plugin's shape:
// interfaces [bridge, host veth, container end (with sandbox)], ips pointing at the container end.
public enum ResultBuilder {
    public static func result(_ record: AttachmentRecord, bridgeMAC: MACAddress?) -> CNIResult {
        var interfaces: [CNIResult.Interface] = []
        var containerIndex: Int?
        for link in record.spec.links {
            switch link.kind {
            case .bridge:
                interfaces.append(.init(name: link.name, mac: (bridgeMAC ?? link.mac)?.description))
            case .veth:
                interfaces.append(.init(name: link.name, mac: link.mac?.description))
            case .vethPeer, .macvlan, .ipvlan, .vlan, .hostDevice, .loopback, .existing:
                containerIndex = interfaces.count
                interfaces.append(.init(name: link.name, mac: link.mac?.description, sandbox: record.netns))
            }
        }
        let ips = record.addresses.map { CNIResult.IPConfig(address: $0.address, gateway: $0.gateway, interface: containerIndex) }
        let routes = record.resultRoutes.map { CNIResult.Route(dst: $0.dst, gw: $0.gateway) }
        return CNIResult(interfaces: interfaces, ips: ips, routes: routes, dns: dns(record.dns))
    }

    static func dns(_ json: JSON?) -> CNIResult.DNS {
        guard let json else { return CNIResult.DNS() }
        let strings: (String) -> [String] = { key in (json[key]?.array ?? []).compactMap(\.string) }
        return CNIResult.DNS(nameservers: strings("nameservers"), domain: json["domain"]?.string,
                             search: strings("search"), options: strings("options"))
    }
}
