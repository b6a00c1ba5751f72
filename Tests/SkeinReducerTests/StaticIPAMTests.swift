// static IPAM: the reference plugin's sources of addresses and their precedence.

import SkeinModel
import Testing
@testable import SkeinReducer

private func parse(_ plugin: String, args: String? = nil) throws(IPAMError) -> StaticIPAMConfig {
    try StaticIPAMConfig.parse(plugin: Fx.json(plugin), cniArgs: args)
}

private func held(_ address: String, _ gateway: String? = nil) -> HeldAddress {
    HeldAddress(address: Fx.net(address), gateway: gateway.map(Fx.ip))
}

private let config = #"{"type":"macvlan","ipam":{"type":"static","addresses":[{"address":"10.1.0.5/24","gateway":"10.1.0.1"},"#
    + #"{"address":"fd01::5/64"}],"routes":[{"dst":"0.0.0.0/0"},{"dst":"192.168.0.0/16","gw":"10.1.0.254"}],"#
    + #""dns":{"nameservers":["10.1.0.53"],"search":["svc"]}}"#

@Suite struct StaticIPAMTests {
    @Test func addressesRoutesAndDNSFromTheConfig() throws {
        let c = try parse(config + "}")
        #expect(c.addresses == [held("10.1.0.5/24", "10.1.0.1"), held("fd01::5/64")])
        #expect(c.routes == [IPAMRoute(dst: Fx.net("0.0.0.0/0")), IPAMRoute(dst: Fx.net("192.168.0.0/16"), gw: Fx.ip("10.1.0.254"))])
        #expect(c.dns == Fx.json(#"{"nameservers":["10.1.0.53"],"search":["svc"]}"#))
    }

    /// CNI_ARGS IP= is appended; GATEWAY= then applies to every address whose subnet holds it,
    /// configured ones included.
    @Test func cniArgsIPAppendsAndGatewayApplies() throws {
        let c = try parse(config + "}", args: "IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.1.0.6/24, 172.16.0.2/16;GATEWAY=10.1.0.254,172.16.0.1")
        #expect(c.addresses == [held("10.1.0.5/24", "10.1.0.254"), held("fd01::5/64"), held("10.1.0.6/24", "10.1.0.254"),
                                held("172.16.0.2/16", "172.16.0.1")])
    }

    /// args.cni.ips replaces everything before it; runtimeConfig.ips replaces that. Neither has gateways.
    @Test func argsAndRuntimeConfigReplace() throws {
        let withArgs = config + #","args":{"cni":{"ips":["10.1.0.7/24"]}}}"#
        #expect(try parse(withArgs, args: "IP=10.1.0.6/24;GATEWAY=10.1.0.1").addresses == [held("10.1.0.7/24")])
        let withRuntime = config + #","args":{"cni":{"ips":["10.1.0.7/24"]}},"runtimeConfig":{"ips":["10.1.0.8/24","fd01::8/64"]}}"#
        #expect(try parse(withRuntime).addresses == [held("10.1.0.8/24"), held("fd01::8/64")])
    }

    @Test(arguments: [
        (#"{"type":"macvlan"}"#, nil as String?, "missing 'ipam'"),
        (#"{"type":"macvlan","ipam":{"type":"static","addresses":[{"address":"10.1.0.5"}]}}"#, nil, "CIDR notation"),
        (#"{"type":"macvlan","ipam":{"type":"static","addresses":[{"address":"10.1.0.5/24","gateway":"x"}]}}"#, nil, "invalid IP"),
        (#"{"type":"macvlan","ipam":{"type":"static"}}"#, "IP=10.1.0.5", "CIDR notation"),
        (#"{"type":"macvlan","ipam":{"type":"static"}}"#, "IP=10.1.0.5/24;GATEWAY=nope", "invalid gateway"),
        (#"{"type":"macvlan","ipam":{"type":"static"},"runtimeConfig":{"ips":["10.1.0.5"]}}"#, nil, "CIDR notation"),
        (#"{"type":"macvlan","ipam":{"type":"static","dns":["x"]}}"#, nil, "ipam.dns"),
    ])
    func refusals(plugin: String, args: String?, says: String) {
        do {
            _ = try parse(plugin, args: args)
            Issue.record("accepted \(plugin)")
        } catch {
            #expect(error.kind == .invalidConfig && error.message.contains(says), "\(error)")
        }
    }

    /// Through a built-in plugin: reported in the result, not held, CNI_ARGS read from the request.
    @Test func inAMacvlanDecision() throws {
        let r = Fx.request(#"{"type":"macvlan","master":"eth1","ipam":{"type":"static","routes":[{"dst":"0.0.0.0/0"}]}}"#,
                           cniArgs: "IP=10.1.0.9/24;GATEWAY=10.1.0.1")
        let d = try #require(Fx.decide(r))
        #expect(d.addresses == [held("10.1.0.9/24", "10.1.0.1")] && !d.holdsAddresses && d.cursors.isEmpty)
        #expect(d.spec.links[0].routes == [RouteSpec(dst: Fx.net("0.0.0.0/0"), gateway: Fx.ip("10.1.0.1"))])
        #expect(Fx.result(r, d).contains(#""ips":[{"interface":0,"address":"10.1.0.9/24","gateway":"10.1.0.1"}],"routes":[{"dst":"0.0.0.0/0"}]"#))
    }
}
