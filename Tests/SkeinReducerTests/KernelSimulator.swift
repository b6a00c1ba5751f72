// A kernel model for planner tests, just faithful enough to check that re-planning after any
// prefix of a plan plans exactly the rest (what a retried ADD or DEL after a crash relies on),
// and that a teardown, once applied, plans nothing.

import SkeinModel
@testable import SkeinReducer

extension Observation {
    func replacing(_ name: String, in ns: NamespaceRef, _ change: (inout ObservedLink) -> Void) -> Observation {
        var copy = self
        let i = copy.links.firstIndex { $0.name == name && $0.namespace == ns }!
        change(&copy.links[i])
        return copy
    }

    func removing(_ name: String, in ns: NamespaceRef) -> Observation {
        var copy = self
        copy.links.removeAll { $0.name == name && $0.namespace == ns }
        return copy
    }

    private var nextIndex: Int32 { (links.map(\.index).max() ?? 0) + 1 }

    /// Links are created down, without addresses, allmulticast off and txqueuelen unread.
    mutating func simulate(_ op: PlanOp) {
        switch op {
        case .createBridge(let s):
            links.append(ObservedLink(name: s.name, namespace: s.namespace, index: nextIndex, mac: s.mac,
                                      mtu: s.mtu ?? 1500, kind: "bridge", allmulti: false))
        case .createVethPair(let h, let p):
            let hi = nextIndex
            links.append(ObservedLink(name: h.name, namespace: h.namespace, index: hi, mac: h.mac,
                                      mtu: h.mtu ?? 1500, kind: "veth", peerIndex: 2, allmulti: false))
            // Both ends get the host end's MTU, as the executor creates them.
            links.append(ObservedLink(name: p.name, namespace: p.namespace, index: 2, mac: p.mac,
                                      mtu: h.mtu ?? 1500, kind: "veth", peerIndex: hi, allmulti: false))
        case .createSubLink(let s):
            links.append(ObservedLink(name: s.name, namespace: s.namespace, index: nextIndex, mac: s.mac,
                                      mtu: s.mtu ?? 1500, kind: Planner.kindName(s.kind), allmulti: false))
        case .setUp(let ns, let n): self = replacing(n, in: ns) { $0.up = true }
        case .setDown(let ns, let n): self = replacing(n, in: ns) { $0.up = false }
        case .setMTU(let ns, let n, let m): self = replacing(n, in: ns) { $0.mtu = m }
        case .setMAC(let ns, let n, let m): self = replacing(n, in: ns) { $0.mac = m }
        case .setMaster(let ns, let n, let m): self = replacing(n, in: ns) { $0.masterName = m; $0.hairpin = false }
        case .setHairpin(let n, let on): self = replacing(n, in: .host) { $0.hairpin = on }
        case .setPromisc(let ns, let n, let on): self = replacing(n, in: ns) { $0.promisc = on }
        case .setAllmulti(let ns, let n, let on): self = replacing(n, in: ns) { $0.allmulti = on }
        case .setTxQLen(let ns, let n, let q): self = replacing(n, in: ns) { $0.txQLen = q }
        case .addrAdd(let ns, let n, let a), .addrAddNoPrefixRoute(let ns, let n, let a):
            self = replacing(n, in: ns) { $0.addresses.append(a) }
        case .addrDel(let ns, let n, let a): self = replacing(n, in: ns) { $0.addresses.removeAll { $0 == a } }
        case .routeAdd(.container, _, let r): containerRoutes.append(r)
        case .routeAdd(.host, _, let r): hostRoutes.append(r)
        case .sysctl(let s):
            sysctls.removeAll { $0.key == s.key && $0.namespace == s.namespace }
            sysctls.append(s)
        case .linkDelete(let ns, let n): self = removing(n, in: ns)
        case .rename(let ns, let from, let to): self = replacing(from, in: ns) { $0.name = to }
        case .moveLink(let from, let n, let to):
            // A move takes the device down and drops its addresses.
            self = replacing(n, in: from) { $0.namespace = to; $0.up = false; $0.addresses = [] }
        }
    }

    /// Applies `plan` op by op; after each, planning again must give exactly the rest of it.
    mutating func checkPrefixes(_ plan: [PlanOp], replan: (Observation) throws -> [PlanOp]) rethrows -> [String] {
        var problems: [String] = []
        for (i, op) in plan.enumerated() {
            simulate(op)
            let rest = try replan(self)
            if rest != Array(plan[(i + 1)...]) { problems.append("after op \(i) (\(op)): \(rest)") }
        }
        return problems
    }
}
