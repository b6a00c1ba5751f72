import Testing
import SkeinModel
@testable import SkeinMeta

// flannel's delegate, as flannel-io/cni-plugin builds it from subnet.env (flannel_linux.go).

private let env = """
    FLANNEL_NETWORK=10.244.0.0/16
    FLANNEL_SUBNET=10.244.1.1/24
    FLANNEL_MTU=1450
    FLANNEL_IPMASQ=true
    """

private func json(_ s: String) -> JSON { try! JSON.parse(s) }

@Suite struct FlannelTests {
    @Test func subnetEnvIsParsedAndMasked() throws {
        let e = try FlannelSubnetEnv.parse(env + "\nSOMETHING_ELSE=1\n", path: "/run/flannel/subnet.env")
        #expect(e.network == IPNetwork("10.244.0.0/16") && e.subnet == IPNetwork("10.244.1.0/24"))
        #expect(e.mtu == 1450 && e.ipMasq == true && e.ipv6Network == nil)
    }

    @Test func missingKeysAreNamedAsThePluginNamesThem() {
        #expect {
            _ = try FlannelSubnetEnv.parse("FLANNEL_NETWORK=10.244.0.0/16\n", path: "/x/subnet.env")
        } throws: { e in
            (e as? CNIError)?.msg == "/x/subnet.env is missing FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ"
        }
        #expect(throws: CNIError.self) { _ = try FlannelSubnetEnv.parse("FLANNEL_SUBNET=nope\n", path: "p") }
    }

    /// The walkthrough's cbr0: a bridge with hairpin and default gateway from `delegate`, ipMasq
    /// off because flanneld masquerades, host-local over the node's subnet, a route to the cluster.
    @Test func delegateIsABridgeWithHostLocal() throws {
        let plugin = json(#"{"type":"flannel","name":"cbr0","cniVersion":"0.3.1","delegate":{"hairpinMode":true,"isDefaultGateway":true}}"#)
        let d = try Flannel.delegate(plugin, env: try FlannelSubnetEnv.parse(env, path: "e"))
        #expect(d == json("""
            {"hairpinMode":true,"isDefaultGateway":true,"name":"cbr0","type":"bridge","ipMasq":false,"mtu":1450,
             "isGateway":true,"cniVersion":"0.3.1",
             "ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.1.0/24"}]],"routes":[{"dst":"10.244.0.0/16"}]}}
            """))
    }

    @Test func delegateKeysWinAndIPAMRoutesAreKept() throws {
        let plugin = json("""
            {"type":"flannel","name":"n","delegate":{"type":"ipvlan","mtu":1400,"ipMasq":true},
             "ipam":{"type":"host-local","routes":[{"dst":"192.168.0.0/16"}],"ranges":[[{"subnet":"1.2.3.0/24"}]]},
             "runtimeConfig":{"portMappings":[]}}
            """)
        let e = FlannelSubnetEnv(network: IPNetwork("10.244.0.0/16"), subnet: IPNetwork("10.244.1.0/24"),
                                 ipv6Network: IPNetwork("fd00::/48"), ipv6Subnet: IPNetwork("fd00:0:0:1::/64"), mtu: 1450, ipMasq: false)
        let d = try Flannel.delegate(plugin, env: e)
        #expect(d["type"] == .string("ipvlan") && d["mtu"] == .int(1400) && d["ipMasq"] == .bool(true))
        #expect(d["isGateway"] == nil, "isGateway is for a bridge only")
        #expect(d["runtimeConfig"] == json(#"{"portMappings":[]}"#))
        #expect(d["ipam"]?["ranges"] == json(#"[[{"subnet":"10.244.1.0/24"}],[{"subnet":"fd00:0:0:1::/64"}]]"#))
        #expect(d["ipam"]?["routes"] == json(#"[{"dst":"192.168.0.0/16"},{"dst":"10.244.0.0/16"},{"dst":"fd00::/48"}]"#))
    }

    @Test(arguments: [#"{"name":"x"}"#, #"{"ipam":{}}"#, #"{"type":1}"#])
    func forbiddenDelegateKeys(_ delegate: String) {
        let plugin = json(#"{"type":"flannel","name":"n","delegate":\#(delegate)}"#)
        #expect(throws: CNIError.self) { _ = try Flannel.delegate(plugin, env: try FlannelSubnetEnv.parse(env, path: "e")) }
    }

    @Test func subnetFileDefaultAndValidation() throws {
        #expect(try Flannel.subnetFile(json(#"{"type":"flannel"}"#)) == "/run/flannel/subnet.env")
        #expect(try Flannel.subnetFile(json(#"{"subnetFile":"/tmp/s.env"}"#)) == "/tmp/s.env")
        #expect(throws: CNIError.self) { _ = try Flannel.subnetFile(json(#"{"subnetFile":"rel/s.env"}"#)) }
    }
}
