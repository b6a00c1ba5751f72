import Testing
import SkeinModel
@testable import SkeinMeta

private func result(_ text: String) throws -> CNIResult { try CNIResult.parse(JSON.parse(text)) }

private func attachment(_ network: String, _ ifname: String, isDefault: Bool = false, drop: Bool = false,
                        gateways: [String] = []) -> MetaAttachment {
    MetaAttachment(network: network, ifname: ifname,
                   delegate: DelegateConfig(name: network, cniVersion: "0.3.1", plugins: [], isConflist: false),
                   isDefault: isDefault, dropDefaultRoute: drop, defaultGateways: gateways.map { IPAddress($0)! })
}

// What flannel (via bridge) and ipvlan return for the walkthrough's net-pod.
private let flannelResult = #"""
    {"cniVersion":"0.3.1",
     "interfaces":[{"name":"cni0","mac":"ce:6a:7f:10:2c:9e"},{"name":"veth1c0c2d3b","mac":"b2:9a:0e:6d:7b:11"},
                   {"name":"eth0","mac":"06:56:cf:cb:3e:75","sandbox":"/var/run/netns/cni-1234"}],
     "ips":[{"version":"4","interface":2,"address":"10.244.0.5/24","gateway":"10.244.0.1"}],
     "routes":[{"dst":"10.244.0.0/16"},{"dst":"0.0.0.0/0","gw":"10.244.0.1"}],
     "dns":{}}
    """#
private let ipvlanResult = #"""
    {"cniVersion":"0.3.1",
     "interfaces":[{"name":"net1","mac":"08:00:27:a0:41:35","sandbox":"/var/run/netns/cni-1234"}],
     "ips":[{"version":"4","interface":0,"address":"192.168.200.201/24","gateway":"192.168.200.1"}],
     "dns":{}}
    """#

@Suite struct NetworkStatusTests {
    @Test func walkthroughNetPodGolden() throws {
        let value = NetworkStatus.annotation([
            (attachment("cbr0", "eth0", isDefault: true), try result(flannelResult)),
            (attachment("default/ipvlan-def", "net1"), try result(ipvlanResult)),
        ])
        #expect(value == """
            [
              {
                "name": "cbr0",
                "interface": "eth0",
                "ips": [
                  "10.244.0.5"
                ],
                "mac": "06:56:cf:cb:3e:75",
                "default": true,
                "dns": {},
                "gateway": [
                  "10.244.0.1"
                ]
              },
              {
                "name": "default/ipvlan-def",
                "interface": "net1",
                "ips": [
                  "192.168.200.201"
                ],
                "mac": "08:00:27:a0:41:35",
                "dns": {}
              }
            ]
            """)
        // It is JSON, as the nad-client reads it back.
        #expect(try JSON.parse(value).array?.count == 2)
    }

    @Test func interfaceIsPickedByNameAmongSandboxInterfaces() throws {
        let r = try result(#"""
            {"cniVersion":"1.1.0",
             "interfaces":[{"name":"net1","mac":"02:00:00:00:00:01","mtu":9000,"sandbox":"/run/netns/p"},
                           {"name":"host0"},{"name":"other","sandbox":"/run/netns/p"}],
             "ips":[{"interface":0,"address":"10.1.0.5/24"},{"address":"fd00::5/64"},{"interface":2,"address":"10.2.0.5/24"}],
             "dns":{"nameservers":["10.96.0.10"],"domain":"cluster.local","search":["a","b"],"options":["ndots:5"]}}
            """#)
        let e = NetworkStatus.entry(attachment("ns/n", "net1"), result: r)
        #expect(e == (try JSON.parse(#"""
            {"name":"ns/n","interface":"net1","ips":["10.1.0.5","fd00::5"],"mac":"02:00:00:00:00:01","mtu":9000,
             "dns":{"nameservers":["10.96.0.10"],"domain":"cluster.local","search":["a","b"],"options":["ndots:5"]}}
            """#)))
        // No interface of that name: the last sandbox interface, as Multus.
        #expect(NetworkStatus.entry(attachment("ns/n", "eth9"), result: r)["interface"]?.string == "other")
    }

    @Test func resultWithoutInterfaces() throws {
        let r = try result(#"{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.1.0.5/24"}]}"#)
        #expect(NetworkStatus.entry(attachment("ns/n", "net1"), result: r) == (try JSON.parse(#"{"name":"ns/n","ips":["10.1.0.5"],"dns":{}}"#)))
    }

    @Test func gatewayFollowsTheDefaultRouteDecision() throws {
        let cluster = try result(flannelResult)
        let dropped = NetworkStatus.entry(attachment("cbr0", "eth0", isDefault: true, drop: true), result: cluster)
        #expect(dropped["gateway"] == nil && dropped["default"]?.bool == true)
        let chosen = NetworkStatus.entry(attachment("default/ipvlan-def", "net1", drop: true, gateways: ["192.168.200.1"]),
                                         result: try result(ipvlanResult))
        #expect(chosen["gateway"] == .array([.string("192.168.200.1")]))
    }

    @Test func defaultRouteWithoutGwUsesTheIPGateway() throws {
        // The walkthrough's macvlan-conf asks host-local for {"dst":"0.0.0.0/0"} with no gw.
        let r = try result(#"""
            {"cniVersion":"0.3.0","interfaces":[{"name":"net1","sandbox":"/run/netns/p"}],
             "ips":[{"version":"4","interface":0,"address":"172.17.9.240/24","gateway":"172.17.9.1"}],
             "routes":[{"dst":"0.0.0.0/0"}]}
            """#)
        #expect(NetworkStatus.entry(attachment("default/macvlan-conf", "net1"), result: r)["gateway"] == .array([.string("172.17.9.1")]))
    }

    // MARK: - Result rewrites

    @Test func droppingDefaultRoutes() throws {
        let r = try JSON.parse(#"""
            {"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/24","gateway":"10.1.0.1"}],
             "routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"10.2.0.0/16","gw":"10.1.0.1"},{"dst":"::0/0","gw":"fd00::1"},
                       {"dst":"::/0"},{"dst":"bogus"}],"dns":{}}
            """#)
        #expect(DefaultRoute.droppingDefaultRoutes(r) == (try JSON.parse(#"""
            {"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/24","gateway":"10.1.0.1"}],
             "routes":[{"dst":"10.2.0.0/16","gw":"10.1.0.1"},{"dst":"bogus"}],"dns":{}}
            """#)))
        let only = try JSON.parse(#"{"cniVersion":"1.0.0","routes":[{"dst":"0.0.0.0/0"}]}"#)
        #expect(DefaultRoute.droppingDefaultRoutes(only) == .obj([("cniVersion", .string("1.0.0"))]))
        #expect(DefaultRoute.droppingDefaultRoutes(.array([])) == .array([]))
    }

    @Test func addingDefaultRoutes() throws {
        let r = try JSON.parse(#"{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/24"}]}"#)
        let added = DefaultRoute.addingDefaultRoutes(via: [IPAddress("10.1.0.254")!, IPAddress("fd00::1")!], to: r)
        #expect(added["routes"] == (try JSON.parse(#"[{"dst":"0.0.0.0/0","gw":"10.1.0.254"},{"dst":"::/0","gw":"fd00::1"}]"#)))
        #expect(DefaultRoute.addingDefaultRoutes(via: [], to: r) == r)
    }

    @Test func applyOnJSONAndDecodedAgree() throws {
        let text = #"{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/24"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"10.9.0.0/16","gw":"10.1.0.1"}]}"#
        for a in [attachment("n", "net1"), attachment("n", "net1", drop: true),
                  attachment("n", "net1", drop: true, gateways: ["10.1.0.254"])] {
            let viaJSON = try CNIResult.parse(DefaultRoute.apply(a, to: try JSON.parse(text)))
            #expect(viaJSON == DefaultRoute.apply(a, to: try result(text)))
            // Applying twice changes nothing more.
            #expect(DefaultRoute.apply(a, to: DefaultRoute.apply(a, to: viaJSON)) == viaJSON)
        }
    }
}
