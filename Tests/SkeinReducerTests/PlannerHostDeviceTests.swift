// host-device plans: into the container under CNI_IFNAME and home again under its original name,
// from every state an interrupted ADD or DEL (or a netns that died) can leave it in.

import SkeinModel
import Testing
@testable import SkeinReducer

private let deviceMAC = MACAddress("52:54:00:00:00:09")!
private let tunedMAC = MACAddress("02:00:00:00:00:99")!
private let origin = HostDeviceOrigin(name: "eth9", index: 9, mac: deviceMAC, mtu: 1500)
private let route = RouteSpec(dst: Fx.net("0.0.0.0/0"), gateway: Fx.ip("192.0.2.1"))

/// host-device with static addressing, tuned to another MAC and MTU.
private let spec = AttachmentSpec(links: [LinkSpec(name: "net1", namespace: .container, kind: .hostDevice(origin),
                                                   mac: tunedMAC, mtu: 9000, addresses: [Fx.net("192.0.2.10/24")],
                                                   routes: [route])])

private let inHost = Observation(links: [ObservedLink(name: "eth9", namespace: .host, index: 9, mac: deviceMAC, mtu: 1500,
                                                      up: true, kind: nil, addresses: [Fx.net("198.51.100.9/24")])])

private func planError(_ observed: Observation) -> PlanError? {
    do {
        _ = try Planner.planAdd(desired: spec, observed: observed)
        return nil
    } catch {
        return error
    }
}

@Suite struct PlannerHostDeviceTests {
    static let attributes: [PlanOp] = [
        .setMTU(.container, "net1", 9000),
        .setMAC(.container, "net1", tunedMAC),
        .addrAdd(.container, "net1", Fx.net("192.0.2.10/24")),
        .setUp(.container, "net1"),
        .routeAdd(.container, link: "net1", route),
    ]

    @Test func fromTheHostDownMoveRenameThenAttributes() throws {
        let plan = try Planner.planAdd(desired: spec, observed: inHost)
        #expect(plan == [.setDown(.host, "eth9"), .moveLink(from: .host, "eth9", to: .container),
                         .rename(.container, from: "eth9", to: "net1")] + Self.attributes)
        #expect(plan[1].description == "ip link set dev eth9 netns container")
        #expect(plan[2].description == "ip link set dev eth9 name net1 (netns container)")
    }

    @Test func everyPrefixOfAddAndDelReplansTheRest() throws {
        var world = inHost
        let add = try Planner.planAdd(desired: spec, observed: inHost)
        #expect(try world.checkPrefixes(add) { try Planner.planAdd(desired: spec, observed: $0) } == [])
        #expect(Planner.drift(desired: spec, observed: world) == [])
        let del = Planner.planTeardown(desired: spec, observed: world)
        #expect(del == [.setDown(.container, "net1"), .setMAC(.container, "net1", deviceMAC), .setMTU(.container, "net1", 1500),
                        .rename(.container, from: "net1", to: "eth9"), .moveLink(from: .container, "eth9", to: .host)])
        #expect(world.checkPrefixes(del) { Planner.planTeardown(desired: spec, observed: $0) } == [])
        // Home under its name, MAC and MTU: DEL again plans nothing, ADD again starts over.
        let home = try #require(world.link(named: "eth9", in: .host))
        #expect(home.mac == deviceMAC && home.mtu == 1500 && !home.up)
        #expect(Planner.planTeardown(desired: spec, observed: world) == [])
        #expect(try Planner.planAdd(desired: spec, observed: world).first == .moveLink(from: .host, "eth9", to: .container))
    }

    @Test func leftInTheContainerUnderItsHostNameIsRenamedAndFinished() throws {
        let left = Observation(links: [ObservedLink(name: "eth9", namespace: .container, index: 3, mac: deviceMAC, mtu: 1500)])
        #expect(try Planner.planAdd(desired: spec, observed: left) == [.rename(.container, from: "eth9", to: "net1")] + Self.attributes)
        #expect(Planner.planTeardown(desired: spec, observed: left) == [.moveLink(from: .container, "eth9", to: .host)])
    }

    @Test func alreadyInPlaceOnlyEnsuresAttributes() throws {
        // Renumbered by the move (index 3 inside), recognised by the MAC tuning gave it.
        let inPlace = Observation(links: [ObservedLink(name: "net1", namespace: .container, index: 3, mac: tunedMAC, mtu: 9000,
                                                       up: true, addresses: [Fx.net("192.0.2.10/24")])],
                                  containerRoutes: [route])
        #expect(try Planner.planAdd(desired: spec, observed: inPlace) == [])
        #expect(Planner.drift(desired: spec, observed: inPlace) == [])
    }

    @Test func conflictsAndAMissingDevice() {
        // Another device named net1 in the container: not ours.
        let foreign = inHost.adding(ObservedLink(name: "net1", namespace: .container, index: 9, mac: MACAddress("02:12:00:00:00:01")))
        #expect(planError(foreign)?.kind == .interfaceExists)
        #expect(Planner.drift(desired: spec, observed: foreign).contains("link net1 (netns container) is not host device eth9"))
        // The container has its own eth9: ours cannot move in under that name.
        let clash = inHost.adding(ObservedLink(name: "eth9", namespace: .container, index: 2, mac: MACAddress("02:12:00:00:00:02")))
        #expect(planError(clash)?.kind == .interfaceExists)
        #expect(planError(Observation())?.kind == .deviceMissing)
    }

    /// The netns died with the device inside: the kernel handed it back, renamed since its name
    /// was taken meanwhile, still with the tuned MAC and MTU.
    @Test func backInTheHostAfterTheNetnsDied() {
        var observed = Observation(links: [ObservedLink(name: "dev7", namespace: .host, index: 9, mac: tunedMAC, mtu: 9000)])
        observed.containerNamespaceExists = false
        #expect(Planner.planTeardown(desired: spec, observed: observed)
            == [.setMAC(.host, "dev7", deviceMAC), .setMTU(.host, "dev7", 1500), .rename(.host, from: "dev7", to: "eth9")])
        var world = observed
        #expect(world.checkPrefixes(Planner.planTeardown(desired: spec, observed: observed)) {
            Planner.planTeardown(desired: spec, observed: $0)
        } == [])
        #expect(world.link(named: "eth9", in: .host)?.mac == deviceMAC)
        // Its name taken in the host by someone else: MAC and MTU back, the name left as it is.
        let taken = observed.adding(ObservedLink(name: "eth9", namespace: .host, index: 30, kind: "dummy"))
        #expect(Planner.planTeardown(desired: spec, observed: taken) == [.setMAC(.host, "dev7", deviceMAC), .setMTU(.host, "dev7", 1500)])
    }

    /// The container already has an interface named like the device's origin: it leaves under
    /// CNI_IFNAME and is renamed in the host.
    @Test func originNameTakenInTheContainer() {
        let observed = Observation(links: [
            ObservedLink(name: "net1", namespace: .container, index: 3, mac: deviceMAC, mtu: 1500),
            ObservedLink(name: "eth9", namespace: .container, index: 4, mac: MACAddress("02:12:00:00:00:02")),
        ])
        #expect(Planner.planTeardown(desired: spec, observed: observed)
            == [.moveLink(from: .container, "net1", to: .host), .rename(.host, from: "net1", to: "eth9")])
    }

    /// Something in the pod (an exec'ed tuning, an operator) changed the device's MAC after ADD:
    /// it keeps its ifindex, which is what finds it — for DEL, which must not strand it in the
    /// pod, and for CHECK, where only the MAC's drift is reported, and not even that when a later
    /// exec'ed plugin may have changed it.
    @Test func aMACChangedInThePodDoesNotHideTheDevice() throws {
        let remac = MACAddress("02:25:00:0e:00:77")!
        let observed = Observation(links: [ObservedLink(name: "net1", namespace: .container, index: 9, mac: remac, mtu: 9000,
                                                        up: true, addresses: [Fx.net("192.0.2.10/24")])],
                                   containerRoutes: [route])
        #expect(Planner.planTeardown(desired: spec, observed: observed) == [
            .setDown(.container, "net1"), .setMAC(.container, "net1", deviceMAC), .setMTU(.container, "net1", 1500),
            .rename(.container, from: "net1", to: "eth9"), .moveLink(from: .container, "eth9", to: .host)])
        var world = observed
        #expect(world.checkPrefixes(Planner.planTeardown(desired: spec, observed: observed)) {
            Planner.planTeardown(desired: spec, observed: $0)
        } == [])
        #expect(world.link(named: "eth9", in: .host)?.index == 9)
        #expect(Planner.drift(desired: spec, observed: observed) == ["link net1 (netns container) has address \(remac), want \(tunedMAC)"])
        #expect(Planner.drift(desired: spec, observed: observed, laterPluginsMayModify: true) == [])
        #expect(try Planner.planAdd(desired: spec, observed: observed) == [.setMAC(.container, "net1", tunedMAC)])
    }

    /// promisc, allmulticast and txqueuelen that tuning set go back to the origin's on the way
    /// home (only those: what the attachment did not set is not its to restore).
    @Test func tunedFlagsAndQueueLengthAreRestored() throws {
        let origin = HostDeviceOrigin(name: "eth9", index: 9, mac: deviceMAC, mtu: 1500, allmulti: true, txQLen: 1000)
        var tuned = spec
        tuned.links[0].kind = .hostDevice(origin)
        tuned.links[0].promisc = true
        tuned.links[0].allmulti = false
        tuned.links[0].txQLen = 5000
        var world = inHost.replacing("eth9", in: .host) { $0.allmulti = true; $0.txQLen = 1000 }
        let add = try Planner.planAdd(desired: tuned, observed: world)
        #expect(Array(add[3...6]) == [.setMTU(.container, "net1", 9000), .setMAC(.container, "net1", tunedMAC),
                                      .setPromisc(.container, "net1", true), .setAllmulti(.container, "net1", false)])
        #expect(add[7] == .setTxQLen(.container, "net1", 5000))
        #expect(try world.checkPrefixes(add) { try Planner.planAdd(desired: tuned, observed: $0) } == [])
        let del = Planner.planTeardown(desired: tuned, observed: world)
        #expect(del == [.setDown(.container, "net1"), .setMAC(.container, "net1", deviceMAC), .setMTU(.container, "net1", 1500),
                        .setPromisc(.container, "net1", false), .setAllmulti(.container, "net1", true),
                        .setTxQLen(.container, "net1", 1000),
                        .rename(.container, from: "net1", to: "eth9"), .moveLink(from: .container, "eth9", to: .host)])
        #expect(world.checkPrefixes(del) { Planner.planTeardown(desired: tuned, observed: $0) } == [])
        let home = try #require(world.link(named: "eth9", in: .host))
        #expect(!home.promisc && home.allmulti == true && home.txQLen == 1000)
        // Untuned, the same device's flags are left as they are.
        #expect(Planner.planTeardown(desired: spec, observed: world.replacing("eth9", in: .host) { $0.promisc = true }) == [])
    }

    @Test func untouchedInTheHostPlansNothing() {
        #expect(Planner.planTeardown(desired: spec, observed: inHost) == [])
    }
}

private extension Observation {
    func adding(_ link: ObservedLink) -> Observation {
        var copy = self
        copy.links.append(link)
        return copy
    }
}
