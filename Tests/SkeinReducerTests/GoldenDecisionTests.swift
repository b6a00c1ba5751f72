// The journal encoding of one decision per type. Decisions are stored in addRequested events and
// hashed into the chain: CHANGING ANY OF THESE STRINGS IS A SCHEMA CHANGE (bump
// EventRecord.schemaVersion and keep decoding the old shape).

import SkeinModel
import Testing
@testable import SkeinReducer

private let facts = #"{"hostDevice":{"name":"eth9","index":9,"mac":"52:54:00:00:00:09","mtu":1500}}"#

@Suite struct GoldenDecisionTests {
    static let cases: [(name: String, request: AddRequested, golden: String)] = [
        ("bridge", Fx.request(#"{"type":"bridge","bridge":"br0","isDefaultGateway":true,"ipam":{"type":"host-local","subnet":"10.9.0.0/24"}}"#),
         #"{"type":"bridge","spec":{"links":[{"name":"br0","ns":"host","kind":"bridge","mac":"12:54:44:f8:f0:27","up":true,"addresses":["10.9.0.1/24"],"shared":true},{"name":"vethbde5bd7362e","ns":"host","kind":"veth","peer":"net1","mac":"02:54:83:0b:aa:01","master":"br0","up":true},{"name":"net1","ns":"container","kind":"vethPeer","mac":"2a:a2:b7:9f:74:86","up":true,"addresses":["10.9.0.2/24"],"routes":[{"dst":"0.0.0.0/0","gw":"10.9.0.1"}]}],"sysctls":[{"key":"net/ipv4/ip_forward","value":"1","ns":"host"}]},"addresses":[{"address":"10.9.0.2/24","gateway":"10.9.0.1"}],"cursors":[{"rangeSet":0,"ip":"10.9.0.2"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.9.0.1"}]}"#),
        ("macvlan", Fx.request(#"{"type":"macvlan","master":"eth1","mode":"vepa","mtu":1400,"ipam":{"type":"host-local","subnet":"10.9.0.0/24"}}"#),
         #"{"type":"macvlan","spec":{"links":[{"name":"net1","ns":"container","kind":"macvlan","parent":"eth1","parentNs":"host","mode":"vepa","mac":"2a:a2:b7:9f:74:86","mtu":1400,"up":true,"addresses":["10.9.0.2/24"]}],"sysctls":[{"key":"net/ipv4/conf/net1/arp_notify","value":"1","ns":"container"}]},"addresses":[{"address":"10.9.0.2/24","gateway":"10.9.0.1"}],"cursors":[{"rangeSet":0,"ip":"10.9.0.2"}]}"#),
        ("ipvlan", Fx.request(#"{"type":"ipvlan","master":"eth1","mode":"l3s","ipam":{"type":"host-local","subnet":"10.9.0.0/24"}}"#),
         #"{"type":"ipvlan","spec":{"links":[{"name":"net1","ns":"container","kind":"ipvlan","parent":"eth1","parentNs":"host","mode":"l3s","up":true,"addresses":["10.9.0.2/24"]}],"sysctls":[{"key":"net/ipv4/conf/net1/arp_notify","value":"1","ns":"container"}]},"addresses":[{"address":"10.9.0.2/24","gateway":"10.9.0.1"}],"cursors":[{"rangeSet":0,"ip":"10.9.0.2"}]}"#),
        ("vlan", Fx.request(#"{"type":"vlan","master":"eth1","vlanId":42,"linkInContainer":true,"ipam":{"type":"host-local","subnet":"10.9.0.0/24"}}"#),
         #"{"type":"vlan","spec":{"links":[{"name":"net1","ns":"container","kind":"vlan","parent":"eth1","parentNs":"container","vlanId":42,"up":true,"addresses":["10.9.0.2/24"]}]},"addresses":[{"address":"10.9.0.2/24","gateway":"10.9.0.1"}],"cursors":[{"rangeSet":0,"ip":"10.9.0.2"}]}"#),
        ("host-device", Fx.request(#"{"type":"host-device","device":"eth9","ipam":{"type":"static","addresses":[{"address":"192.0.2.10/24","gateway":"192.0.2.1"}],"routes":[{"dst":"0.0.0.0/0"}]}}"#, facts: facts),
         #"{"type":"host-device","spec":{"links":[{"name":"net1","ns":"container","kind":"hostDevice","origin":{"name":"eth9","index":9,"mac":"52:54:00:00:00:09","mtu":1500},"up":true,"addresses":["192.0.2.10/24"],"routes":[{"dst":"0.0.0.0/0","gw":"192.0.2.1"}]}]},"addresses":[{"address":"192.0.2.10/24","gateway":"192.0.2.1"}],"cursors":[],"routes":[{"dst":"0.0.0.0/0"}],"unheld":true}"#),
        // The origin's promisc, allmulti and txqlen, recorded so DEL can undo tuning's changes.
        ("host-device tuned", Fx.request(#"{"type":"host-device","device":"eth9"}"#, chained: [#"{"type":"tuning","promisc":true,"allmulti":false,"txQLen":5000}"#],
                                         facts: #"{"hostDevice":{"name":"eth9","index":9,"mac":"52:54:00:00:00:09","mtu":1500,"promisc":false,"allmulti":true,"txqlen":1000}}"#),
         #"{"type":"host-device","spec":{"links":[{"name":"net1","ns":"container","kind":"hostDevice","origin":{"name":"eth9","index":9,"mac":"52:54:00:00:00:09","mtu":1500,"allmulti":true,"txqlen":1000},"up":true,"promisc":true,"allmulti":false,"txqlen":5000}]},"addresses":[],"cursors":[]}"#),
        ("ptp", Fx.request(#"{"type":"ptp","ipam":{"type":"host-local","subnet":"10.7.0.0/24"}}"#),
         #"{"type":"ptp","spec":{"links":[{"name":"vethbde5bd7362e","ns":"host","kind":"veth","peer":"net1","mac":"02:54:83:0b:aa:01","up":true,"addresses":["10.7.0.1/32"],"routes":[{"dst":"10.7.0.2/32","scope":254}]},{"name":"net1","ns":"container","kind":"vethPeer","mac":"2a:a2:b7:9f:74:86","up":true,"addresses":["10.7.0.2/24"],"routes":[{"dst":"10.7.0.1/32","scope":253,"src":"10.7.0.2"},{"dst":"10.7.0.0/24","gw":"10.7.0.1","src":"10.7.0.2"}],"noPrefixRoute":true}],"sysctls":[{"key":"net/ipv4/ip_forward","value":"1","ns":"host"}]},"addresses":[{"address":"10.7.0.2/24","gateway":"10.7.0.1"}],"cursors":[{"rangeSet":0,"ip":"10.7.0.2"}]}"#),
        ("loopback", Fx.request(#"{"type":"loopback"}"#, ifname: "lo"),
         #"{"type":"loopback","spec":{"links":[{"name":"lo","ns":"container","kind":"loopback","up":true}]},"addresses":[{"address":"127.0.0.1/8"},{"address":"::1/128"}],"cursors":[],"unheld":true}"#),
        ("chain", Fx.request(#"{"type":"macvlan","master":"eth1"}"#, chained: [#"{"type":"tuning","mtu":1300,"allmulti":false,"txQLen":100,"sysctl":{"net.ipv6.conf.IFNAME.disable_ipv6":"1"}}"#, #"{"type":"portmap"}"#]),
         #"{"type":"macvlan","spec":{"links":[{"name":"net1","ns":"container","kind":"macvlan","parent":"eth1","parentNs":"host","mode":"bridge","mac":"2a:a2:b7:9f:74:86","mtu":1300,"up":true,"allmulti":false,"txqlen":100}],"sysctls":[{"key":"net/ipv6/conf/net1/disable_ipv6","value":"1","ns":"container"}]},"addresses":[],"cursors":[],"exec":[{"type":"portmap"}]}"#),
        ("exec", Fx.request(#"{"type":"macvlan","master":"eth1","ipam":{"type":"dhcp"}}"#),
         #"{"type":"macvlan","spec":{"links":[]},"addresses":[],"cursors":[],"exec":[{"type":"macvlan","master":"eth1","ipam":{"type":"dhcp"}}]}"#),
    ]

    @Test(arguments: 0..<cases.count)
    func decisionEncoding(index: Int) throws {
        let c = Self.cases[index]
        let d = try #require(Fx.decide(c.request))
        let text = d.json.serialized()
        #expect(text == c.golden, "\(c.name): \(text)")
        #expect(try AddDecision(json: d.json) == d, "\(c.name) does not round-trip")
    }
}
