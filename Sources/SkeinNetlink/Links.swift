import CNetlink
import Glibc

extension NetlinkHandle {
    /// Asks the kernel for one link (RTM_GETLINK by name); never dumps. nil if absent.
    public func linkGet(name: String) throws -> Link? {
        try checkIfName("linkGet", name)
        return try getLink("linkGet \(name)", index: 0, name: name)
    }

    public func linkGet(index: Int32) throws -> Link? {
        guard index > 0 else { throw NetlinkError.invalid("linkGet", "ifindex must be > 0") }
        return try getLink("linkGet #\(index)", index: index, name: nil)
    }

    private func getLink(_ op: String, index: Int32, name: String?) throws -> Link? {
        var result: OpaquePointer?
        do {
            try call(op) { rtnl_link_get_kernel(sock, index, name, &result) }
        } catch let e as NetlinkError where e.errno == ENODEV {
            return nil
        }
        guard let link = result else { return nil }
        defer { rtnl_link_put(link) }
        return Link(rtnl: link)
    }

    /// Creates a bridge; false if a bridge of that name already exists (then it is left
    /// as is). A MAC set at creation marks the address NET_ADDR_SET, which stops the
    /// kernel from re-deriving it from the lowest port MAC as ports come and go; with
    /// `mac == nil` a random locally administered MAC is used for that reason.
    public func bridgeAdd(name: String, mtu: UInt32?, mac: [UInt8]?) throws -> Bool {
        let op = "bridgeAdd \(name)"
        try checkIfName(op, name)
        let fixedMAC = mac ?? randomLocalMAC()
        try checkMAC(op, fixedMAC)
        guard let link = rtnl_link_alloc() else { throw NetlinkError(op: op, errno: ENOMEM, message: "alloc") }
        defer { rtnl_link_put(link) }
        try call(op) { rtnl_link_set_type(link, "bridge") }
        rtnl_link_set_name(link, name)
        if let mtu = mtu { rtnl_link_set_mtu(link, mtu) }
        try setLinkAddr(op, link, fixedMAC)
        let created = try tolerate(op, [EEXIST]) {
            rtnl_link_add(sock, link, NLM_F_CREATE | NLM_F_EXCL)
        }
        if !created, try linkGet(name: name)?.kind != "bridge" {
            throw NetlinkError(op: op, errno: EEXIST, message: "a non-bridge link named \(name) exists")
        }
        return created
    }

    /// Creates a veth pair with the peer born directly in `peerNetNSFD` (no link move).
    /// Both ends get `mtu`. The peer must not be created up (the kernel refuses).
    public func vethAdd(name: String, mac: [UInt8]?, mtu: UInt32?, peerName: String,
                        peerMAC: [UInt8]?, peerNetNSFD: Int32?) throws {
        let op = "vethAdd \(name)/\(peerName)"
        try checkIfName(op, name)
        try checkIfName(op, peerName)
        guard let link = rtnl_link_veth_alloc() else { throw NetlinkError(op: op, errno: ENOMEM, message: "alloc") }
        defer { rtnl_link_put(link) }
        guard let peer = rtnl_link_veth_get_peer(link) else {
            throw NetlinkError(op: op, errno: ENOMEM, message: "veth peer")
        }
        defer { rtnl_link_put(peer) }  // get_peer returned +1
        rtnl_link_set_name(link, name)
        rtnl_link_set_name(peer, peerName)
        if let mac = mac { try setLinkAddr(op, link, mac) }
        if let mac = peerMAC { try setLinkAddr(op, peer, mac) }
        if let mtu = mtu {
            rtnl_link_set_mtu(link, mtu)
            rtnl_link_set_mtu(peer, mtu)
        }
        if let fd = peerNetNSFD { rtnl_link_set_ns_fd(peer, fd) }
        try call(op) { rtnl_link_add(sock, link, NLM_F_CREATE | NLM_F_EXCL) }
    }

    public func linkSetUp(index: Int32) throws {
        try changeLink("linkSetUp", index) { rtnl_link_set_flags($0, UInt32(IFF_UP)) }
    }

    public func linkSetDown(index: Int32) throws {
        try changeLink("linkSetDown", index) { rtnl_link_unset_flags($0, UInt32(IFF_UP)) }
    }

    /// `masterIndex == 0` releases the link from its master.
    public func linkSetMaster(index: Int32, masterIndex: Int32) throws {
        try changeLink("linkSetMaster", index) { rtnl_link_set_master($0, masterIndex) }
    }

    public func linkSetMTU(index: Int32, mtu: UInt32) throws {
        try changeLink("linkSetMTU", index) { rtnl_link_set_mtu($0, mtu) }
    }

    public func linkSetMAC(index: Int32, mac: [UInt8]) throws {
        try checkMAC("linkSetMAC", mac)
        try changeLink("linkSetMAC", index) { try self.setLinkAddr("linkSetMAC", $0, mac) }
    }

    public func linkSetPromisc(index: Int32, on: Bool) throws {
        try changeLink("linkSetPromisc", index) {
            if on { rtnl_link_set_flags($0, UInt32(IFF_PROMISC)) } else { rtnl_link_unset_flags($0, UInt32(IFF_PROMISC)) }
        }
    }

    public func linkSetAllmulti(index: Int32, on: Bool) throws {
        try changeLink("linkSetAllmulti", index) {
            if on { rtnl_link_set_flags($0, UInt32(IFF_ALLMULTI)) } else { rtnl_link_unset_flags($0, UInt32(IFF_ALLMULTI)) }
        }
    }

    public func linkSetTxQLen(index: Int32, txQLen: UInt32) throws {
        try changeLink("linkSetTxQLen", index) { rtnl_link_set_txqlen($0, txQLen) }
    }

    /// `ip link set dev X name Y`. The kernel refuses (EBUSY) to rename most links while up.
    public func linkSetName(index: Int32, name: String) throws {
        try checkIfName("linkSetName", name)
        try changeLink("linkSetName \(name)", index) { rtnl_link_set_name($0, name) }
    }

    /// `ip link set dev X netns FD`: the link leaves this handle's namespace (down, with its
    /// addresses and routes gone). Its ifindex is kept unless taken in the target.
    public func linkSetNetNS(index: Int32, netNSFD: Int32) throws {
        guard netNSFD >= 0 else { throw NetlinkError.invalid("linkSetNetNS", "bad netns fd") }
        try changeLink("linkSetNetNS", index) { rtnl_link_set_ns_fd($0, netNSFD) }
    }

    /// Every link of the namespace: one RTM_GETLINK dump, for the rare lookups that have no
    /// name or index to ask for (a device selected by MAC).
    public func linkList() throws -> [Link] {
        let op = "linkList"
        var cache: OpaquePointer?
        try call(op) { rtnl_link_alloc_cache(nil, AF_UNSPEC, &cache) }  // nil socket: empty cache, no dump
        guard let c = cache else { return [] }
        defer { nl_cache_free(c) }
        var hdr = ifinfomsg()
        try withUnsafeBytes(of: &hdr) { try dump(op, into: c, type: Int32(RTM_GETLINK), header: $0) }
        var out: [Link] = []
        forEach(c) { out.append(Link(rtnl: $0)) }
        return out
    }

    /// false if the link was already gone.
    @discardableResult
    public func linkDelete(index: Int32) throws -> Bool {
        guard index > 0 else { throw NetlinkError.invalid("linkDelete", "ifindex must be > 0") }
        return try deleteLink("linkDelete #\(index)") { rtnl_link_set_ifindex($0, index) }
    }

    @discardableResult
    public func linkDelete(name: String) throws -> Bool {
        try checkIfName("linkDelete", name)
        return try deleteLink("linkDelete \(name)") { rtnl_link_set_name($0, name) }
    }

    private func deleteLink(_ op: String, _ select: (OpaquePointer) -> Void) throws -> Bool {
        guard let link = rtnl_link_alloc() else { throw NetlinkError(op: op, errno: ENOMEM, message: "alloc") }
        defer { rtnl_link_put(link) }
        select(link)
        return try tolerate(op, [ENODEV]) { rtnl_link_delete(sock, link) }
    }

    /// RTM_NEWLINK on an existing ifindex carrying only the changed attributes; the flag
    /// helpers set ifi_change so other flags are untouched. The original and the changes are
    /// two objects: libnl drops IFLA_IFNAME from a change whose original has the same name,
    /// which with one object would silently turn every rename into a no-op.
    func changeLink(_ op: String, _ index: Int32, _ configure: (OpaquePointer) throws -> Void) throws {
        guard index > 0 else { throw NetlinkError.invalid(op, "ifindex must be > 0") }
        guard let orig = rtnl_link_alloc() else { throw NetlinkError(op: op, errno: ENOMEM, message: "alloc") }
        defer { rtnl_link_put(orig) }
        guard let changes = rtnl_link_alloc() else { throw NetlinkError(op: op, errno: ENOMEM, message: "alloc") }
        defer { rtnl_link_put(changes) }
        rtnl_link_set_ifindex(orig, index)
        try configure(changes)
        try call("\(op) #\(index)") { rtnl_link_change(sock, orig, changes, 0) }
    }

    func setLinkAddr(_ op: String, _ link: OpaquePointer, _ mac: [UInt8]) throws {
        try checkMAC(op, mac)
        let addr = try makeNLAddr(op, family: AF_LLC, bytes: mac)
        defer { nl_addr_put(addr) }  // rtnl_link_set_addr takes its own reference
        rtnl_link_set_addr(link, addr)
    }
}

func randomLocalMAC() -> [UInt8] {
    var mac = (0..<6).map { _ in UInt8.random(in: 0...255) }
    mac[0] = (mac[0] & 0xfe) | 0x02  // unicast, locally administered
    return mac
}

extension Link {
    init(rtnl link: OpaquePointer) {
        let flags = rtnl_link_get_flags(link)
        let master = rtnl_link_get_master(link)
        let peer = rtnl_link_get_link(link)
        self.init(
            index: rtnl_link_get_ifindex(link),
            name: rtnl_link_get_name(link).map { String(cString: $0) } ?? "",
            mac: nlAddrBytes(rtnl_link_get_addr(link)),
            mtu: rtnl_link_get_mtu(link),
            isUp: flags & UInt32(IFF_UP) != 0,
            kind: rtnl_link_get_type(link).map { String(cString: $0) },
            masterIndex: master > 0 ? master : nil,
            promisc: flags & UInt32(IFF_PROMISC) != 0,
            linkIndex: peer > 0 ? peer : nil,
            allmulti: flags & UInt32(IFF_ALLMULTI) != 0,
            txQLen: rtnl_link_get_txqlen(link))
    }
}
