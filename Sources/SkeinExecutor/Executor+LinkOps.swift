// The link operations that cross namespaces or change a link's identity: sub-links (macvlan, ipvlan,
// vlan) created from their parent's namespace straight into their own, moves, renames. Each keeps
// the ifindex cache honest, and each tolerates finding its work already done, so a plan re-applied
// after a crash goes through.

import Glibc
import SkeinModel
import SkeinNetlink
import SkeinReducer

extension Executor {
    /// Runs on the parent's namespace socket `h` (IFLA_LINK is an ifindex there); a link whose
    /// namespace differs from its parent's goes there through IFLA_NET_NS_FD in the same request.
    func createSubLink(_ spec: LinkSpec, on h: NetlinkHandle) throws {
        let op = "ip link add \(spec.name)"
        guard let parent = Self.parent(of: spec) else {
            throw ExecutorError(op: op, errno: EINVAL, message: "\(spec.name) is not a macvlan, ipvlan or vlan link")
        }
        guard let parentIndex = try lookUpIndex(parent.name, parent.namespace, h) else {
            throw ExecutorError(op: op, errno: ENODEV, message: "master interface \(parent.name) not found"
                                    + " in the \(parent.namespace.rawValue) network namespace")
        }
        let fd = spec.namespace == parent.namespace ? nil : try netNSFD(spec.namespace, op: op)
        indexes[spec.namespace]![spec.name] = nil
        do {
            try addSubLink(spec, op: op, parentIndex: parentIndex, netNSFD: fd, on: h)
        } catch let e as NetlinkError where e.errno == EEXIST {
            // Ours already (a re-applied plan) only if a link of that name and kind is where it
            // belongs; anything else of that name is someone else's.
            guard try handle(spec.namespace).linkGet(name: spec.name)?.kind == Planner.kindName(spec.kind) else { throw e }
        }
    }

    private func addSubLink(_ spec: LinkSpec, op: String, parentIndex: Int32, netNSFD fd: Int32?,
                            on h: NetlinkHandle) throws {
        switch spec.kind {
        case .macvlan(_, let text):
            guard let mode = MacvlanMode(rawValue: text) else {
                throw ExecutorError(op: op, errno: EINVAL, message: "unknown macvlan mode \"\(text)\"")
            }
            try h.macvlanAdd(name: spec.name, parentIndex: parentIndex, mode: mode, mac: spec.mac?.bytes,
                             mtu: spec.mtu, netNSFD: fd)
        case .ipvlan(_, let text):
            guard let mode = IpvlanMode(rawValue: text) else {
                throw ExecutorError(op: op, errno: EINVAL, message: "unknown ipvlan mode \"\(text)\"")
            }
            try h.ipvlanAdd(name: spec.name, parentIndex: parentIndex, mode: mode, mtu: spec.mtu, netNSFD: fd)
        case .vlan(_, let id):
            guard let vid = UInt16(exactly: id), vid < 4095 else {
                throw ExecutorError(op: op, errno: EINVAL, message: "vlan id \(id) out of range 0-4094")
            }
            try h.vlanAdd(name: spec.name, parentIndex: parentIndex, vlanID: vid, mac: spec.mac?.bytes,
                          mtu: spec.mtu, netNSFD: fd)
        default:
            throw ExecutorError(op: op, errno: EINVAL, message: "\(spec.name) is not a macvlan, ipvlan or vlan link")
        }
    }

    /// `h` is the socket of `from`, where the link is now. Found in `to` instead: moved already.
    func moveLink(_ name: String, from: NamespaceRef, to: NamespaceRef, on h: NetlinkHandle) throws {
        let op = "ip link set dev \(name) netns \(to.rawValue)"
        let fd = try netNSFD(to, op: op)
        guard let i = try lookUpIndex(name, from, h) else {
            if try handle(to).linkGet(name: name) != nil { return }
            throw ExecutorError(op: op, errno: ENODEV, message: "no link named \(name)")
        }
        indexes[from]![name] = nil
        indexes[to]![name] = nil
        try h.linkSetNetNS(index: i, netNSFD: fd)
    }

    /// Already carrying the new name (and the old one gone): renamed already.
    func rename(_ from: String, to: String, in ns: NamespaceRef, on h: NetlinkHandle) throws {
        guard from != to else { return }
        guard let i = try lookUpIndex(from, ns, h) else {
            if try h.linkGet(name: to) != nil { return }
            throw ExecutorError(op: "ip link set dev \(from) name \(to)", errno: ENODEV, message: "no link named \(from)")
        }
        indexes[ns]![from] = nil
        indexes[ns]![to] = nil
        try h.linkSetName(index: i, name: to)
        indexes[ns]![to] = i
    }

    static func parent(of spec: LinkSpec) -> ParentRef? {
        switch spec.kind {
        case .macvlan(let p, _), .ipvlan(let p, _), .vlan(let p, _): return p
        default: return nil
        }
    }
}
