// CHECK's report: every way the kernel differs from the spec, one line each, for a human. It
// judges by the same rules as planAdd (adopted bridges keep their MAC, promisc is only required
// on, fields a spec leaves nil are not compared), so "in sync" here means planAdd plans nothing
// (save a hairpin, allmulticast or txqueuelen the kernel did not report, which planAdd re-sets to
// be safe). Every kind: the link exists, is of the kind we create (a host-device is the device
// recorded as its origin), and has the spec's MTU, MAC, flags, addresses and routes; sysctls.
//
// When the chain goes on with exec'ed plugins (`laterPluginsMayModify`), those ran after the
// built-in part and may legitimately have changed the container's interfaces — tuning sets MAC,
// MTU, promisc, allmulticast, txqueuelen and sysctls — and their own CHECK judges those. Then
// ownership rests on what they cannot change (a veth pair's peer indexes, a host-device's
// ifindex), and those attributes and the container's sysctls are not compared.

import SkeinModel

extension Planner {
    public static func drift(desired: AttachmentSpec, observed: Observation,
                             laterPluginsMayModify: Bool = false) -> [String] {
        var out: [String] = []
        if needsContainer(desired) && !observed.containerNamespaceExists {
            out.append("container network namespace does not exist")
        }
        for spec in desired.links {
            if spec.namespace == .container && !observed.containerNamespaceExists { continue }
            guard let link = observed.link(named: spec.name, in: spec.namespace) else {
                out.append("link \(spec.name) is missing\(suffix(spec.namespace))")
                continue
            }
            if case .hostDevice(let origin) = spec.kind, !isOurDevice(link, spec, origin, observed) {
                out.append("link \(spec.name)\(suffix(spec.namespace)) is not host device \(origin.name)")
            }
            out += linkDrift(spec, link, tunable: laterPluginsMayModify && spec.namespace == .container)
            out += routeDrift(spec, observed.routes(in: spec.namespace), elsewhere: observed.routedElsewhere[spec.namespace] ?? [])
            if case .veth(let peerName) = spec.kind, let peer = peerSpec(named: peerName, in: desired),
               let peerNow = observed.link(named: peer.name, in: peer.namespace),
               !isOurPair(host: link, peer: peerNow, peerSpec: peer, ignoringMAC: laterPluginsMayModify) {
                out.append("link \(peer.name) (netns container) is not the peer of \(spec.name)")
            }
        }
        for sysctl in desired.sysctls where !sysctlMatches(sysctl, observed)
            && !(laterPluginsMayModify && sysctl.namespace == .container) {
            let now = observed.sysctlValue(sysctl).map { "is \($0)" } ?? "could not be read"
            out.append("sysctl \(sysctl.key)\(suffix(sysctl.namespace)) \(now), want \(sysctl.value)")
        }
        return out
    }

    /// `tunable`: a later plugin may have changed the link's tunable attributes; skip them.
    private static func linkDrift(_ spec: LinkSpec, _ link: ObservedLink, tunable: Bool) -> [String] {
        let name = "link \(spec.name)\(suffix(spec.namespace))"
        var out: [String] = []
        if let wantKind = kindName(spec.kind), link.kind != wantKind {
            out.append("\(name) is of kind \(link.kind ?? "none"), want \(wantKind)")
        }
        if !tunable { out += tunableDrift(spec, link, name) }
        if let master = spec.master, link.masterName != master {
            out.append("\(name) has master \(link.masterName ?? "none"), want \(master)")
        }
        if spec.master != nil, let hairpin = link.hairpin, hairpin != spec.hairpin {
            out.append("\(name) has hairpin \(hairpin ? "on" : "off"), want \(spec.hairpin ? "on" : "off")")
        }
        if spec.up && !link.up { out.append("\(name) is down") }
        for want in spec.addresses where !link.addresses.contains(want) {
            out.append("address \(want) is missing on \(spec.name)\(suffix(spec.namespace))")
        }
        if spec.forceAddress {
            for have in link.addresses where !spec.addresses.contains(have)
                && spec.addresses.contains(where: { overlaps($0, have) }) {
                out.append("address \(have) on \(spec.name)\(suffix(spec.namespace)) is not wanted")
            }
        }
        return out
    }

    /// The attributes tuning sets.
    private static func tunableDrift(_ spec: LinkSpec, _ link: ObservedLink, _ name: String) -> [String] {
        var out: [String] = []
        if let mtu = spec.mtu, link.mtu != mtu { out.append("\(name) has mtu \(link.mtu), want \(mtu)") }
        if let mac = spec.mac, link.mac != mac, !spec.shared {
            out.append("\(name) has address \(link.mac.map { "\($0)" } ?? "none"), want \(mac)")
        }
        if spec.promisc && !link.promisc { out.append("\(name) is not promiscuous") }
        if let want = spec.allmulti, let have = link.allmulti, have != want {
            out.append("\(name) has allmulticast \(have ? "on" : "off"), want \(want ? "on" : "off")")
        }
        if let want = spec.txQLen, let have = link.txQLen, have != want {
            out.append("\(name) has txqueuelen \(have), want \(want)")
        }
        return out
    }

    private static func routeDrift(_ spec: LinkSpec, _ routes: [RouteSpec], elsewhere: [IPNetwork]) -> [String] {
        spec.routes.filter { want in
            !routes.contains { routeMatches(want, $0) } && !elsewhere.contains(want.dst.masked)
        }.map {
            "route \(PlanOp.routeText($0)) dev \(spec.name) is missing\(suffix(spec.namespace))"
        }
    }
}
