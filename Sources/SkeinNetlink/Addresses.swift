import CNetlink
import Glibc

extension NetlinkHandle {
    /// false if the address was already there (EEXIST). `noPrefixRoute` (IFA_F_NOPREFIXROUTE)
    /// keeps the kernel from adding the subnet route it otherwise derives from the prefix.
    public func addrAdd(index: Int32, family: AddressFamily, address: [UInt8], prefixLength: UInt8,
                        broadcast: [UInt8]? = nil, noDAD: Bool = false, noPrefixRoute: Bool = false) throws -> Bool {
        let op = "addrAdd #\(index)"
        let addr = try makeRtnlAddr(op, index, family, address, prefixLength)
        defer { rtnl_addr_put(addr) }
        if let brd = broadcast {
            try checkAddr(op, family, brd, prefix: 0)
            let b = try makeNLAddr(op, family: family.af, bytes: brd)
            defer { nl_addr_put(b) }
            try call(op) { rtnl_addr_set_broadcast(addr, b) }
        }
        // set_flags ORs into what is there; flags above 0xff travel in IFA_FLAGS.
        if noDAD { rtnl_addr_set_flags(addr, UInt32(IFA_F_NODAD)) }
        if noPrefixRoute { rtnl_addr_set_flags(addr, UInt32(IFA_F_NOPREFIXROUTE)) }
        return try tolerate(op, [EEXIST]) { rtnl_addr_add(sock, addr, NLM_F_EXCL) }
    }

    /// false if the address was not there (EADDRNOTAVAIL).
    public func addrDel(index: Int32, family: AddressFamily, address: [UInt8], prefixLength: UInt8) throws -> Bool {
        let op = "addrDel #\(index)"
        let addr = try makeRtnlAddr(op, index, family, address, prefixLength)
        defer { rtnl_addr_put(addr) }
        return try tolerate(op, [EADDRNOTAVAIL]) { rtnl_addr_delete(sock, addr, 0) }
    }

    /// Addresses on one link; `family == nil` means both.
    public func addrList(index: Int32, family: AddressFamily?) throws -> [Address] {
        let op = "addrList #\(index)"
        var cache: OpaquePointer?
        try call(op) { rtnl_addr_alloc_cache(nil, &cache) }  // nil socket: empty cache, no dump
        guard let c = cache else { return [] }
        defer { nl_cache_free(c) }
        var hdr = ifaddrmsg()
        hdr.ifa_family = UInt8(family?.af ?? AF_UNSPEC)
        hdr.ifa_index = UInt32(bitPattern: index)
        try withUnsafeBytes(of: &hdr) { try dump(op, into: c, type: Int32(RTM_GETADDR), header: $0) }
        var out: [Address] = []
        forEach(c) { obj in
            guard rtnl_addr_get_ifindex(obj) == index,
                  let fam = AddressFamily(af: rtnl_addr_get_family(obj)),
                  family == nil || family == fam else { return }
            let bytes = nlAddrBytes(rtnl_addr_get_local(obj))
            out.append(Address(family: fam, bytes: bytes, prefixLength: UInt8(rtnl_addr_get_prefixlen(obj))))
        }
        return out
    }

    /// A +1 rtnl_addr; the caller must rtnl_addr_put it.
    private func makeRtnlAddr(_ op: String, _ index: Int32, _ family: AddressFamily,
                              _ address: [UInt8], _ prefix: UInt8) throws -> OpaquePointer {
        guard index > 0 else { throw NetlinkError.invalid(op, "ifindex must be > 0") }
        try checkAddr(op, family, address, prefix: prefix)
        guard let addr = rtnl_addr_alloc() else { throw NetlinkError(op: op, errno: ENOMEM, message: "alloc") }
        do {
            let local = try makeNLAddr(op, family: family.af, bytes: address, prefix: prefix)
            defer { nl_addr_put(local) }
            rtnl_addr_set_ifindex(addr, index)
            rtnl_addr_set_family(addr, family.af)
            try call(op) { rtnl_addr_set_local(addr, local) }  // also copies the prefix length
            return addr
        } catch {
            rtnl_addr_put(addr)
            throw error
        }
    }
}
