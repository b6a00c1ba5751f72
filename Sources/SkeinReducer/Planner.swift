// The planner: a pure diff of an attachment's desired kernel state against what the executor
// observed, as ordered operations. Each operation is idempotent on its own ("exists already" and
// "gone already" are success in the executor), and the planner leaves out what the observation
// already shows right, so a retried ADD after a crash simply finishes the job and a fully applied
// attachment plans nothing.

import SkeinModel

public enum Planner {
    /// Ordered: bridges (create or adopt; MTU, MAC, promisc, up, gateway addresses), then the other
    /// links in spec order — a veth pair (created together, the peer directly in the container),
    /// its host end (master, hairpin, up) and container end (addresses, up, routes); a macvlan,
    /// ipvlan or vlan created directly in the container; a host-device moved in and renamed; lo
    /// brought up — each with its attributes (MTU, MAC, promisc, allmulti, txqueuelen, addresses,
    /// up, routes), then sysctls.
    public static func planAdd(desired: AttachmentSpec, observed: Observation) throws(PlanError) -> [PlanOp] {
        if needsContainer(desired) && !observed.containerNamespaceExists {
            throw PlanError(.namespaceMissing, "container network namespace does not exist")
        }
        var ops: [PlanOp] = []
        // Ports need their bridge: bridges go first whatever order the spec lists them in.
        for link in desired.links where link.kind == .bridge {
            try planBridge(link, observed, &ops)
        }
        for link in desired.links {
            switch link.kind {
            case .bridge:
                continue
            case .veth(let peerName):
                guard let peer = peerSpec(named: peerName, in: desired) else {
                    throw PlanError(.invalidSpec, "veth \(link.name): peer \(peerName) has no link spec")
                }
                try planVethPair(host: link, peer: peer, observed, &ops)
            case .vethPeer:
                guard hostSpec(ofPeer: link, in: desired) != nil else {
                    throw PlanError(.invalidSpec, "veth peer \(link.name) has no host end in the spec")
                }
            case .macvlan, .ipvlan, .vlan:
                try planSubLink(link, observed, &ops)
            case .hostDevice(let origin):
                try planHostDevice(link, origin, observed, &ops)
            case .loopback, .existing:
                guard let current = observed.link(named: link.name, in: link.namespace) else {
                    throw PlanError(.deviceMissing, "interface \(link.name) does not exist\(suffix(link.namespace))")
                }
                ensureLink(link, current: current, in: observed, &ops)
            }
        }
        for sysctl in desired.sysctls where !sysctlMatches(sysctl, observed) {
            ops.append(.sysctl(sysctl))
        }
        return ops
    }

    // MARK: - Bridge

    private static func planBridge(_ spec: LinkSpec, _ observed: Observation, _ ops: inout [PlanOp]) throws(PlanError) {
        guard let current = observed.link(named: spec.name, in: spec.namespace) else {
            ops.append(.createBridge(spec))
            ensureLink(spec, current: created(spec, kind: "bridge"), observedRoutes: [], &ops)
            return
        }
        guard current.kind == "bridge" else {
            throw PlanError(.notABridge, "\"\(spec.name)\" already exists but is not a bridge"
                + " (kind \(current.kind ?? "none"))")
        }
        try checkGatewayAddresses(spec, current: current.addresses)
        ensureLink(spec, current: current, observedRoutes: observed.routes(in: spec.namespace),
                   elsewhere: observed.routedElsewhere[spec.namespace] ?? [], &ops)
    }

    /// The reference bridge plugin's ensureAddr rule: any other IPv4 address on the bridge, or an
    /// IPv6 address whose subnet overlaps, conflicts with a wanted gateway address unless
    /// forceAddress lets us replace it.
    private static func checkGatewayAddresses(_ spec: LinkSpec, current: [IPNetwork]) throws(PlanError) {
        guard !spec.forceAddress else { return }
        for want in spec.addresses where !current.contains(want) {
            if let have = current.first(where: { !spec.addresses.contains($0) && conflicts($0, want) }) {
                throw PlanError(.addressConflict, "\"\(spec.name)\" already has an IP address different from"
                    + " \(want) (\(have))")
            }
        }
    }

    static func overlaps(_ a: IPNetwork, _ b: IPNetwork) -> Bool {
        a.contains(b.address) || b.contains(a.address)
    }

    static func conflicts(_ have: IPNetwork, _ want: IPNetwork) -> Bool {
        guard have.address.isV4 == want.address.isV4 else { return false }
        return want.address.isV4 ? have != want : overlaps(have, want)
    }

    // MARK: - veth pair

    private static func planVethPair(host: LinkSpec, peer: LinkSpec, _ observed: Observation,
                                     _ ops: inout [PlanOp]) throws(PlanError) {
        let hostNow = observed.link(named: host.name, in: host.namespace)
        let peerNow = observed.link(named: peer.name, in: peer.namespace)
        switch (hostNow, peerNow) {
        case (let h?, let p?):
            guard isOurPair(host: h, peer: p, peerSpec: peer) else {
                throw PlanError(.interfaceExists, "interface \(peer.name) already exists in the container"
                    + " and is not the peer of \(host.name)")
            }
            ensureLink(host, current: h, observedRoutes: observed.routes(in: host.namespace),
                       elsewhere: observed.routedElsewhere[host.namespace] ?? [], &ops)
            ensureLink(peer, current: p, observedRoutes: observed.routes(in: peer.namespace),
                       elsewhere: observed.routedElsewhere[peer.namespace] ?? [], &ops)
            return
        case (nil, .some):
            // A pair is created and destroyed as one: a peer without our host end is someone else's.
            throw PlanError(.interfaceExists, "interface \(peer.name) already exists in the container")
        case (let h?, nil):
            // Our host end outlived its peer (the peer was moved or renamed): replace the pair.
            guard h.kind == "veth", host.mac == nil || host.mac == h.mac else {
                throw PlanError(.interfaceExists, "host link \(host.name) already exists and is not our veth")
            }
            ops.append(.linkDelete(host.namespace, host.name))
        case (nil, nil):
            break
        }
        // Both ends are born with the host end's MTU: a peer tuned to another one gets it by its
        // own setMTU, so the host end, and with it the bridge, keep theirs (as the reference tuning
        // changes only the container interface).
        var peerAsCreated = peer
        peerAsCreated.mtu = host.mtu
        ops.append(.createVethPair(host: host, peer: peerAsCreated))
        ensureLink(host, current: created(host, kind: "veth"), observedRoutes: [], &ops)
        ensureLink(peer, current: created(peerAsCreated, kind: "veth"), observedRoutes: [], &ops)
    }

    /// Both ends are veths, the peer's MAC is the one the reducer chose, and where the kernel told
    /// us the ends' peer indexes they point at each other. `ignoringMAC` when a later, exec'ed
    /// plugin of the chain may have changed the peer's MAC: the index pairing, which nothing but
    /// a new pair changes, then decides alone.
    static func isOurPair(host: ObservedLink, peer: ObservedLink, peerSpec: LinkSpec, ignoringMAC: Bool = false) -> Bool {
        guard host.kind == "veth", peer.kind == "veth" else { return false }
        if !ignoringMAC, let mac = peerSpec.mac, peer.mac != mac { return false }
        if let p = host.peerIndex, p != peer.index { return false }
        if let h = peer.peerIndex, h != host.index { return false }
        return true
    }

    // MARK: - Link attributes

    /// What a link looks like right after the create operation: created with its MAC and MTU,
    /// down, unenslaved, no addresses.
    static func created(_ spec: LinkSpec, kind: String) -> ObservedLink {
        ObservedLink(name: spec.name, namespace: spec.namespace, index: 0, mac: spec.mac, mtu: spec.mtu ?? 0,
                     up: false, kind: kind, masterName: nil, promisc: false, addresses: [], hairpin: false, allmulti: false)
    }

    /// ensureLink with the routes the observation holds for the link's namespace.
    static func ensureLink(_ spec: LinkSpec, current: ObservedLink, in observed: Observation, _ ops: inout [PlanOp]) {
        ensureLink(spec, current: current, observedRoutes: observed.routes(in: spec.namespace),
                   elsewhere: observed.routedElsewhere[spec.namespace] ?? [], &ops)
    }

    /// The attribute diff shared by adopted, existing and just-created links.
    static func ensureLink(_ spec: LinkSpec, current: ObservedLink, observedRoutes: [RouteSpec],
                                   elsewhere: [IPNetwork] = [],
                                   _ ops: inout [PlanOp]) {
        let ns = spec.namespace
        // An adopted shared bridge keeps its MTU (as the reference's ensureBridge does): setting it
        // would pin it below its other ports', and two networks would fight over it. A bridge we
        // create gets the spec's MTU at creation.
        if let mtu = spec.mtu, current.mtu != mtu, !spec.shared { ops.append(.setMTU(ns, spec.name, mtu)) }
        // A shared bridge is adopted with the MAC it has: changing it would break its other ports' peers.
        if let mac = spec.mac, current.mac != mac, !spec.shared { ops.append(.setMAC(ns, spec.name, mac)) }
        // Promisc is only ever turned on: another network sharing the bridge may rely on it.
        if spec.promisc && !current.promisc { ops.append(.setPromisc(ns, spec.name, true)) }
        // Unknown (not read) counts as different: the op is idempotent and cheap.
        if let want = spec.allmulti, current.allmulti != want { ops.append(.setAllmulti(ns, spec.name, want)) }
        if let want = spec.txQLen, current.txQLen != want { ops.append(.setTxQLen(ns, spec.name, want)) }
        if let master = spec.master {
            let joining = current.masterName != master
            if joining { ops.append(.setMaster(ns, link: spec.name, master: master)) }
            // A port that just joined starts with hairpin off. An unknown flag is set when wanted on
            // (cheap and idempotent; otherwise a crash between master and hairpin would leave it off
            // for good) and left alone when wanted off (ports are born off).
            let hairpinNow = joining ? false : current.hairpin
            if hairpinNow.map({ $0 != spec.hairpin }) ?? spec.hairpin {
                ops.append(.setHairpin(spec.name, spec.hairpin))
            }
        }
        let upFirst = spec.kind == .bridge
        if upFirst && spec.up && !current.up { ops.append(.setUp(ns, spec.name)) }
        if spec.forceAddress {
            for have in current.addresses where !spec.addresses.contains(have)
                && spec.addresses.contains(where: { conflicts(have, $0) }) {
                ops.append(.addrDel(ns, spec.name, have))
            }
        }
        for want in spec.addresses where !current.addresses.contains(want) {
            ops.append(spec.noPrefixRoute ? .addrAddNoPrefixRoute(ns, spec.name, want) : .addrAdd(ns, spec.name, want))
        }
        if !upFirst && spec.up && !current.up { ops.append(.setUp(ns, spec.name)) }
        // A destination another device already serves keeps that route: "the first one wins".
        for route in spec.routes where !observedRoutes.contains(where: { routeMatches(route, $0) })
            && !elsewhere.contains(route.dst.masked) {
            ops.append(.routeAdd(ns, link: spec.name, route))
        }
    }

    /// Fields the spec leaves nil are whatever the kernel chose (metric, table, scope).
    public static func routeMatches(_ want: RouteSpec, _ have: RouteSpec) -> Bool {
        want.dst.masked == have.dst.masked && want.gateway == have.gateway
            && (want.mtu == nil || want.mtu == have.mtu)
            && (want.priority == nil || want.priority == have.priority)
            && (want.table == nil || want.table == have.table)
            && (want.scope == nil || want.scope == have.scope)
            && (want.src == nil || want.src == have.src)
    }

    static func sysctlMatches(_ want: SysctlSpec, _ observed: Observation) -> Bool {
        guard let value = observed.sysctlValue(want) else { return false }
        return normalized(value) == normalized(want.value)
    }

    /// Multi-value sysctls read back tab-separated ("4096\t87380\t6291456").
    private static func normalized(_ value: String) -> [Substring] {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
    }

    // MARK: - Spec lookups

    static func needsContainer(_ spec: AttachmentSpec) -> Bool {
        spec.links.contains { $0.namespace == .container } || spec.sysctls.contains { $0.namespace == .container }
    }

    static func peerSpec(named name: String, in spec: AttachmentSpec) -> LinkSpec? {
        spec.links.first { $0.name == name && $0.kind == .vethPeer }
    }

    static func hostSpec(ofPeer peer: LinkSpec, in spec: AttachmentSpec) -> LinkSpec? {
        spec.links.first { $0.kind == .veth(peer: peer.name) }
    }

    static func suffix(_ ns: NamespaceRef) -> String {
        ns == .container ? " (netns container)" : ""
    }
}
