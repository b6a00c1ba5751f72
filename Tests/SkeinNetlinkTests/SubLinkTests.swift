import Foundation
import Glibc
import Testing
@testable import SkeinNetlink

/// A veth "p0" (peer "p1"), both up in `ns`: a parent for macvlan, ipvlan and vlan links.
private func vethParent(in ns: NetNS, name: String = "p0", peer: String = "p1") throws -> (NetlinkHandle, Link) {
    let h = try handle(in: ns)
    try h.vethAdd(name: name, mac: nil, mtu: nil, peerName: peer, peerMAC: nil, peerNetNSFD: nil)
    let parent = try #require(try h.linkGet(name: name))
    try h.linkSetUp(index: parent.index)
    try h.linkSetUp(index: try #require(try h.linkGet(name: peer)).index)
    return (h, parent)
}

@Suite("Sub-links and the default route", .enabled(if: isRoot, "needs root: creates network namespaces"), .serialized)
struct SubLinkTests {
    @Test func macvlanIsBornInTheOtherNamespaceOnItsParent() throws {
        try withTestNS("mv", count: 2) { nss in
            let (a, b) = (nss[0], nss[1])
            let (ha, parent) = try vethParent(in: a.ns)
            try ha.macvlanAdd(name: "mv0", parentIndex: parent.index, mode: .bridge, mac: mac1, mtu: 1400, netNSFD: b.ns.fd)
            let again = #expect(throws: NetlinkError.self) {
                try ha.macvlanAdd(name: "mv0", parentIndex: parent.index, mode: .bridge, mac: nil, mtu: nil, netNSFD: b.ns.fd)
            }
            #expect(again?.errno == EEXIST)
            #expect(try ha.linkGet(name: "mv0") == nil)
            let hb = try handle(in: b.ns)
            let mv = try #require(try hb.linkGet(name: "mv0"))
            #expect(mv.kind == "macvlan" && mv.mac == mac1 && mv.mtu == 1400 && !mv.isUp)
            #expect(mv.parentIndex == parent.index)  // IFLA_LINK names the parent in its own namespace
            #expect(try run(["-n", b.name, "-d", "link", "show", "mv0"]).output.contains("macvlan mode bridge"))
            try hb.linkSetUp(index: mv.index)
            #expect(try hb.linkGet(index: mv.index)?.isUp == true)
        }
    }

    @Test func macvlanModes() throws {
        try withTestNS("mvm") { nss in
            let (h, parent) = try vethParent(in: nss[0].ns)
            for mode in [MacvlanMode.private, .vepa, .bridge] {
                try h.macvlanAdd(name: "m-\(mode.rawValue)", parentIndex: parent.index, mode: mode, mac: nil, mtu: nil, netNSFD: nil)
                let shown = try run(["-n", nss[0].name, "-d", "link", "show", "m-\(mode.rawValue)"]).output
                #expect(shown.contains("macvlan mode \(mode.rawValue) "), "\(shown)")
            }
            // passthru takes the whole lower device: it must be the parent's only macvlan.
            let (_, other) = try vethParent(in: nss[0].ns, name: "q0", peer: "q1")
            try h.macvlanAdd(name: "m-pt", parentIndex: other.index, mode: .passthru, mac: nil, mtu: nil, netNSFD: nil)
            #expect(try run(["-n", nss[0].name, "-d", "link", "show", "m-pt"]).output.contains("macvlan mode passthru"))
            let noParent = #expect(throws: NetlinkError.self) {
                try h.macvlanAdd(name: "m-x", parentIndex: 999_999, mode: .bridge, mac: nil, mtu: nil, netNSFD: nil)
            }
            #expect(noParent?.errno == ENODEV || noParent?.errno == EINVAL)
        }
    }

    /// The error a user sees where the kernel has no ipvlan or 8021q driver (this machine's). On
    /// a kernel that has them the links are simply created, and that is checked instead.
    @Test(arguments: ["ipvlan", "vlan"])
    func missingKernelModuleIsNamed(_ kind: String) throws {
        try withTestNS("nomod-\(kind)") { nss in
            let (h, parent) = try vethParent(in: nss[0].ns)
            do {
                if kind == "ipvlan" {
                    try h.ipvlanAdd(name: "sub0", parentIndex: parent.index, mode: .l2, mtu: nil, netNSFD: nil)
                } else {
                    try h.vlanAdd(name: "sub0", parentIndex: parent.index, vlanID: 100, mac: nil, mtu: nil, netNSFD: nil)
                }
                #expect(try h.linkGet(name: "sub0")?.kind == kind)
                print("\(kind): this kernel has the driver; the missing-module error was not exercised")
            } catch let e as NetlinkError {
                let module = kind == "ipvlan" ? "ipvlan" : "8021q"
                #expect(e.errno == EOPNOTSUPP)
                #expect(e.message.contains("this kernel cannot create \(kind) links: its \(module) module is missing"),
                        "\(e)")
                #expect(e.description.hasPrefix("\(kind)Add sub0: "))
            }
            let range = #expect(throws: NetlinkError.self) {
                try h.vlanAdd(name: "sub1", parentIndex: parent.index, vlanID: 4095, mac: nil, mtu: nil, netNSFD: nil)
            }
            #expect(range?.errno == EINVAL)
        }
    }

    @Test func defaultRouteLinkPrefersIPv4AndTheLowestMetric() throws {
        try withTestNS("dflt", count: 2) { nss in
            let (h, d0) = try vethParent(in: nss[0].ns, name: "d0", peer: "d1")
            #expect(try h.defaultRouteLink() == nil)
            let d1 = try #require(try h.linkGet(name: "d1"))
            _ = try h.addrAdd(index: d0.index, family: .v4, address: [10, 97, 0, 2], prefixLength: 24)
            _ = try h.addrAdd(index: d1.index, family: .v4, address: [10, 97, 1, 2], prefixLength: 24)
            _ = try h.addrAdd(index: d1.index, family: .v6, address: [0xfd, 0, 0, 0x97] + [UInt8](repeating: 0, count: 11) + [2],
                              prefixLength: 64, noDAD: true)
            // An IPv6 default on d1 loses to IPv4; of two IPv4 defaults, metric 50 beats 100.
            _ = try h.routeAdd(RouteSpec(family: .v6, gateway: [0xfd, 0, 0, 0x97] + [UInt8](repeating: 0, count: 11) + [1],
                                         oif: d1.index))
            _ = try h.routeAdd(RouteSpec(family: .v4, gateway: [10, 97, 1, 1], oif: d1.index, priority: 100))
            _ = try h.routeAdd(RouteSpec(family: .v4, gateway: [10, 97, 0, 1], oif: d0.index, priority: 50))
            #expect(try h.defaultRouteLink()?.name == "d0")

            // IPv6 only: its default route's device.
            let (h2, e0) = try vethParent(in: nss[1].ns, name: "e0", peer: "e1")
            _ = try h2.addrAdd(index: e0.index, family: .v6, address: [0xfd, 0, 0, 0x96] + [UInt8](repeating: 0, count: 11) + [2],
                               prefixLength: 64, noDAD: true)
            _ = try h2.routeAdd(RouteSpec(family: .v6, gateway: [0xfd, 0, 0, 0x96] + [UInt8](repeating: 0, count: 11) + [1],
                                          oif: e0.index))
            #expect(try h2.defaultRouteLink()?.name == "e0")
        }
    }

    /// Through withNetNS itself, as the engine's callers would enter a namespace.
    @Test func defaultRouteLinkInsideWithNetNS() throws {
        try withTestNS("dfw") { nss in
            _ = try vethParent(in: nss[0].ns, name: "w0", peer: "w1")
            #expect(try run(["-n", nss[0].name, "addr", "add", "10.95.0.2/24", "dev", "w0"]).status == 0)
            #expect(try run(["-n", nss[0].name, "route", "add", "default", "via", "10.95.0.1"]).status == 0)
            let name = try withNetNS(nss[0].ns) { h in try h.defaultRouteLink()?.name }
            #expect(name == "w0")
        }
    }
}
