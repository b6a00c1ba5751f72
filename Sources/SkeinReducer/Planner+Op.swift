// Plan operations: one kernel change each, named after the iproute2 verb that does the same, so a
// log line or journal entry reads like the command an operator would type to repair by hand.

import SkeinModel

public enum PlanOp: Equatable, Sendable, CustomStringConvertible {
    case createBridge(LinkSpec)
    /// Both ends in one request; the peer is created directly inside the container namespace.
    case createVethPair(host: LinkSpec, peer: LinkSpec)
    case setMTU(NamespaceRef, String, UInt32)
    case setMAC(NamespaceRef, String, MACAddress)
    case setMaster(NamespaceRef, link: String, master: String)
    /// Bridge ports live in the host namespace with their bridge.
    case setHairpin(String, Bool)
    case setPromisc(NamespaceRef, String, Bool)
    case setUp(NamespaceRef, String)
    case addrAdd(NamespaceRef, String, IPNetwork)
    case addrDel(NamespaceRef, String, IPNetwork)
    case routeAdd(NamespaceRef, link: String, RouteSpec)
    case sysctl(SysctlSpec)
    case linkDelete(NamespaceRef, String)
    /// A macvlan, ipvlan or vlan link, created directly in its namespace (a host parent plus
    /// IFLA_NET_NS_FD when the link goes into the container). Runs in the parent's namespace.
    case createSubLink(LinkSpec)
    case setDown(NamespaceRef, String)
    /// `ip link set dev NAME netns TO`: runs in the namespace the link is in now.
    case moveLink(from: NamespaceRef, String, to: NamespaceRef)
    case rename(NamespaceRef, from: String, to: String)
    case setAllmulti(NamespaceRef, String, Bool)
    case setTxQLen(NamespaceRef, String, UInt32)
    /// An address without its automatic prefix route (IFA_F_NOPREFIXROUTE).
    case addrAddNoPrefixRoute(NamespaceRef, String, IPNetwork)

    /// The namespace the operation runs in (the executor batches container ops on one thread).
    /// A veth pair is created from the host side, which places the peer in the container.
    public var namespace: NamespaceRef {
        switch self {
        case .createBridge(let l): return l.namespace
        case .createVethPair(let host, _): return host.namespace
        case .createSubLink(let l): return l.parentNamespace ?? l.namespace
        case .moveLink(let from, _, _): return from
        case .setHairpin: return .host
        case .sysctl(let s): return s.namespace
        case .setMTU(let ns, _, _), .setMAC(let ns, _, _), .setMaster(let ns, _, _), .setPromisc(let ns, _, _),
             .setUp(let ns, _), .addrAdd(let ns, _, _), .addrDel(let ns, _, _), .routeAdd(let ns, _, _),
             .linkDelete(let ns, _), .setDown(let ns, _), .rename(let ns, _, _), .setAllmulti(let ns, _, _),
             .setTxQLen(let ns, _, _), .addrAddNoPrefixRoute(let ns, _, _):
            return ns
        }
    }

    public var description: String {
        command + (namespace == .container ? " (netns container)" : "")
    }

    private var command: String {
        switch self {
        case .createBridge(let l):
            return "ip link add \(l.name)\(Self.linkAttributes(l)) type bridge"
        case .createVethPair(let host, let peer):
            return "ip link add \(host.name)\(Self.linkAttributes(host)) type veth peer \(peer.name)"
                + "\(Self.linkAttributes(peer)) netns \(peer.namespace.rawValue)"
        case .setMTU(_, let name, let mtu): return "ip link set dev \(name) mtu \(mtu)"
        case .setMAC(_, let name, let mac): return "ip link set dev \(name) address \(mac)"
        case .setMaster(_, let name, let master): return "ip link set dev \(name) master \(master)"
        case .setHairpin(let name, let on): return "bridge link set dev \(name) hairpin \(on ? "on" : "off")"
        case .setPromisc(_, let name, let on): return "ip link set dev \(name) promisc \(on ? "on" : "off")"
        case .setUp(_, let name): return "ip link set dev \(name) up"
        case .addrAdd(_, let name, let a): return "ip addr add \(a) dev \(name)"
        case .addrDel(_, let name, let a): return "ip addr del \(a) dev \(name)"
        case .routeAdd(_, let name, let r): return "ip route add \(Self.routeText(r)) dev \(name)"
        case .sysctl(let s): return "sysctl -w \(s.key)=\(s.value)"
        case .linkDelete(_, let name): return "ip link del dev \(name)"
        case .createSubLink(let l): return "ip link add \(l.name)\(Self.linkAttributes(l)) \(Self.subLinkText(l))"
        case .setDown(_, let name): return "ip link set dev \(name) down"
        case .moveLink(_, let name, let to): return "ip link set dev \(name) netns \(to.rawValue)"
        case .rename(_, let from, let to): return "ip link set dev \(from) name \(to)"
        case .setAllmulti(_, let name, let on): return "ip link set dev \(name) allmulticast \(on ? "on" : "off")"
        case .setTxQLen(_, let name, let n): return "ip link set dev \(name) txqueuelen \(n)"
        case .addrAddNoPrefixRoute(_, let name, let a): return "ip addr add \(a) dev \(name) noprefixroute"
        }
    }

    private static func subLinkText(_ l: LinkSpec) -> String {
        let netns = l.namespace != l.parentNamespace ? " netns \(l.namespace.rawValue)" : ""
        switch l.kind {
        case .macvlan(let p, let mode): return "link \(p.name) type macvlan mode \(mode)" + netns
        case .ipvlan(let p, let mode): return "link \(p.name) type ipvlan mode \(mode)" + netns
        case .vlan(let p, let id): return "link \(p.name) type vlan id \(id)" + netns
        default: return "type \(l.kind)"
        }
    }

    private static func linkAttributes(_ l: LinkSpec) -> String {
        var out = ""
        if let mac = l.mac { out += " address \(mac)" }
        if let mtu = l.mtu { out += " mtu \(mtu)" }
        return out
    }

    /// "dst [via gw] [metric n] [table n] [mtu n]" — also used by drift messages.
    static func routeText(_ r: RouteSpec) -> String {
        var out = "\(r.dst)"
        if let gw = r.gateway { out += " via \(gw)" }
        if let p = r.priority { out += " metric \(p)" }
        if let t = r.table { out += " table \(t)" }
        if let m = r.mtu { out += " mtu \(m)" }
        if let s = r.scope { out += " scope \(s)" }
        if let src = r.src { out += " src \(src)" }
        return out
    }
}
