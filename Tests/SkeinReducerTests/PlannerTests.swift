// The planner with no kernel: hand-built specs and observations, exact expected plans.

import SkeinModel
import Testing
@testable import SkeinReducer

private func net(_ s: String) -> IPNetwork { IPNetwork(s)! }
private func ip(_ s: String) -> IPAddress { IPAddress(s)! }

/// A bridge network: gateway 10.22.0.1 on the bridge, a veth port with hairpin, the container end
/// with 10.22.0.5/24 and a default route via the gateway, IPv4 forwarding on.
private enum Fixture {
    static let hostMAC = MACAddress("02:00:00:00:00:01")!
    static let peerMAC = MACAddress("02:00:00:00:00:02")!
    static let route = RouteSpec(dst: net("0.0.0.0/0"), gateway: ip("10.22.0.1"))
    static let forward = SysctlSpec(key: "net/ipv4/ip_forward", value: "1", namespace: .host)

    static let bridge = LinkSpec(name: "skbr0", namespace: .host, kind: .bridge, mtu: 1500, up: true,
                                 addresses: [net("10.22.0.1/24")], shared: true)
    static let host = LinkSpec(name: "veth1a2b3c4d", namespace: .host, kind: .veth(peer: "eth0"), mac: hostMAC,
                               mtu: 1500, master: "skbr0", up: true, hairpin: true)
    static let peer = LinkSpec(name: "eth0", namespace: .container, kind: .vethPeer, mac: peerMAC, mtu: 1500,
                               up: true, addresses: [net("10.22.0.5/24")], routes: [route])
    static let spec = AttachmentSpec(links: [bridge, host, peer], sysctls: [forward])

    static let bridgeNow = ObservedLink(name: "skbr0", namespace: .host, index: 3, mac: MACAddress("02:aa:00:00:00:01"),
                                        mtu: 1500, up: true, kind: "bridge", addresses: [net("10.22.0.1/24")])
    static let hostNow = ObservedLink(name: "veth1a2b3c4d", namespace: .host, index: 7, mac: hostMAC, mtu: 1500,
                                      up: true, kind: "veth", masterName: "skbr0", hairpin: true, peerIndex: 2)
    static let peerNow = ObservedLink(name: "eth0", namespace: .container, index: 2, mac: peerMAC, mtu: 1500,
                                      up: true, kind: "veth", addresses: [net("10.22.0.5/24")], peerIndex: 7)
    static let applied = Observation(links: [bridgeNow, hostNow, peerNow], containerNamespaceExists: true,
                                     containerRoutes: [RouteSpec(dst: net("0.0.0.0/0"), gateway: ip("10.22.0.1"),
                                                                 priority: 0, table: 254, scope: 0)],
                                     sysctls: [SysctlSpec(key: "net/ipv4/ip_forward", value: "1\n", namespace: .host)])

    static let freshPlan: [PlanOp] = [
        .createBridge(bridge),
        .setUp(.host, "skbr0"),
        .addrAdd(.host, "skbr0", net("10.22.0.1/24")),
        .createVethPair(host: host, peer: peer),
        .setMaster(.host, link: "veth1a2b3c4d", master: "skbr0"),
        .setHairpin("veth1a2b3c4d", true),
        .setUp(.host, "veth1a2b3c4d"),
        .addrAdd(.container, "eth0", net("10.22.0.5/24")),
        .setUp(.container, "eth0"),
        .routeAdd(.container, link: "eth0", route),
        .sysctl(forward),
    ]
}

@Suite struct PlannerTests {}

extension PlannerTests {
    @Suite struct Add {
        @Test func freshAddPlansEverythingInOrder() throws {
            let plan = try Planner.planAdd(desired: Fixture.spec, observed: Observation())
            #expect(plan == Fixture.freshPlan)
        }

        @Test func fullyAppliedPlansNothingAndHasNoDrift() throws {
            #expect(try Planner.planAdd(desired: Fixture.spec, observed: Fixture.applied) == [])
            #expect(Planner.drift(desired: Fixture.spec, observed: Fixture.applied) == [])
        }

        @Test func replanningAfterEveryPrefixPlansExactlyTheRest() throws {
            var world = Observation()
            for (i, op) in Fixture.freshPlan.enumerated() {
                world.simulate(op)
                let rest = try Planner.planAdd(desired: Fixture.spec, observed: world)
                #expect(rest == Array(Fixture.freshPlan[(i + 1)...]), "after op \(i): \(op)")
            }
            #expect(Planner.drift(desired: Fixture.spec, observed: world) == [])
        }

        @Test func existingBridgeIsAdoptedAndOnlyTheVethIsCreated() throws {
            let observed = Observation(links: [Fixture.bridgeNow], sysctls: Fixture.applied.sysctls)
            let plan = try Planner.planAdd(desired: Fixture.spec, observed: observed)
            #expect(plan == Array(Fixture.freshPlan[3..<10]))
        }

        @Test func downHostEndIsOnlySetUp() throws {
            let observed = Fixture.applied.replacing("veth1a2b3c4d", in: .host) { $0.up = false }
            #expect(try Planner.planAdd(desired: Fixture.spec, observed: observed) == [.setUp(.host, "veth1a2b3c4d")])
        }

        @Test func missingContainerAddressIsOnlyAdded() throws {
            let observed = Fixture.applied.replacing("eth0", in: .container) { $0.addresses = [net("fe80::1/64")] }
            #expect(try Planner.planAdd(desired: Fixture.spec, observed: observed)
                == [.addrAdd(.container, "eth0", net("10.22.0.5/24"))])
        }

        @Test func missingRouteAndSysctlAreOnlyAdded() throws {
            var observed = Fixture.applied
            observed.containerRoutes = [RouteSpec(dst: net("10.22.0.0/24"), scope: 253)]
            observed.sysctls = [SysctlSpec(key: "net/ipv4/ip_forward", value: "0", namespace: .host)]
            #expect(try Planner.planAdd(desired: Fixture.spec, observed: observed)
                == [.routeAdd(.container, link: "eth0", Fixture.route), .sysctl(Fixture.forward)])
        }

        @Test func hairpinIsSetWhenOffOrUnknownAndWanted() throws {
            let off = Fixture.applied.replacing("veth1a2b3c4d", in: .host) { $0.hairpin = false }
            #expect(try Planner.planAdd(desired: Fixture.spec, observed: off) == [.setHairpin("veth1a2b3c4d", true)])
            // Unknown (the kernel did not say): set it if wanted on, leave it if wanted off.
            let unknown = Fixture.applied.replacing("veth1a2b3c4d", in: .host) { $0.hairpin = nil }
            #expect(try Planner.planAdd(desired: Fixture.spec, observed: unknown) == [.setHairpin("veth1a2b3c4d", true)])
            var noHairpin = Fixture.spec
            noHairpin.links[1].hairpin = false
            #expect(try Planner.planAdd(desired: noHairpin, observed: unknown) == [])
        }

        @Test func changedMTUAndMasterAreRestored() throws {
            let observed = Fixture.applied.replacing("veth1a2b3c4d", in: .host) { $0.mtu = 9000; $0.masterName = nil }
            #expect(try Planner.planAdd(desired: Fixture.spec, observed: observed) == [
                .setMTU(.host, "veth1a2b3c4d", 1500),
                .setMaster(.host, link: "veth1a2b3c4d", master: "skbr0"),
                .setHairpin("veth1a2b3c4d", true),
            ])
        }

        @Test func adoptedSharedBridgeKeepsItsMACAndPromisc() throws {
            var bridge = Fixture.bridge
            bridge.mac = MACAddress("02:bb:00:00:00:01")
            var spec = Fixture.spec
            spec.links[0] = bridge
            let promisc = Fixture.applied.replacing("skbr0", in: .host) { $0.promisc = true }
            #expect(try Planner.planAdd(desired: spec, observed: promisc) == [])
            bridge.promisc = true
            spec.links[0] = bridge
            #expect(try Planner.planAdd(desired: spec, observed: Fixture.applied) == [.setPromisc(.host, "skbr0", true)])
        }

        @Test func staleHostEndWithoutPeerIsReplaced() throws {
            let observed = Fixture.applied.removing("eth0", in: .container)
            let plan = try Planner.planAdd(desired: Fixture.spec, observed: observed)
            #expect(plan == [.linkDelete(.host, "veth1a2b3c4d")] + Array(Fixture.freshPlan[3..<10]))
        }

        /// tuning's MTU is the container end's alone (as the reference tuning): the pair is born
        /// with the host end's MTU and the peer gets its own afterwards, so neither the host end
        /// nor the bridge (whose MTU follows its smallest port) changes.
        @Test(arguments: [UInt32?.some(1500), nil])
        func aTunedContainerMTUIsSetOnThePeerAlone(hostMTU: UInt32?) throws {
            var spec = Fixture.spec
            spec.links[0].mtu = hostMTU
            spec.links[1].mtu = hostMTU
            spec.links[2].mtu = 1300
            var asCreated = spec.links[2]
            asCreated.mtu = hostMTU
            var want = Fixture.freshPlan
            want[0] = .createBridge(spec.links[0])
            want[3] = .createVethPair(host: spec.links[1], peer: asCreated)
            want.insert(.setMTU(.container, "eth0", 1300), at: 7)
            let plan = try Planner.planAdd(desired: spec, observed: Observation())
            #expect(plan == want)
            var world = Observation()
            #expect(try world.checkPrefixes(plan) { try Planner.planAdd(desired: spec, observed: $0) } == [])
            #expect(world.link(named: "veth1a2b3c4d", in: .host)?.mtu == 1500)
            #expect(world.link(named: "eth0", in: .container)?.mtu == 1300)
            #expect(Planner.drift(desired: spec, observed: world) == [])
        }

        @Test func descriptionsReadLikeIproute2() {
            #expect(PlanOp.createVethPair(host: Fixture.host, peer: Fixture.peer).description
                == "ip link add veth1a2b3c4d address 02:00:00:00:00:01 mtu 1500 type veth peer eth0"
                + " address 02:00:00:00:00:02 mtu 1500 netns container")
            #expect(PlanOp.routeAdd(.container, link: "eth0", Fixture.route).description
                == "ip route add 0.0.0.0/0 via 10.22.0.1 dev eth0 (netns container)")
            #expect(PlanOp.setHairpin("veth1a2b3c4d", true).description == "bridge link set dev veth1a2b3c4d hairpin on")
            #expect(PlanOp.sysctl(Fixture.forward).description == "sysctl -w net/ipv4/ip_forward=1")
            #expect(Fixture.freshPlan.allSatisfy { !$0.description.contains("\n") })
        }
    }
}

extension PlannerTests {
    @Suite struct Conflicts {
        private func planError(_ observed: Observation, _ spec: AttachmentSpec = Fixture.spec) -> PlanError? {
            do {
                _ = try Planner.planAdd(desired: spec, observed: observed)
                return nil
            } catch {
                return error
            }
        }

        @Test func nonBridgeLinkNamedLikeTheBridge() {
            let observed = Observation(links: [ObservedLink(name: "skbr0", namespace: .host, index: 4, kind: "dummy")])
            #expect(planError(observed)?.kind == .notABridge)
        }

        @Test func foreignContainerInterfaceWithADifferentMAC() {
            let observed = Fixture.applied.replacing("eth0", in: .container) { $0.mac = MACAddress("02:99:00:00:00:09") }
            #expect(planError(observed)?.kind == .interfaceExists)
        }

        @Test func foreignContainerInterfaceWithoutOurHostEnd() {
            let observed = Fixture.applied.removing("veth1a2b3c4d", in: .host)
            #expect(planError(observed)?.kind == .interfaceExists)
        }

        @Test func containerInterfaceWhosePeerIsNotOurHostEnd() {
            let observed = Fixture.applied.replacing("eth0", in: .container) { $0.peerIndex = 99 }
            #expect(planError(observed)?.kind == .interfaceExists)
        }

        @Test func hostLinkOfOurNameThatIsNotAVeth() {
            let observed = Fixture.applied.removing("eth0", in: .container)
                .replacing("veth1a2b3c4d", in: .host) { $0.kind = "dummy" }
            #expect(planError(observed)?.kind == .interfaceExists)
        }

        @Test func missingContainerNamespace() {
            #expect(planError(Observation(containerNamespaceExists: false))?.kind == .namespaceMissing)
        }

        @Test func otherGatewayInTheSameSubnetWithoutForceAddress() {
            let observed = Fixture.applied.replacing("skbr0", in: .host) { $0.addresses = [net("10.22.0.254/24")] }
            #expect(planError(observed)?.kind == .addressConflict)
            // As in the reference ensureAddr: for IPv4 any other address is a conflict, even in
            // another subnet; for IPv6 only an overlapping one.
            let elsewhere = Fixture.applied.replacing("skbr0", in: .host) { $0.addresses = [net("10.99.0.1/24")] }
            #expect(planError(elsewhere)?.kind == .addressConflict)
            let v6 = Fixture.applied.replacing("skbr0", in: .host) { $0.addresses = [net("fd00:99::1/64")] }
            #expect((try? Planner.planAdd(desired: Fixture.spec, observed: v6))
                == [.addrAdd(.host, "skbr0", net("10.22.0.1/24"))])
        }

        @Test func forceAddressReplacesTheOverlappingAddress() throws {
            var spec = Fixture.spec
            spec.links[0].forceAddress = true
            let observed = Fixture.applied.replacing("skbr0", in: .host) {
                $0.addresses = [net("10.22.0.254/24"), net("10.99.0.1/24")]
            }
            #expect(try Planner.planAdd(desired: spec, observed: observed) == [
                .addrDel(.host, "skbr0", net("10.22.0.254/24")),
                .addrDel(.host, "skbr0", net("10.99.0.1/24")),
                .addrAdd(.host, "skbr0", net("10.22.0.1/24")),
            ])
        }
    }
}

extension PlannerTests {
    @Suite struct Teardown {
        @Test func deletesTheHostEndWhetherOrNotTheNamespaceExists() {
            #expect(Planner.planTeardown(desired: Fixture.spec, observed: Fixture.applied)
                == [.linkDelete(.host, "veth1a2b3c4d")])
            var observed = Fixture.applied
            observed.containerNamespaceExists = false
            #expect(Planner.planTeardown(desired: Fixture.spec, observed: observed) == [.linkDelete(.host, "veth1a2b3c4d")])
        }

        @Test func nothingLeftPlansNothingAndTheBridgeIsNeverDeleted() {
            let gone = Fixture.applied.removing("eth0", in: .container).removing("veth1a2b3c4d", in: .host)
            #expect(Planner.planTeardown(desired: Fixture.spec, observed: gone) == [])
            #expect(Planner.planTeardown(desired: Fixture.spec, observed: Observation()) == [])
        }

        @Test func aForeignContainerInterfaceIsLeftAlone() {
            // Without our host end, an eth0 in the container is not ours (a pair lives and dies as one).
            let foreign = Fixture.applied.removing("veth1a2b3c4d", in: .host)
            #expect(Planner.planTeardown(desired: Fixture.spec, observed: foreign) == [])
        }

        @Test func aVethWithOurNameButAnotherMACIsLeftAlone() {
            // A name collision with another attachment's host end: its MAC is derived differently.
            let other = Fixture.applied.replacing("veth1a2b3c4d", in: .host) { $0.mac = MACAddress("02:77:00:00:00:07") }
            #expect(Planner.planTeardown(desired: Fixture.spec, observed: other) == [])
        }

        @Test func aNonVethLinkWithOurHostNameIsLeftAlone() {
            let impostor = Fixture.applied.replacing("veth1a2b3c4d", in: .host) { $0.kind = "bridge" }
            #expect(Planner.planTeardown(desired: Fixture.spec, observed: impostor) == [])
        }
    }
}

extension PlannerTests {
    @Suite struct Drift {
        @Test func aDestinationRoutedThroughAnotherDeviceIsNeitherPlannedNorDrift() throws {
            // The reference plugins' IPAM: "the first one wins" (the pod's eth0 default route, say).
            var observed = Fixture.applied
            observed.containerRoutes = []
            observed.routedElsewhere[.container] = [net("0.0.0.0/0")]
            #expect(Planner.drift(desired: Fixture.spec, observed: observed) == [])
            #expect(try Planner.planAdd(desired: Fixture.spec, observed: observed) == [])
        }

        @Test func removedAddressDownLinkMissingRouteChangedMTU() {
            var observed = Fixture.applied
                .replacing("eth0", in: .container) { $0.addresses = []; $0.mtu = 1400 }
                .replacing("veth1a2b3c4d", in: .host) { $0.up = false }
            observed.containerRoutes = []
            #expect(Planner.drift(desired: Fixture.spec, observed: observed) == [
                "link veth1a2b3c4d is down",
                "link eth0 (netns container) has mtu 1400, want 1500",
                "address 10.22.0.5/24 is missing on eth0 (netns container)",
                "route 0.0.0.0/0 via 10.22.0.1 dev eth0 is missing (netns container)",
            ])
        }

        @Test func missingLinksNamespaceAndSysctl() {
            var observed = Observation(links: [Fixture.bridgeNow], containerNamespaceExists: false)
            observed.sysctls = [SysctlSpec(key: "net/ipv4/ip_forward", value: "0", namespace: .host)]
            #expect(Planner.drift(desired: Fixture.spec, observed: observed) == [
                "container network namespace does not exist",
                "link veth1a2b3c4d is missing",
                "sysctl net/ipv4/ip_forward is 0, want 1",
            ])
        }

        @Test func foreignPeerIsReported() {
            let observed = Fixture.applied.replacing("eth0", in: .container) { $0.peerIndex = 42 }
            #expect(Planner.drift(desired: Fixture.spec, observed: observed)
                == ["link eth0 (netns container) is not the peer of veth1a2b3c4d"])
            #expect(Planner.drift(desired: Fixture.spec, observed: observed, laterPluginsMayModify: true)
                == ["link eth0 (netns container) is not the peer of veth1a2b3c4d"])
        }

        /// An exec'ed tuning after the built-in bridge retuned eth0 and one of its sysctls: its
        /// doing, and its own CHECK judges it. The pair is still ours by its peer indexes; the host
        /// side is still compared.
        @Test func whatALaterExecedPluginMayChangeIsNotDrift() {
            let arpNotify = SysctlSpec(key: "net/ipv4/conf/eth0/arp_notify", value: "1", namespace: .container)
            var spec = Fixture.spec
            spec.sysctls.append(arpNotify)
            var observed = Fixture.applied.replacing("eth0", in: .container) {
                $0.mac = MACAddress("02:25:00:70:00:02"); $0.mtu = 1300; $0.promisc = true; $0.allmulti = true; $0.txQLen = 7
            }
            observed.sysctls.append(SysctlSpec(key: arpNotify.key, value: "0", namespace: .container))
            #expect(Planner.drift(desired: spec, observed: observed) == [
                "link eth0 (netns container) is not the peer of veth1a2b3c4d",
                "link eth0 (netns container) has mtu 1300, want 1500",
                "link eth0 (netns container) has address 02:25:00:70:00:02, want 02:00:00:00:00:02",
                "sysctl net/ipv4/conf/eth0/arp_notify (netns container) is 0, want 1",
            ])
            #expect(Planner.drift(desired: spec, observed: observed, laterPluginsMayModify: true) == [])
            let hostChanged = observed.replacing("veth1a2b3c4d", in: .host) { $0.mtu = 1300 }
            #expect(Planner.drift(desired: spec, observed: hostChanged, laterPluginsMayModify: true)
                == ["link veth1a2b3c4d has mtu 1300, want 1500"])
        }
    }
}
