// Chains: which part runs built in, which is exec'ed (the exec rule in Attachments.build), and
// what tuning and a chained ipvlan do to the spec and the result.

import SkeinModel
import Testing
@testable import SkeinReducer

private let bridge = #"{"cniVersion":"1.0.0","name":"blue","type":"bridge","bridge":"br-blue","ipam":"# + Fx.hostLocal + "}"
private let macvlan = #"{"cniVersion":"1.0.0","name":"blue","type":"macvlan","master":"eth1","ipam":"# + Fx.hostLocal + "}"
private let portmap = #"{"cniVersion":"1.0.0","name":"blue","type":"portmap","capabilities":{"portMappings":true}}"#

@Suite struct ChainTests {
    @Test func bridgeThenTuningTunesTheContainerEnd() throws {
        let tuning = #"{"type":"tuning","mac":"02:00:00:00:00:aa","mtu":1400,"promisc":true,"allmulti":true,"txQLen":500,"#
            + #""sysctl":{"net.ipv4.conf.IFNAME.rp_filter":"2"}}"#
        let r = Fx.request(bridge, chained: [tuning])
        let d = try #require(Fx.decide(r))
        let plain = try #require(Fx.decide(Fx.request(bridge)))
        var want = plain.spec
        want.links[2].mac = Fx.mac("02:00:00:00:00:aa")
        want.links[2].mtu = 1400
        want.links[2].promisc = true
        want.links[2].allmulti = true
        want.links[2].txQLen = 500
        want.sysctls.append(SysctlSpec(key: "net/ipv4/conf/net1/rp_filter", value: "2", namespace: .container))
        #expect(d.spec == want)
        #expect(d.pluginType == "bridge" && d.exec.isEmpty && d.addresses == plain.addresses)
        // The result carries tuning's MAC, as the reference updates prevResult.
        #expect(Fx.result(r, d).contains(#"{"name":"net1","mac":"02:00:00:00:00:aa","sandbox""#))
    }

    @Test func macvlanThenTuningOverridesArpNotify() throws {
        let tuning = #"{"type":"tuning","sysctl":{"net/ipv4/conf/net1/arp_notify":"0"}}"#
        let d = try #require(Fx.decide(Fx.request(macvlan, chained: [tuning])))
        #expect(d.spec.sysctls == [SysctlSpec(key: "net/ipv4/conf/net1/arp_notify", value: "0", namespace: .container)])
    }

    @Test func bridgeThenPortmapExecsTheSuffix() throws {
        let tuning = #"{"type":"tuning","mtu":1400}"#
        let r = Fx.request(bridge, chained: [portmap, tuning])
        let d = try #require(Fx.decide(r))
        let plain = try #require(Fx.decide(Fx.request(bridge)))
        // Everything from portmap on is exec'ed, tuning included: its prevResult comes from portmap.
        #expect(d.spec == plain.spec && d.exec == [Fx.json(portmap), Fx.json(tuning)])
    }

    @Test func forceExecOfBridgeExecsTheWholeChain() throws {
        let r = Fx.request(bridge, chained: [#"{"type":"tuning"}"#], execTypes: ["bridge"])
        let d = try #require(Fx.decide(r))
        #expect(d.pluginType == "bridge" && d.spec == AttachmentSpec() && d.addresses.isEmpty && d.cursors.isEmpty)
        #expect(d.exec == r.plugins)
    }

    @Test func forceExecOfTuningKeepsTheBridgeBuiltIn() throws {
        let d = try #require(Fx.decide(Fx.request(bridge, chained: [#"{"type":"tuning"}"#], execTypes: ["tuning"])))
        #expect(d.spec.links.count == 3 && d.exec == [Fx.json(#"{"type":"tuning"}"#)])
    }

    @Test(arguments: [#"{"type":"dhcp"}"#, #"{"type":"whereabouts","range":"10.9.0.0/24"}"#])
    func macvlanWithIPAMNotBuiltInIsExeced(ipam: String) throws {
        let plugin = #"{"type":"macvlan","master":"eth1","ipam":"# + ipam + "}"
        let d = try #require(Fx.decide(Fx.request(plugin)))
        #expect(d.pluginType == "macvlan" && d.spec == AttachmentSpec() && d.exec == [Fx.json(plugin)])
    }

    @Test func forcingTheIPAMTypeExecsItsPlugin() throws {
        let d = try #require(Fx.decide(Fx.request(macvlan, execTypes: ["host-local"])))
        #expect(d.spec == AttachmentSpec() && d.exec.count == 1)
    }

    @Test(arguments: [
        (#"{"type":"tuning","mtu":1400}"#, [String](), "first plugin"),
        (macvlan, [bridge], "makes an interface"),
        (macvlan, [#"{"name":"x"}"#], "plugin 1 of the chain has no \"type\""),
        (macvlan, [#"{"type":"tuning","sysctl":{"kernel.panic":"1"}}"#], "invalid net sysctl key"),
        (#"{"type":"loopback"}"#, [#"{"type":"tuning","mtu":1400}"#], "no interface net1"),
    ])
    func refusedChains(first: String, rest: [String], says: String) {
        let refusal = Fx.refusal(Fx.request(first, chained: rest))
        #expect(refusal?.code == 7 && refusal?.message.contains(says) == true, "\(String(describing: refusal))")
    }

    /// The origin records promisc, allmulticast and txqueuelen as the device had them, so DEL can
    /// put back whatever tuning changes, as the reference tuning restores its backup.
    @Test func tuningAHostDeviceIsAllowedWhatItsOriginCanRestore() throws {
        let facts = #"{"hostDevice":{"name":"eth9","index":9,"mac":"52:54:00:00:00:09","mtu":1500,"txqlen":1000}}"#
        let tuning = #"{"type":"tuning","mac":"02:00:00:00:00:99","mtu":9000,"promisc":true,"allmulti":true,"txQLen":5000}"#
        let d = try #require(Fx.decide(Fx.request(#"{"type":"host-device","device":"eth9"}"#, chained: [tuning], facts: facts)))
        let link = d.spec.links[0]
        #expect(link.kind == .hostDevice(HostDeviceOrigin(name: "eth9", index: 9, mac: Fx.mac("52:54:00:00:00:09"),
                                                          mtu: 1500, txQLen: 1000)))
        #expect(link.mac == Fx.mac("02:00:00:00:00:99") && link.mtu == 9000)
        #expect(link.promisc && link.allmulti == true && link.txQLen == 5000)
    }

    /// An origin without its queue length (recorded by an older build) could not restore it.
    @Test func tuningTxQLenOfAHostDeviceWithoutAnObservedOneIsRefused() {
        let facts = #"{"hostDevice":{"name":"eth9","index":9,"mac":"52:54:00:00:00:09","mtu":1500}}"#
        let plugin = #"{"type":"host-device","device":"eth9"}"#
        let refusal = Fx.refusal(Fx.request(plugin, chained: [#"{"type":"tuning","txQLen":5000}"#], facts: facts))
        #expect(refusal?.code == 2 && refusal?.message.contains("txQLen") == true, "\(String(describing: refusal))")
        let promisc = Fx.decide(Fx.request(plugin, chained: [#"{"type":"tuning","promisc":true,"allmulti":false}"#], facts: facts))
        #expect(promisc?.spec.links[0].promisc == true && promisc?.spec.links[0].allmulti == false)
    }

    /// The reference's chained ipvlan: no IPAM, the previous result's addresses and routes, the
    /// master from the previous result's only interface unless configured; the result lists only it.
    @Test func chainedIPvlanTakesThePreviousAddresses() throws {
        let r = Fx.request(#"{"type":"loopback"}"#, chained: [#"{"type":"ipvlan","master":"eth1","mode":"l3","dns":{"domain":"d"}}"#])
        let d = try #require(Fx.decide(r))
        #expect(d.spec.links.count == 2)
        let link = d.spec.links[1]
        #expect(link.name == "net1" && link.kind == .ipvlan(parent: ParentRef(name: "eth1", namespace: .host), mode: "l3"))
        #expect(link.addresses == [Fx.net("127.0.0.1/8"), Fx.net("::1/128")])
        #expect(d.spec.sysctls.map(\.key) == ["net/ipv4/conf/net1/arp_notify"] && d.dns == Fx.json(#"{"domain":"d"}"#))
        #expect(Fx.result(r, d, observed: ["net1": Fx.mac("52:54:00:00:00:01")]) == #"{"cniVersion":"1.1.0","interfaces":[{"name":"net1","mac":"52:54:00:00:00:01","sandbox":"/var/run/netns/pod-1"}],"ips":[{"interface":0,"address":"127.0.0.1/8"},{"interface":0,"address":"::1/128"}],"dns":{"domain":"d"}}"#)
        // Without a master: the previous result's only interface.
        let implicit = try #require(Fx.decide(Fx.request(#"{"type":"loopback"}"#, chained: [#"{"type":"ipvlan"}"#])))
        #expect(implicit.spec.links[1].kind == .ipvlan(parent: ParentRef(name: "lo", namespace: .host), mode: "l2"))
    }

    @Test(arguments: [
        (macvlan, #"{"type":"ipvlan","master":"eth1"}"#, "second time"),
        (bridge, #"{"type":"ipvlan"}"#, "single named interface"),
        (macvlan, #"{"type":"ipvlan","master":"eth1","ipam":{"type":"static","addresses":[{"address":"10.1.0.2/24"}]}}"#, "must not have"),
        (#"{"type":"macvlan","master":"eth1"}"#, #"{"type":"ipvlan","master":"eth1"}"#, "no addresses"),
    ])
    func refusedChainedIPvlan(first: String, ipvlan: String, says: String) {
        let refusal = Fx.refusal(Fx.request(first, chained: [ipvlan], ifname: "net1"))
        #expect(refusal?.code == 7 && refusal?.message.contains(says) == true, "\(String(describing: refusal))")
    }
}
