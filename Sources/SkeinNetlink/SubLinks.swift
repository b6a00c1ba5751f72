import CNetlink
import Glibc

// Links stacked on a parent (lower) device: macvlan, ipvlan, 802.1q vlan. Each is created with
// one RTM_NEWLINK sent on the *parent's* namespace socket (IFLA_LINK is an ifindex there); with
// `netNSFD` the kernel creates the link directly in that namespace (IFLA_NET_NS_FD), so nothing
// has to be moved afterwards, as for the veth peer.

extension NetlinkHandle {
    public func macvlanAdd(name: String, parentIndex: Int32, mode: MacvlanMode, mac: [UInt8]?,
                           mtu: UInt32?, netNSFD: Int32?) throws {
        let op = "macvlanAdd \(name)"
        try addSubLink(op, kind: "macvlan", module: "macvlan", name: name, parentIndex: parentIndex,
                       mac: mac, mtu: mtu, netNSFD: netNSFD, alloc: rtnl_link_macvlan_alloc) { link in
            try self.call(op) { rtnl_link_macvlan_set_mode(link, mode.kernelValue) }
        }
    }

    /// An ipvlan shares its parent's MAC, so there is none to give.
    public func ipvlanAdd(name: String, parentIndex: Int32, mode: IpvlanMode, mtu: UInt32?,
                          netNSFD: Int32?) throws {
        let op = "ipvlanAdd \(name)"
        try addSubLink(op, kind: "ipvlan", module: "ipvlan", name: name, parentIndex: parentIndex,
                       mac: nil, mtu: mtu, netNSFD: netNSFD, alloc: rtnl_link_ipvlan_alloc) { link in
            try self.call(op) { rtnl_link_ipvlan_set_mode(link, mode.kernelValue) }
        }
    }

    /// `vlanID` 0...4094 (4095 is reserved).
    public func vlanAdd(name: String, parentIndex: Int32, vlanID: UInt16, mac: [UInt8]?, mtu: UInt32?,
                        netNSFD: Int32?) throws {
        let op = "vlanAdd \(name)"
        guard vlanID < 4095 else { throw NetlinkError.invalid(op, "vlan id \(vlanID) out of range 0-4094") }
        try addSubLink(op, kind: "vlan", module: "8021q", name: name, parentIndex: parentIndex,
                       mac: mac, mtu: mtu, netNSFD: netNSFD, alloc: rtnl_link_vlan_alloc) { link in
            try self.call(op) { rtnl_link_vlan_set_id(link, vlanID) }
        }
    }

    /// The kernel answers EOPNOTSUPP ("Unknown device type") when it has no driver for the kind:
    /// that error names the missing module, keeping the errno, because the bare kernel text does
    /// not tell a user what to install or load.
    private func addSubLink(_ op: String, kind: String, module: String, name: String, parentIndex: Int32,
                            mac: [UInt8]?, mtu: UInt32?, netNSFD: Int32?,
                            alloc: () -> OpaquePointer?, configure: (OpaquePointer) throws -> Void) throws {
        try checkIfName(op, name)
        guard parentIndex > 0 else { throw NetlinkError.invalid(op, "parent ifindex must be > 0") }
        guard let link = alloc() else { throw NetlinkError(op: op, errno: ENOMEM, message: "alloc") }
        defer { rtnl_link_put(link) }
        rtnl_link_set_name(link, name)
        rtnl_link_set_link(link, parentIndex)
        try configure(link)
        if let mac { try setLinkAddr(op, link, mac) }
        if let mtu { rtnl_link_set_mtu(link, mtu) }
        if let fd = netNSFD { rtnl_link_set_ns_fd(link, fd) }
        do {
            try call(op) { rtnl_link_add(sock, link, NLM_F_CREATE | NLM_F_EXCL) }
        } catch let e as NetlinkError where e.errno == EOPNOTSUPP {
            throw NetlinkError(op: op, errno: e.errno,
                               message: "this kernel cannot create \(kind) links: its \(module) module is missing"
                                   + " (not built or not loadable) — \(e.message)")
        }
    }

    /// The link of the main table's default route, IPv4 first and IPv6 when there is no IPv4 one;
    /// among several, the lowest metric (the one the kernel uses). nil when there is none.
    public func defaultRouteLink() throws -> Link? {
        for family in [AddressFamily.v4, .v6] {
            let defaults = try routeList(family: family, oif: nil).filter { $0.isDefault && $0.oif != nil }
            guard let best = defaults.min(by: { ($0.priority ?? 0) < ($1.priority ?? 0) }), let oif = best.oif else {
                continue
            }
            if let link = try linkGet(index: oif) { return link }
        }
        return nil
    }
}
