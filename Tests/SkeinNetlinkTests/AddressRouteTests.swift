import Foundation
import Glibc
import Testing
@testable import SkeinNetlink

private let v4a: [UInt8] = [10, 99, 0, 2]
private let v4gw: [UInt8] = [10, 99, 0, 1]
private let v4host: [UInt8] = [10, 99, 7, 5]
private let v6a: [UInt8] = [0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
private let v6gw: [UInt8] = [0xfd, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]

/// A veth whose peer ("c0") sits up in namespace b, host end ("h0") up in a; `body` gets b's handle.
private func withContainerLink<T>(_ label: String, _ body: (NetlinkHandle, Link) throws -> T) throws -> T {
    try withContainerLinkIn(label) { h, c0, _ in try body(h, c0) }
}

/// The same, also passing namespace b (for `ip -n`).
private func withContainerLinkIn<T>(_ label: String, _ body: (NetlinkHandle, Link, TestNS) throws -> T) throws -> T {
    try withTestNS(label, count: 2) { nss in
        let ha = try handle(in: nss[0].ns)
        try ha.vethAdd(name: "h0", mac: nil, mtu: nil, peerName: "c0", peerMAC: nil, peerNetNSFD: nss[1].ns.fd)
        try ha.linkSetUp(index: try #require(try ha.linkGet(name: "h0")).index)
        let h = try handle(in: nss[1].ns)
        let c0 = try #require(try h.linkGet(name: "c0"))
        try h.linkSetUp(index: c0.index)
        return try body(h, c0, nss[1])
    }
}

@Suite("Addresses and routes", .enabled(if: isRoot, "needs root: creates network namespaces"), .serialized)
struct AddressRouteTests {
    @Test func addressesV4AndV6() throws {
        try withContainerLink("addr") { h, c0 in
            let i = c0.index
            #expect(try h.addrAdd(index: i, family: .v4, address: v4a, prefixLength: 24, broadcast: [10, 99, 0, 255]))
            #expect(try h.addrAdd(index: i, family: .v4, address: v4a, prefixLength: 24) == false)
            #expect(try h.addrAdd(index: i, family: .v6, address: v6a, prefixLength: 64, noDAD: true))
            #expect(try h.addrAdd(index: i, family: .v6, address: v6a, prefixLength: 64, noDAD: true) == false)
            let mine4 = Address(family: .v4, bytes: v4a, prefixLength: 24)
            let mine6 = Address(family: .v6, bytes: v6a, prefixLength: 64)
            #expect(try h.addrList(index: i, family: .v4) == [mine4])
            let v6 = try h.addrList(index: i, family: .v6)
            #expect(v6.contains(mine6) && v6.allSatisfy { $0.family == .v6 })
            let all = try h.addrList(index: i, family: nil)
            #expect(all.contains(mine4) && all.contains(mine6))
            // Other links' addresses are filtered out.
            let lo = try #require(try h.linkGet(name: "lo"))
            try h.linkSetUp(index: lo.index)
            #expect(try h.addrList(index: lo.index, family: .v4) == [Address(family: .v4, bytes: [127, 0, 0, 1], prefixLength: 8)])

            #expect(try h.addrDel(index: i, family: .v4, address: v4a, prefixLength: 24))
            #expect(try h.addrDel(index: i, family: .v4, address: v4a, prefixLength: 24) == false)
            #expect(try h.addrDel(index: i, family: .v6, address: v6a, prefixLength: 64))
            #expect(try h.addrDel(index: i, family: .v6, address: v6a, prefixLength: 64) == false)
            #expect(try h.addrList(index: i, family: .v4).isEmpty)
            #expect(!(try h.addrList(index: i, family: .v6).contains(mine6)))

            let e = #expect(throws: NetlinkError.self) {
                _ = try h.addrAdd(index: 999_999, family: .v4, address: v4a, prefixLength: 24)
            }
            #expect(e?.errno == ENODEV)
            let bad = #expect(throws: NetlinkError.self) {
                _ = try h.addrAdd(index: i, family: .v4, address: v6a, prefixLength: 24)
            }
            #expect(bad?.errno == EINVAL)
        }
    }

    @Test func routesV4() throws {
        try withContainerLink("rt4") { h, c0 in
            _ = try h.addrAdd(index: c0.index, family: .v4, address: v4a, prefixLength: 24)
            let dflt = RouteSpec(family: .v4, dst: [0, 0, 0, 0], gateway: v4gw, oif: c0.index)
            #expect(dflt.dst.isEmpty && dflt.isDefault)
            let host = RouteSpec(family: .v4, dst: v4host, dstPrefixLength: 32, oif: c0.index, scope: 253, mtu: 1400)
            #expect(try h.routeAdd(dflt))
            #expect(try h.routeAdd(dflt) == false)
            #expect(try h.routeAdd(host))
            #expect(try h.routeAdd(host) == false)

            let listed = try h.routeList(family: .v4, oif: c0.index)
            let d = try #require(listed.first { $0.isDefault })
            #expect(d.gateway == v4gw && d.oif == c0.index && d.table == nil && d.scope == 0)
            let hr = try #require(listed.first { $0.dst == v4host })
            #expect(hr.dstPrefixLength == 32 && hr.gateway == nil && hr.scope == 253 && hr.mtu == 1400)
            #expect(listed.contains { $0.dst == [10, 99, 0, 0] && $0.dstPrefixLength == 24 })  // connected
            // Kernel-side dump errors arrive in NLMSG_DONE, which libnl alone would ignore.
            #expect((#expect(throws: NetlinkError.self) { _ = try h.routeList(family: .v4, oif: 999_999) })?.errno == ENODEV)
            #expect((#expect(throws: NetlinkError.self) { _ = try h.addrList(index: 999_999, family: .v4) })?.errno == ENODEV)
            #expect(h.strictDumps)  // kernel >= 4.20 filters dumps itself
            #expect(try h.routeList(family: .v4, oif: nil).count == listed.count)

            #expect(try h.routeDel(dflt))
            #expect(try h.routeDel(dflt) == false)
            #expect(try h.routeDel(RouteSpec(family: .v4, dst: v4host, dstPrefixLength: 32, oif: c0.index)))
            #expect(try h.routeDel(host) == false)
            #expect(!(try h.routeList(family: .v4, oif: c0.index).contains { $0.isDefault || $0.dst == v4host }))
        }
    }

    @Test func routesV6() throws {
        try withContainerLink("rt6") { h, c0 in
            _ = try h.addrAdd(index: c0.index, family: .v6, address: v6a, prefixLength: 64, noDAD: true)
            let dflt = RouteSpec(family: .v6, gateway: v6gw, oif: c0.index)
            #expect(try h.routeAdd(dflt))
            #expect(try h.routeAdd(dflt) == false)
            let listed = try h.routeList(family: .v6, oif: c0.index)
            #expect(listed.contains { $0.isDefault && $0.gateway == v6gw && $0.oif == c0.index })
            #expect(listed.allSatisfy { $0.family == .v6 })
            #expect(try h.routeDel(dflt))
            #expect(try h.routeDel(dflt) == false)
        }
    }

    /// libnl knows no ENETUNREACH (it says "Unspecific failure"); the kernel's errno and
    /// extended-ack text must still come through.
    @Test func kernelErrnoSurvivesLibnl() throws {
        try withContainerLink("err") { h, c0 in
            let e = #expect(throws: NetlinkError.self) {
                _ = try h.routeAdd(RouteSpec(family: .v4, gateway: [192, 0, 2, 1], oif: c0.index))
            }
            #expect(e?.errno == ENETUNREACH)
            #expect(e?.op == "routeAdd")
            #expect(e?.message.contains("Network is unreachable") == true)
            let m = #expect(throws: NetlinkError.self) { try h.linkSetMaster(index: c0.index, masterIndex: 999_999) }
            #expect(m?.errno == EINVAL)
        }
    }

    @Test func noPrefixRouteAddressLeavesNoSubnetRoute() throws {
        try withContainerLinkIn("npr") { h, c0, ns in
            let i = c0.index
            #expect(try h.addrAdd(index: i, family: .v4, address: v4a, prefixLength: 24, noPrefixRoute: true))
            #expect(try h.addrAdd(index: i, family: .v6, address: v6a, prefixLength: 64, noDAD: true, noPrefixRoute: true))
            // The control: an ordinary address on the same link gets its subnet route.
            #expect(try h.addrAdd(index: i, family: .v4, address: [10, 98, 0, 2], prefixLength: 24))
            #expect(try h.addrList(index: i, family: .v4).contains(Address(family: .v4, bytes: v4a, prefixLength: 24)))
            let v4 = try h.routeList(family: .v4, oif: i)
            #expect(!v4.contains { $0.dst == [10, 99, 0, 0] && $0.dstPrefixLength == 24 }, "\(v4)")
            #expect(v4.contains { $0.dst == [10, 98, 0, 0] && $0.dstPrefixLength == 24 })
            let v6 = try h.routeList(family: .v6, oif: i)
            #expect(!v6.contains { $0.dst == Array(v6a.prefix(8)) + [UInt8](repeating: 0, count: 8) && $0.dstPrefixLength == 64 },
                    "\(v6)")
            let flags = try run(["-n", ns.name, "addr", "show", "dev", "c0"]).output
            #expect(flags.contains("noprefixroute"), "\(flags)")
        }
    }

    @Test func routeWithPreferredSourceAndLinkScope() throws {
        try withContainerLink("src") { h, c0 in
            _ = try h.addrAdd(index: c0.index, family: .v4, address: v4a, prefixLength: 32, noPrefixRoute: true)
            // ptp's shape: the gateway reached on-link, then the default through it, both from our address.
            let onLink = RouteSpec(family: .v4, dst: v4gw, dstPrefixLength: 32, oif: c0.index, scope: 253, prefsrc: v4a)
            let dflt = RouteSpec(family: .v4, gateway: v4gw, oif: c0.index, prefsrc: v4a)
            #expect(try h.routeAdd(onLink))
            #expect(try h.routeAdd(dflt))
            let listed = try h.routeList(family: .v4, oif: c0.index)
            let r = try #require(listed.first { $0.dst == v4gw })
            #expect(r.scope == 253 && r.prefsrc == v4a && r.gateway == nil && r.dstPrefixLength == 32)
            let d = try #require(listed.first { $0.isDefault })
            #expect(d.prefsrc == v4a && d.gateway == v4gw && d.scope == 0)
            // A source the namespace does not own is refused by the kernel, errno intact.
            let bad = #expect(throws: NetlinkError.self) {
                _ = try h.routeAdd(RouteSpec(family: .v4, dst: v4host, dstPrefixLength: 32, oif: c0.index, scope: 253,
                                             prefsrc: [10, 99, 9, 9]))
            }
            #expect(bad?.errno == EINVAL)
            #expect(try h.routeDel(dflt))
            #expect(try h.routeDel(onLink))
            #expect(try h.routeDel(onLink) == false)
        }
    }
}
