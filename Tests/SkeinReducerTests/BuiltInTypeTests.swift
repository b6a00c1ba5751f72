// Each built-in interface type's decision: the spec the planner gets, the result the runtime
// gets, and the refusals, as the reference plugin behaves (see each type's source file).

import SkeinModel
import Testing
@testable import SkeinReducer

@Suite struct BuiltInTypeTests {}

// MARK: - macvlan

extension BuiltInTypeTests {
    @Suite struct Macvlan {
        @Test func hostLocalSpecAndResult() throws {
            let r = Fx.request(#"{"cniVersion":"1.0.0","name":"blue","type":"macvlan","master":"eth1","mtu":1400,"ipam":"#
                               + Fx.hostLocal + #","dns":{"nameservers":["10.9.0.53"]}}"#)
            let d = try #require(Fx.decide(r))
            let want = LinkSpec(name: "net1", namespace: .container,
                                kind: .macvlan(parent: ParentRef(name: "eth1", namespace: .host), mode: "bridge"),
                                mac: Fx.containerMAC, mtu: 1400, addresses: [Fx.net("10.9.0.2/24")],
                                routes: [RouteSpec(dst: Fx.net("192.168.0.0/16"), gateway: Fx.ip("10.9.0.1"))])
            #expect(d.spec.links == [want])
            #expect(d.spec.sysctls == [SysctlSpec(key: "net/ipv4/conf/net1/arp_notify", value: "1", namespace: .container)])
            #expect(d.pluginType == "macvlan" && d.holdsAddresses && d.exec.isEmpty)
            #expect(d.addresses == [HeldAddress(address: Fx.net("10.9.0.2/24"), gateway: Fx.ip("10.9.0.1"))])
            #expect(Fx.result(r, d) == #"{"cniVersion":"1.1.0","interfaces":[{"name":"net1","mac":""# + "\(Fx.containerMAC)"
                + #"","sandbox":"/var/run/netns/pod-1"}],"ips":[{"interface":0,"address":"10.9.0.2/24","gateway":"10.9.0.1"}],"#
                + #""routes":[{"dst":"192.168.0.0/16"}],"dns":{"nameservers":["10.9.0.53"]}}"#)
        }

        @Test func masterDefaultsToTheDefaultRouteInterface() throws {
            let plugin = #"{"type":"macvlan","mode":"private","ipam":{}}"#
            let d = try #require(Fx.decide(Fx.request(plugin, facts: #"{"defaultRouteInterface":"ens3"}"#)))
            #expect(d.spec.links[0].kind == .macvlan(parent: ParentRef(name: "ens3", namespace: .host), mode: "private"))
            let inside = #"{"type":"macvlan","linkInContainer":true}"#
            let c = try #require(Fx.decide(Fx.request(inside, facts: #"{"containerDefaultRouteInterface":"eth0"}"#)))
            #expect(c.spec.links[0].kind == .macvlan(parent: ParentRef(name: "eth0", namespace: .container), mode: "bridge"))
            let refused = Fx.refusal(Fx.request(plugin, facts: #"{"containerDefaultRouteInterface":"eth0"}"#))
            #expect(refused?.code == 7 && refused?.message.contains("default route") == true)
        }

        /// The reference 1.1.1 allows an empty ipam: layer 2 only, no addresses, no arp_notify.
        @Test func layer2Only() throws {
            let r = Fx.request(#"{"type":"macvlan","master":"eth1","mac":"02:00:00:00:00:0c"}"#)
            let d = try #require(Fx.decide(r))
            #expect(d.spec.links.count == 1 && d.spec.links[0].addresses.isEmpty && d.spec.links[0].up)
            #expect(d.spec.links[0].mac == Fx.mac("02:00:00:00:00:0c"))
            #expect(d.spec.sysctls.isEmpty && d.addresses.isEmpty && d.cursors.isEmpty)
            #expect(Fx.result(r, d) == #"{"cniVersion":"1.1.0","interfaces":[{"name":"net1","mac":"02:00:00:00:00:0c","sandbox":"/var/run/netns/pod-1"}]}"#)
        }

        @Test func runtimeConfigMACBeatsCNIArgsMAC() throws {
            let plugin = #"{"type":"macvlan","master":"eth1","runtimeConfig":{"mac":"02:00:00:00:00:0d"}}"#
            #expect(Fx.decide(Fx.request(plugin, envMAC: "02:00:00:00:00:0e"))?.spec.links[0].mac == Fx.mac("02:00:00:00:00:0d"))
            let plain = #"{"type":"macvlan","master":"eth1"}"#
            #expect(Fx.decide(Fx.request(plain, envMAC: "02:00:00:00:00:0e"))?.spec.links[0].mac == Fx.mac("02:00:00:00:00:0e"))
        }

        @Test(arguments: [
            (#"{"type":"macvlan","master":"eth1","mode":"l3"}"#, 7, "unknown macvlan mode"),
            (#"{"type":"macvlan","master":"eth1","bcqueuelen":10}"#, 2, "bcqueuelen"),
            (#"{"type":"macvlan","master":"eth1","ipam":{"type":"host-local"}}"#, 7, "no IP ranges"),
            (#"{"type":"macvlan","master":"eth1","ipam":{"type":"static"}}"#, 7, "missing IP config"),
        ])
        func refusals(plugin: String, code: Int, says: String) {
            let refusal = Fx.refusal(Fx.request(plugin))
            #expect(refusal?.code == code && refusal?.message.contains(says) == true, "\(String(describing: refusal))")
        }
    }
}

// MARK: - ipvlan, vlan

extension BuiltInTypeTests {
    @Suite struct IPvlanAndVlan {
        @Test func ipvlanHasNoMACOfItsOwn() throws {
            let r = Fx.request(#"{"type":"ipvlan","master":"eth1","mode":"l3","ipam":"# + Fx.hostLocal + "}")
            let d = try #require(Fx.decide(r))
            let link = try #require(d.spec.links.first)
            #expect(link.kind == .ipvlan(parent: ParentRef(name: "eth1", namespace: .host), mode: "l3"))
            #expect(link.mac == nil && link.addresses == [Fx.net("10.9.0.2/24")])
            #expect(d.spec.sysctls.map(\.key) == ["net/ipv4/conf/net1/arp_notify"])
            // The result reports the MAC the kernel gave it (its parent's).
            #expect(Fx.result(r, d, observed: ["net1": Fx.mac("52:54:00:12:34:56")]).contains(#""mac":"52:54:00:12:34:56""#))
        }

        @Test func ipvlanWithoutIPAMOutsideAChainIsRefused() {
            let refusal = Fx.refusal(Fx.request(#"{"type":"ipvlan","master":"eth1"}"#))
            #expect(refusal?.code == 7 && refusal?.message.contains("ipam") == true)
        }

        @Test func vlanSpec() throws {
            let r = Fx.request(#"{"type":"vlan","master":"eth1","vlanId":42,"mtu":1496,"linkInContainer":true,"ipam":"#
                               + Fx.hostLocal + "}")
            let d = try #require(Fx.decide(r))
            #expect(d.spec.links.map(\.kind) == [.vlan(parent: ParentRef(name: "eth1", namespace: .container), id: 42)])
            #expect(d.spec.links[0].mtu == 1496 && d.spec.links[0].mac == nil)
            #expect(d.spec.sysctls.isEmpty)  // the reference vlan sets no arp_notify
        }

        @Test(arguments: [
            #"{"type":"vlan","vlanId":42,"ipam":{"type":"host-local","subnet":"10.9.0.0/24"}}"#,
            #"{"type":"vlan","master":"eth1","vlanId":4095,"ipam":{"type":"host-local","subnet":"10.9.0.0/24"}}"#,
            #"{"type":"vlan","master":"eth1","vlanId":42}"#,
        ])
        func vlanRefusals(plugin: String) {
            #expect(Fx.refusal(Fx.request(plugin))?.code == 7)
        }
    }
}

// MARK: - host-device

extension BuiltInTypeTests {
    @Suite struct HostDevice {
        static let fact = #"{"hostDevice":{"name":"eth9","index":9,"mac":"52:54:00:00:00:09","mtu":1500}}"#
        static let origin = HostDeviceOrigin(name: "eth9", index: 9, mac: MACAddress("52:54:00:00:00:09"), mtu: 1500)

        @Test func layer2MovesTheDeviceAndReportsItsMAC() throws {
            let r = Fx.request(#"{"type":"host-device","device":"eth9","dns":{"nameservers":["1.1.1.1"]}}"#, facts: Self.fact)
            let d = try #require(Fx.decide(r))
            #expect(d.spec == AttachmentSpec(links: [LinkSpec(name: "net1", namespace: .container, kind: .hostDevice(Self.origin))]))
            #expect(d.dns == nil)  // printLink: no DNS without IPAM
            #expect(Fx.result(r, d) == #"{"cniVersion":"1.1.0","interfaces":[{"name":"net1","mac":"52:54:00:00:00:09","sandbox":"/var/run/netns/pod-1"}]}"#)
        }

        @Test func withStaticIPAM() throws {
            let plugin = #"{"type":"host-device","pciBusID":"0000:00:09.0","dns":{"search":["pod"]},"ipam":{"type":"static","#
                + #""addresses":[{"address":"192.0.2.10/24","gateway":"192.0.2.1"}],"routes":[{"dst":"0.0.0.0/0"}]}}"#
            let r = Fx.request(plugin, facts: Self.fact)
            let d = try #require(Fx.decide(r))
            #expect(d.spec.links[0].addresses == [Fx.net("192.0.2.10/24")])
            #expect(d.spec.links[0].routes == [RouteSpec(dst: Fx.net("0.0.0.0/0"), gateway: Fx.ip("192.0.2.1"))])
            #expect(!d.holdsAddresses && d.dns == Fx.json(#"{"search":["pod"]}"#))
            #expect(d.resultRoutes == [RouteSpec(dst: Fx.net("0.0.0.0/0"))])
        }

        @Test func missingOrMismatchedDeviceIsRefused() {
            let missing = Fx.refusal(Fx.request(#"{"type":"host-device","device":"eth9"}"#))
            #expect(missing?.code == 7 && missing?.message.contains("device not found") == true)
            let other = Fx.refusal(Fx.request(#"{"type":"host-device","device":"eth8"}"#, facts: Self.fact))
            #expect(other?.code == 7)
            let hw = Fx.refusal(Fx.request(#"{"type":"host-device","hwaddr":"52:54:00:00:00:08"}"#, facts: Self.fact))
            #expect(hw?.code == 7)
        }
    }
}

// MARK: - ptp

extension BuiltInTypeTests {
    @Suite struct Ptp {
        static let dualStack = #"{"type":"ptp","mtu":1450,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.7.0.0/24"}],"#
            + #"[{"subnet":"fd07::/64"}]],"routes":[{"dst":"0.0.0.0/0"}]}}"#

        /// Routes exactly as the reference's setupContainerVeth and setupHostVeth leave them.
        @Test func routesAndAddressesOnBothEnds() throws {
            let r = Fx.request(Self.dualStack)
            let d = try #require(Fx.decide(r))
            let (a4, a6, gw4, gw6) = (Fx.ip("10.7.0.2"), Fx.ip("fd07::2"), Fx.ip("10.7.0.1"), Fx.ip("fd07::1"))
            let host = LinkSpec(name: Fx.hostVeth, namespace: .host, kind: .veth(peer: "net1"), mac: Fx.hostMAC, mtu: 1450,
                                addresses: [Fx.net("10.7.0.1/32"), Fx.net("fd07::1/128")],
                                routes: [RouteSpec(dst: Fx.net("10.7.0.2/32"), scope: 254),
                                         RouteSpec(dst: Fx.net("fd07::2/128"), scope: 254)])
            let peer = LinkSpec(name: "net1", namespace: .container, kind: .vethPeer, mac: Fx.containerMAC, mtu: 1450,
                                addresses: [Fx.net("10.7.0.2/24"), Fx.net("fd07::2/64")],
                                routes: [RouteSpec(dst: Fx.net("10.7.0.1/32"), scope: 253, src: a4),
                                         RouteSpec(dst: Fx.net("10.7.0.0/24"), gateway: gw4, src: a4),
                                         RouteSpec(dst: Fx.net("fd07::1/128"), scope: 253, src: a6),
                                         RouteSpec(dst: Fx.net("fd07::/64"), gateway: gw6, src: a6),
                                         RouteSpec(dst: Fx.net("0.0.0.0/0"), gateway: gw4)],
                                noPrefixRoute: true)
            #expect(d.spec.links == [host, peer])
            #expect(d.spec.sysctls == [SysctlSpec(key: "net/ipv4/ip_forward", value: "1", namespace: .host),
                                       SysctlSpec(key: "net/ipv6/conf/all/forwarding", value: "1", namespace: .host)])
            let result = Fx.result(r, d)
            #expect(result.hasPrefix(#"{"cniVersion":"1.1.0","interfaces":[{"name":""# + Fx.hostVeth + #"","mac":""#
                + "\(Fx.hostMAC)" + #""},{"name":"net1","mac":""# + "\(Fx.containerMAC)" + #"","sandbox":"/var/run/netns/pod-1"}],"#
                + #""ips":[{"interface":1,"address":"10.7.0.2/24","gateway":"10.7.0.1"},{"interface":1,"address":"fd07::2/64","gateway":"fd07::1"}]"#),
                "\(result)")
        }

        /// The config's DNS only when it sets something; else the IPAM result's (static's ipam.dns).
        @Test func dnsFallsBackToStaticIPAM() throws {
            let ipam = #""ipam":{"type":"static","addresses":[{"address":"10.7.0.9/24","gateway":"10.7.0.1"}],"dns":{"nameservers":["10.7.0.53"]}}"#
            let fromIPAM = try #require(Fx.decide(Fx.request(#"{"type":"ptp","# + ipam + "}")))
            #expect(fromIPAM.dns == Fx.json(#"{"nameservers":["10.7.0.53"]}"#) && !fromIPAM.holdsAddresses)
            let own = try #require(Fx.decide(Fx.request(#"{"type":"ptp","dns":{"domain":"x"},"# + ipam + "}")))
            #expect(own.dns == Fx.json(#"{"domain":"x"}"#))
        }

        @Test func refusals() {
            let noGateway = Fx.refusal(Fx.request(#"{"type":"ptp","ipam":{"type":"static","addresses":[{"address":"10.7.0.9/24"}]}}"#))
            #expect(noGateway?.code == 7 && noGateway?.message.contains("gateway") == true)
            let masq = Fx.refusal(Fx.request(#"{"type":"ptp","ipMasq":true,"ipam":"# + Fx.hostLocal + "}"))
            #expect(masq?.code == 2 && masq?.message.contains("ipMasq") == true)
            #expect(Fx.refusal(Fx.request(#"{"type":"ptp"}"#))?.code == 7)
        }
    }
}

// MARK: - loopback

extension BuiltInTypeTests {
    @Test func loopbackBringsLoUpAndReportsWhatTheReferenceReports() throws {
        let r = Fx.request(#"{"cniVersion":"0.3.1","name":"lo","type":"loopback"}"#, ifname: "eth0")
        let d = try #require(Fx.decide(r))
        #expect(d.spec == AttachmentSpec(links: [LinkSpec(name: "lo", namespace: .container, kind: .loopback, up: true)]))
        #expect(!d.holdsAddresses)
        #expect(Fx.result(r, d) == #"{"cniVersion":"1.1.0","interfaces":[{"name":"lo","mac":"00:00:00:00:00:00","sandbox":"/var/run/netns/pod-1"}],"ips":[{"interface":0,"address":"127.0.0.1/8"},{"interface":0,"address":"::1/128"}]}"#)
    }

    /// Loopback addresses are reported, never held: two pods do not conflict over 127.0.0.1.
    @Test func loopbackHoldsNoAllocation() {
        var state = MemoryState()
        for cid in ["a", "b"] {
            var r = Fx.request(#"{"type":"loopback"}"#, ifname: "lo")
            r.key = AttachmentKey(containerID: cid, ifname: "lo")
            let record = EventRecord(seq: 1, timeNs: 0, prev: EventRecord.genesisHash, event: .addRequested(r))
            let reduction = Reducer.reduce(record, state: state)
            #expect(reduction.decision == .accepted)
            state.apply(reduction.changes)
        }
        #expect(state.tables[.allocations]!.isEmpty && state.attachmentRecords.count == 2)
    }
}

// MARK: - bridge result

extension BuiltInTypeTests {
    /// An adopted bridge is reported with the MAC it has; the rest as before.
    @Test func bridgeResultWithTheObservedBridgeMAC() throws {
        let r = Fx.request(#"{"type":"bridge","bridge":"br0","ipam":{"type":"host-local","subnet":"10.9.0.0/24"}}"#)
        let d = try #require(Fx.decide(r))
        let result = ResultBuilder.result(Fx.record(r, d), bridgeMAC: Fx.mac("52:54:00:aa:bb:cc"))
        #expect(result.interfaces.map(\.name) == ["br0", Fx.hostVeth, "net1"])
        #expect(result.interfaces.map(\.mac) == ["52:54:00:aa:bb:cc", "\(Fx.hostMAC)", "\(Fx.containerMAC)"])
        #expect(result.interfaces.map(\.sandbox) == [nil, nil, Fx.netns])
        #expect(result.ips.map(\.interface) == [2])
    }
}
