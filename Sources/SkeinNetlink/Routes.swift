import CNetlink
import Glibc

private let mainTable: UInt32 = 254  // RT_TABLE_MAIN
private let scopeNowhere: UInt8 = 255  // RT_SCOPE_NOWHERE: matches any scope on delete

extension NetlinkHandle {
    /// false on EEXIST. Beware: the kernel says EEXIST when *a* route to that destination with
    /// that metric exists, whatever its gateway or device — check before calling it ours.
    /// `append` (NLM_F_APPEND) adds it alongside such a route, as `ip route append` does.
    public func routeAdd(_ r: RouteSpec, append: Bool = false) throws -> Bool {
        let route = try makeRoute("routeAdd", r, forDelete: false)
        defer { rtnl_route_put(route) }
        return try tolerate("routeAdd", [EEXIST]) { rtnl_route_add(sock, route, append ? NLM_F_APPEND : NLM_F_EXCL) }
    }

    /// false if no such route (ESRCH from IPv4, ENOENT from IPv6).
    public func routeDel(_ r: RouteSpec) throws -> Bool {
        let route = try makeRoute("routeDel", r, forDelete: true)
        defer { rtnl_route_put(route) }
        return try tolerate("routeDel", [ESRCH, ENOENT]) { rtnl_route_delete(sock, route, 0) }
    }

    /// Unicast routes of the main table, optionally only those through `oif`.
    public func routeList(family: AddressFamily, oif: Int32?) throws -> [RouteSpec] {
        let op = "routeList"
        var cache: OpaquePointer?
        try call(op) { rtnl_route_alloc_cache(nil, family.af, 0, &cache) }  // nil socket: no dump
        guard let c = cache else { return [] }
        defer { nl_cache_free(c) }
        var hdr = rtmsg()
        hdr.rtm_family = UInt8(family.af)
        hdr.rtm_table = UInt8(mainTable)
        do {
            try withUnsafeBytes(of: &hdr) { raw in
                try dump(op, into: c, type: Int32(RTM_GETROUTE), header: raw) { msg in
                    guard let oif = oif else { return 0 }
                    return nla_put_u32(msg, Int32(RTA_OIF.rawValue), UInt32(bitPattern: oif))
                }
            }
        } catch let e as NetlinkError where e.errno == ENOENT {
            return []  // strict dumps report a table that does not exist yet
        }
        var out: [RouteSpec] = []
        forEach(c) { obj in
            guard let spec = RouteSpec(rtnl: obj, family: family),
                  oif == nil || spec.oif == oif else { return }
            out.append(spec)
        }
        return out
    }

    /// A +1 rtnl_route; the caller must rtnl_route_put it.
    private func makeRoute(_ op: String, _ r: RouteSpec, forDelete: Bool) throws -> OpaquePointer {
        guard let route = rtnl_route_alloc() else { throw NetlinkError(op: op, errno: ENOMEM, message: "alloc") }
        do {
            try fillRoute(op, route, r, forDelete: forDelete)
            return route
        } catch {
            rtnl_route_put(route)
            throw error
        }
    }

    private func fillRoute(_ op: String, _ route: OpaquePointer, _ r: RouteSpec, forDelete: Bool) throws {
        try call(op) { rtnl_route_set_family(route, UInt8(r.family.af)) }
        // A zero-length dst means "no RTA_DST", i.e. the default route.
        let dstBytes = r.isDefault ? [] : r.dst
        if !r.isDefault { try checkAddr(op, r.family, r.dst, prefix: r.dstPrefixLength) }
        let dst = try makeNLAddr(op, family: r.family.af, bytes: dstBytes, prefix: r.dstPrefixLength)
        defer { nl_addr_put(dst) }
        try call(op) { rtnl_route_set_dst(route, dst) }
        rtnl_route_set_table(route, r.table ?? mainTable)
        // Add like `ip route` (proto boot); delete with protocol 0 and scope NOWHERE,
        // which the kernel treats as wildcards.
        rtnl_route_set_protocol(route, forDelete ? 0 : 3)
        if let scope = r.scope ?? (forDelete ? scopeNowhere : nil) { rtnl_route_set_scope(route, scope) }
        if let prio = r.priority { rtnl_route_set_priority(route, prio) }
        if let mtu = r.mtu { try call(op) { rtnl_route_set_metric(route, Int32(RTAX_MTU), mtu) } }
        if let src = r.prefsrc {
            try checkAddr(op, r.family, src, prefix: 0)
            let s = try makeNLAddr(op, family: r.family.af, bytes: src)
            defer { nl_addr_put(s) }  // set_pref_src takes its own reference
            try call(op) { rtnl_route_set_pref_src(route, s) }
        }
        guard r.gateway != nil || r.oif != nil else { return }
        guard let nh = rtnl_route_nh_alloc() else { throw NetlinkError(op: op, errno: ENOMEM, message: "alloc") }
        rtnl_route_add_nexthop(route, nh)  // the route owns nh from here on
        if let oif = r.oif { rtnl_route_nh_set_ifindex(nh, oif) }
        if let gw = r.gateway {
            try checkAddr(op, r.family, gw, prefix: 0)
            let g = try makeNLAddr(op, family: r.family.af, bytes: gw)
            defer { nl_addr_put(g) }
            rtnl_route_nh_set_gateway(nh, g)
        }
    }
}

extension RouteSpec {
    /// nil for routes this API does not model (other tables, non-unicast types).
    init?(rtnl route: OpaquePointer, family: AddressFamily) {
        guard rtnl_route_get_table(route) == mainTable,
              rtnl_route_get_type(route) == UInt8(RTN_UNICAST),
              Int32(rtnl_route_get_family(route)) == family.af else { return nil }
        let dstAddr = rtnl_route_get_dst(route)
        var gateway: [UInt8]?
        var oif: Int32?
        if rtnl_route_get_nnexthops(route) > 0, let nh = rtnl_route_nexthop_n(route, 0) {
            let gw = nlAddrBytes(rtnl_route_nh_get_gateway(nh))
            gateway = gw.isEmpty ? nil : gw
            let idx = rtnl_route_nh_get_ifindex(nh)
            oif = idx > 0 ? idx : nil
        }
        var mtu: UInt32 = 0
        let hasMTU = rtnl_route_get_metric(route, Int32(RTAX_MTU), &mtu) == 0 && mtu > 0
        let prio = rtnl_route_get_priority(route)
        let src = nlAddrBytes(rtnl_route_get_pref_src(route))
        self.init(family: family, dst: nlAddrBytes(dstAddr),
                  dstPrefixLength: UInt8(dstAddr.map { nl_addr_get_prefixlen($0) } ?? 0),
                  gateway: gateway, oif: oif, table: nil,
                  priority: prio == 0 ? nil : prio, scope: rtnl_route_get_scope(route),
                  mtu: hasMTU ? mtu : nil, prefsrc: src.isEmpty ? nil : src)
    }
}
