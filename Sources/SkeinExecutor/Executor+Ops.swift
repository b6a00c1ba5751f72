// One plan operation against one netlink handle. "Exists already" on add and "gone already" on
// delete are success (the wrapper reports them as `false`), which is what makes a plan safe to
// re-apply after a crash.

import Glibc
import SkeinModel
import SkeinNetlink
import SkeinReducer

extension Executor {
    /// EEXIST from a route add says that *a* route to that destination exists, maybe through
    /// another device (the pod's eth0 default route, say). As in the reference plugins' IPAM
    /// ("the first one wins"), ours is then not added beside it; observation reports such a
    /// destination as routed elsewhere, so CHECK does not call it drift.
    func ensureRoute(_ route: SkeinModel.RouteSpec, oif: Int32, on h: NetlinkHandle) throws {
        _ = try h.routeAdd(Self.netlinkRoute(route, oif: oif))
    }

    func perform(_ op: PlanOp, on h: NetlinkHandle, in ns: NamespaceRef) throws {
        switch op {
        case .createBridge(let spec):
            // The wrapper itself refuses (EEXIST) a non-bridge link of that name.
            _ = try h.bridgeAdd(name: spec.name, mtu: spec.mtu, mac: spec.mac?.bytes)
            indexes[ns]![spec.name] = nil
        case .createVethPair(let hostEnd, let peer):
            try createVethPair(hostEnd, peer, on: h)
        case .createSubLink(let spec):
            try createSubLink(spec, on: h)
        case .setMTU(_, let name, let mtu):
            try h.linkSetMTU(index: index(name, ns, h), mtu: mtu)
        case .setMAC(_, let name, let mac):
            try h.linkSetMAC(index: index(name, ns, h), mac: mac.bytes)
        case .setMaster(_, let name, let master):
            try h.linkSetMaster(index: index(name, ns, h), masterIndex: index(master, ns, h))
        case .setHairpin(let name, let on):
            try h.bridgePortSetHairpin(index: index(name, ns, h), on: on)
        case .setPromisc(_, let name, let on):
            try h.linkSetPromisc(index: index(name, ns, h), on: on)
        case .setAllmulti(_, let name, let on):
            try h.linkSetAllmulti(index: index(name, ns, h), on: on)
        case .setTxQLen(_, let name, let n):
            try h.linkSetTxQLen(index: index(name, ns, h), txQLen: n)
        case .setUp(_, let name):
            try h.linkSetUp(index: index(name, ns, h))
        case .setDown(_, let name):
            try h.linkSetDown(index: index(name, ns, h))
        case .moveLink(_, let name, let to):
            try moveLink(name, from: ns, to: to, on: h)
        case .rename(_, let from, let to):
            try rename(from, to: to, in: ns, on: h)
        case .addrAdd(_, let name, let a):
            try addAddress(a, to: index(name, ns, h), noPrefixRoute: false, on: h)
        case .addrAddNoPrefixRoute(_, let name, let a):
            try addAddress(a, to: index(name, ns, h), noPrefixRoute: true, on: h)
        case .addrDel(_, let name, let a):
            _ = try h.addrDel(index: index(name, ns, h), family: a.address.isV4 ? .v4 : .v6,
                              address: a.address.bytes, prefixLength: UInt8(a.prefixLength))
        case .routeAdd(_, let name, let route):
            try ensureRoute(route, oif: index(name, ns, h), on: h)
        case .sysctl(let s):
            // /proc/sys/net follows the writing thread's netns: a container key needs a thread there.
            if s.namespace == .container, let containerNS {
                try withNetNS(containerNS) { _ in try sysctlWrite(s.key, s.value) }
            } else {
                try sysctlWrite(s.key, s.value)
            }
        case .linkDelete(_, let name):
            _ = try h.linkDelete(name: name)
            // Deleting a veth end takes its peer along, maybe in the other namespace: forget all.
            indexes = [.host: [:], .container: [:]]
        }
    }

    /// IPv4 gets its broadcast as the reference plugins' netlink library computes it; IPv6 skips
    /// DAD so nothing has to wait for the address to settle.
    private func addAddress(_ a: IPNetwork, to index: Int32, noPrefixRoute: Bool, on h: NetlinkHandle) throws {
        let v4 = a.address.isV4
        let broadcast = v4 && a.prefixLength < 31 ? a.broadcast.bytes : nil
        _ = try h.addrAdd(index: index, family: v4 ? .v4 : .v6, address: a.address.bytes,
                          prefixLength: UInt8(a.prefixLength), broadcast: broadcast, noDAD: !v4,
                          noPrefixRoute: noPrefixRoute)
    }

    private func createVethPair(_ hostEnd: LinkSpec, _ peer: LinkSpec, on h: NetlinkHandle) throws {
        guard hostEnd.namespace == .host else {
            throw ExecutorError(op: "veth \(hostEnd.name)", errno: EINVAL, message: "host end must be in the host netns")
        }
        // One MTU for both ends, the host end's: a peer that wants another (tuning's) gets it by
        // a setMTU of its own, which leaves the host end and its bridge alone.
        if let b = peer.mtu, b != hostEnd.mtu {
            throw ExecutorError(op: "veth \(hostEnd.name)", errno: EINVAL, message: "veth ends need one MTU")
        }
        var peerFD: Int32?
        if peer.namespace == .container {
            guard let containerNS else {
                throw ExecutorError(op: "veth \(hostEnd.name)", errno: ENOENT,
                                    message: "container network namespace does not exist")
            }
            peerFD = containerNS.fd
        }
        indexes[.host]![hostEnd.name] = nil
        indexes[peer.namespace]![peer.name] = nil
        do {
            try h.vethAdd(name: hostEnd.name, mac: hostEnd.mac?.bytes, mtu: hostEnd.mtu,
                          peerName: peer.name, peerMAC: peer.mac?.bytes, peerNetNSFD: peerFD)
        } catch let e as NetlinkError where e.errno == EEXIST {
            // Ours already (a re-applied plan) only if our host end is there as a veth: an EEXIST
            // caused by the peer's name alone means a foreign interface took it since we observed.
            guard try h.linkGet(name: hostEnd.name)?.kind == "veth" else { throw e }
        }
    }

    /// The link's ifindex in `ns`, asking the kernel only the first time.
    func index(_ name: String, _ ns: NamespaceRef, _ h: NetlinkHandle) throws -> Int32 {
        guard let i = try lookUpIndex(name, ns, h) else {
            throw ExecutorError(op: "ip link show \(name)", errno: ENODEV, message: "no link named \(name)")
        }
        return i
    }

    /// nil when `ns` has no link of that name.
    func lookUpIndex(_ name: String, _ ns: NamespaceRef, _ h: NetlinkHandle) throws -> Int32? {
        if let i = indexes[ns]![name] { return i }
        guard let link = try h.linkGet(name: name) else { return nil }
        indexes[ns]![name] = link.index
        return link.index
    }

    static func netlinkRoute(_ r: SkeinModel.RouteSpec, oif: Int32) -> SkeinNetlink.RouteSpec {
        let net = r.dst.masked
        return SkeinNetlink.RouteSpec(
            family: net.address.isV4 ? .v4 : .v6, dst: net.address.bytes, dstPrefixLength: UInt8(net.prefixLength),
            gateway: r.gateway?.bytes, oif: oif, table: r.table, priority: r.priority, scope: r.scope, mtu: r.mtu,
            prefsrc: r.src?.bytes)
    }

    static func modelRoute(_ r: SkeinNetlink.RouteSpec) -> SkeinModel.RouteSpec? {
        let any: IPAddress = r.family == .v4 ? .v4(0) : .v6(0, 0)
        let address = r.dst.isEmpty ? any : IPAddress(bytes: r.dst)
        guard let address, let dst = IPNetwork(address: address, prefixLength: Int(r.dstPrefixLength)) else {
            return nil
        }
        // routeList only reports the main table.
        return SkeinModel.RouteSpec(dst: dst, gateway: r.gateway.flatMap { IPAddress(bytes: $0) }, mtu: r.mtu,
                                    priority: r.priority, table: r.table ?? 254, scope: r.scope,
                                    src: r.prefsrc.flatMap { IPAddress(bytes: $0) })
    }
}
