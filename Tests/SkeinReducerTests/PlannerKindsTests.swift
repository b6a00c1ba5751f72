// The planner for the kinds beyond bridge + veth: exact plans, re-planning after every prefix of a
// plan (ADD and DEL), conflicts, teardown idempotence and drift. These are the only tests of the
// ipvlan and vlan plans on a kernel without those link types.

import SkeinModel
import Testing
@testable import SkeinReducer

private let parentMAC = MACAddress("52:54:00:00:00:01")!
private let ourMAC = MACAddress("02:00:00:00:00:02")!
private let route = RouteSpec(dst: Fx.net("0.0.0.0/0"), gateway: Fx.ip("10.9.0.1"))
private let arpNotify = SysctlSpec(key: "net/ipv4/conf/net1/arp_notify", value: "1", namespace: .container)

private func subLink(_ kind: LinkKind, mac: MACAddress? = nil) -> AttachmentSpec {
    AttachmentSpec(links: [LinkSpec(name: "net1", namespace: .container, kind: kind, mac: mac, mtu: 1400,
                                    addresses: [Fx.net("10.9.0.2/24")], routes: [route])],
                   sysctls: [arpNotify])
}

private let macvlan = subLink(.macvlan(parent: ParentRef(name: "eth1", namespace: .host), mode: "bridge"), mac: ourMAC)
private let ipvlan = subLink(.ipvlan(parent: ParentRef(name: "eth1", namespace: .host), mode: "l2"))
private let vlan = subLink(.vlan(parent: ParentRef(name: "eth1", namespace: .container), id: 42))

private func planError(_ spec: AttachmentSpec, _ observed: Observation) -> PlanError? {
    do {
        _ = try Planner.planAdd(desired: spec, observed: observed)
        return nil
    } catch {
        return error
    }
}

/// Plans `spec` from `start`, checks every prefix, and returns the world after the whole plan.
private func applyChecked(_ spec: AttachmentSpec, from start: Observation, sourceLocation: SourceLocation = #_sourceLocation) throws -> Observation {
    var world = start
    let plan = try Planner.planAdd(desired: spec, observed: start)
    let problems = try world.checkPrefixes(plan) { try Planner.planAdd(desired: spec, observed: $0) }
    #expect(problems == [], sourceLocation: sourceLocation)
    #expect(Planner.drift(desired: spec, observed: world) == [], sourceLocation: sourceLocation)
    return world
}

/// Tears `spec` down from `start`, checks every prefix, and that the result plans nothing more.
private func tearDownChecked(_ spec: AttachmentSpec, from start: Observation, sourceLocation: SourceLocation = #_sourceLocation) -> Observation {
    var world = start
    let plan = Planner.planTeardown(desired: spec, observed: start)
    let problems = world.checkPrefixes(plan) { Planner.planTeardown(desired: spec, observed: $0) }
    #expect(problems == [], sourceLocation: sourceLocation)
    #expect(Planner.planTeardown(desired: spec, observed: world) == [], sourceLocation: sourceLocation)
    return world
}

@Suite struct PlannerKindsTests {}

// MARK: - macvlan, ipvlan, vlan

extension PlannerKindsTests {
    @Suite struct SubLinks {
        @Test(arguments: [macvlan, ipvlan, vlan])
        func freshPlanCreatesInTheContainerThenAttributes(spec: AttachmentSpec) throws {
            let link = spec.links[0]
            #expect(try Planner.planAdd(desired: spec, observed: Observation()) == [
                .createSubLink(link),
                .addrAdd(.container, "net1", Fx.net("10.9.0.2/24")),
                .setUp(.container, "net1"),
                .routeAdd(.container, link: "net1", route),
                .sysctl(arpNotify),
            ])
        }

        @Test(arguments: [macvlan, ipvlan, vlan])
        func everyPrefixReplansTheRestAndTeardownIsIdempotent(spec: AttachmentSpec) throws {
            let world = try applyChecked(spec, from: Observation())
            #expect(try Planner.planAdd(desired: spec, observed: world) == [])
            #expect(Planner.planTeardown(desired: spec, observed: world) == [.linkDelete(.container, "net1")])
            let after = tearDownChecked(spec, from: world)
            #expect(after.link(named: "net1", in: .container) == nil)
        }

        @Test func descriptionsReadLikeIproute2() {
            #expect(PlanOp.createSubLink(macvlan.links[0]).description
                == "ip link add net1 address 02:00:00:00:00:02 mtu 1400 link eth1 type macvlan mode bridge netns container")
            #expect(PlanOp.createSubLink(ipvlan.links[0]).description
                == "ip link add net1 mtu 1400 link eth1 type ipvlan mode l2 netns container")
            // A parent in the container: created there, so no netns hop.
            #expect(PlanOp.createSubLink(vlan.links[0]).description == "ip link add net1 mtu 1400 link eth1 type vlan id 42 (netns container)")
            #expect(PlanOp.createSubLink(ipvlan.links[0]).namespace == .host)
            #expect(PlanOp.createSubLink(vlan.links[0]).namespace == .container)
        }

        @Test func aLinkOfAnotherKindOrMACIsNotOurs() {
            let foreignKind = Observation(links: [ObservedLink(name: "net1", namespace: .container, index: 5, mac: ourMAC, kind: "veth")])
            #expect(planError(macvlan, foreignKind)?.kind == .interfaceExists)
            #expect(Planner.planTeardown(desired: macvlan, observed: foreignKind) == [])
            let foreignMAC = Observation(links: [ObservedLink(name: "net1", namespace: .container, index: 5, mac: parentMAC, kind: "macvlan")])
            #expect(planError(macvlan, foreignMAC)?.kind == .interfaceExists)
            #expect(Planner.planTeardown(desired: macvlan, observed: foreignMAC) == [])
            // An ipvlan has no MAC of its own to tell by: the kind is the evidence.
            let otherIPvlan = Observation(links: [ObservedLink(name: "net1", namespace: .container, index: 5, mac: parentMAC, kind: "ipvlan")])
            #expect(Planner.planTeardown(desired: ipvlan, observed: otherIPvlan) == [.linkDelete(.container, "net1")])
        }

        @Test func teardownWithTheNamespaceGonePlansNothing() {
            var observed = Observation(links: [ObservedLink(name: "net1", namespace: .container, index: 5, mac: ourMAC, kind: "macvlan")])
            observed.containerNamespaceExists = false
            #expect(Planner.planTeardown(desired: macvlan, observed: observed) == [])
            #expect(planError(macvlan, observed)?.kind == .namespaceMissing)
        }

        @Test func driftNamesWrongKindAndModeOfAttributes() throws {
            var spec = macvlan
            spec.links[0].allmulti = true
            spec.links[0].txQLen = 500
            let link = ObservedLink(name: "net1", namespace: .container, index: 5, mac: ourMAC, mtu: 1400, up: true,
                                    kind: "ipvlan", addresses: [Fx.net("10.9.0.2/24")], allmulti: false, txQLen: 1000)
            var observed = Observation(links: [link], containerRoutes: [route], sysctls: [arpNotify])
            #expect(Planner.drift(desired: spec, observed: observed) == [
                "link net1 (netns container) is of kind ipvlan, want macvlan",
                "link net1 (netns container) has allmulticast off, want on",
                "link net1 (netns container) has txqueuelen 1000, want 500",
            ])
            // Not read: planned again (cheap, idempotent) but no drift claimed.
            observed.links[0].kind = "macvlan"
            observed.links[0].allmulti = nil
            observed.links[0].txQLen = nil
            #expect(Planner.drift(desired: spec, observed: observed) == [])
            #expect(try Planner.planAdd(desired: spec, observed: observed)
                == [.setAllmulti(.container, "net1", true), .setTxQLen(.container, "net1", 500)])
        }
    }
}

// MARK: - ptp

extension PlannerKindsTests {
    @Test func ptpPlanAddsWithoutPrefixRouteAndRoutesWithSource() throws {
        let r = Fx.request(#"{"type":"ptp","ipam":{"type":"host-local","subnet":"10.7.0.0/24","routes":[{"dst":"0.0.0.0/0"}]}}"#)
        let spec = try #require(Fx.decide(r)).spec
        let (host, peer) = (spec.links[0], spec.links[1])
        let plan = try Planner.planAdd(desired: spec, observed: Observation())
        #expect(plan == [
            .createVethPair(host: host, peer: peer),
            .addrAdd(.host, host.name, Fx.net("10.7.0.1/32")),
            .setUp(.host, host.name),
            .routeAdd(.host, link: host.name, RouteSpec(dst: Fx.net("10.7.0.2/32"), scope: 254)),
            .addrAddNoPrefixRoute(.container, "net1", Fx.net("10.7.0.2/24")),
            .setUp(.container, "net1"),
            .routeAdd(.container, link: "net1", RouteSpec(dst: Fx.net("10.7.0.1/32"), scope: 253, src: Fx.ip("10.7.0.2"))),
            .routeAdd(.container, link: "net1", RouteSpec(dst: Fx.net("10.7.0.0/24"), gateway: Fx.ip("10.7.0.1"), src: Fx.ip("10.7.0.2"))),
            .routeAdd(.container, link: "net1", RouteSpec(dst: Fx.net("0.0.0.0/0"), gateway: Fx.ip("10.7.0.1"))),
            .sysctl(SysctlSpec(key: "net/ipv4/ip_forward", value: "1", namespace: .host)),
        ])
        #expect(PlanOp.addrAddNoPrefixRoute(.container, "net1", Fx.net("10.7.0.2/24")).description
            == "ip addr add 10.7.0.2/24 dev net1 noprefixroute (netns container)")
        let world = try applyChecked(spec, from: Observation())
        #expect(tearDownChecked(spec, from: world).link(named: host.name, in: .host) == nil)
    }

    /// A route with the right destination and gateway but another source is not the route ptp wants.
    @Test func routeSourceIsCompared() {
        let want = RouteSpec(dst: Fx.net("10.7.0.0/24"), gateway: Fx.ip("10.7.0.1"), src: Fx.ip("10.7.0.2"))
        #expect(Planner.routeMatches(want, RouteSpec(dst: Fx.net("10.7.0.0/24"), gateway: Fx.ip("10.7.0.1"), scope: 0, src: Fx.ip("10.7.0.2"))))
        #expect(!Planner.routeMatches(want, RouteSpec(dst: Fx.net("10.7.0.0/24"), gateway: Fx.ip("10.7.0.1"), src: Fx.ip("10.7.0.3"))))
        #expect(!Planner.routeMatches(want, RouteSpec(dst: Fx.net("10.7.0.0/24"), gateway: Fx.ip("10.7.0.1"))))
    }
}

// MARK: - loopback

extension PlannerKindsTests {
    @Test func loopbackUpThenDown() throws {
        let spec = AttachmentSpec(links: [LinkSpec(name: "lo", namespace: .container, kind: .loopback, up: true)])
        let lo = ObservedLink(name: "lo", namespace: .container, index: 1, mac: nil, mtu: 65536, up: false)
        let down = Observation(links: [lo])
        #expect(try Planner.planAdd(desired: spec, observed: down) == [.setUp(.container, "lo")])
        let up = try applyChecked(spec, from: down)
        #expect(Planner.planTeardown(desired: spec, observed: up) == [.setDown(.container, "lo")])
        _ = tearDownChecked(spec, from: up)
        #expect(planError(spec, Observation())?.kind == .deviceMissing)
        var gone = up
        gone.containerNamespaceExists = false
        #expect(Planner.planTeardown(desired: spec, observed: gone) == [])
    }
}
