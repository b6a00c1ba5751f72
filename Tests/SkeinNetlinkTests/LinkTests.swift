import Foundation
import Glibc
import Testing
@testable import SkeinNetlink

/// Link names carry part of the run tag so the "host does not see it" checks mean something.
private let tail = String(runTag.suffix(6))
private let hostEnd = "vh\(tail)"
private let peerEnd = "vp\(tail)"

@Suite("Links", .enabled(if: isRoot, "needs root: creates network namespaces"), .serialized)
struct LinkTests {
    @Test func bridgeCreateAdoptKeepsFixedMAC() throws {
        try withTestNS("br") { nss in
            do {
                let h = try handle(in: nss[0].ns)
                #expect(try h.bridgeAdd(name: "br0", mtu: 1400, mac: mac1) == true)
                let br = try #require(try h.linkGet(name: "br0"))
                #expect(br.kind == "bridge")
                #expect(br.mac == mac1)
                #expect(br.mtu == 1400)
                // Adopting leaves the existing bridge alone, whatever MAC is asked for.
                #expect(try h.bridgeAdd(name: "br0", mtu: 1400, mac: mac2) == false)
                // A port with a lower MAC would take over a bridge whose MAC was not set.
                try h.vethAdd(name: "p0", mac: lowMAC, mtu: nil, peerName: "p1", peerMAC: nil, peerNetNSFD: nil)
                let port = try #require(try h.linkGet(name: "p0"))
                try h.linkSetMaster(index: port.index, masterIndex: br.index)
                try h.linkSetUp(index: port.index)
                try h.linkSetUp(index: br.index)
                #expect(try h.linkGet(index: br.index)?.mac == mac1)
                // A bridge with no MAC given still gets a fixed one.
                #expect(try h.bridgeAdd(name: "br1", mtu: nil, mac: nil))
                let br1 = try #require(try h.linkGet(name: "br1"))
                #expect(br1.mac.count == 6 && br1.mac[0] & 0x03 == 0x02)
                // Same name, wrong kind: not silently adopted.
                let e = #expect(throws: NetlinkError.self) { _ = try h.bridgeAdd(name: "p1", mtu: nil, mac: nil) }
                #expect(e?.errno == EEXIST)
            }
        }
    }

    @Test func vethPeerIsBornInsideTheOtherNamespace() throws {
        try withTestNS("veth", count: 2) { nss in
            let (a, b) = (nss[0], nss[1])
            do {
                let h = try handle(in: a.ns)
                try h.vethAdd(name: hostEnd, mac: mac1, mtu: 1450, peerName: peerEnd, peerMAC: mac2, peerNetNSFD: b.ns.fd)
                let e = #expect(throws: NetlinkError.self) {
                    try h.vethAdd(name: hostEnd, mac: nil, mtu: nil, peerName: "x\(tail)", peerMAC: nil, peerNetNSFD: b.ns.fd)
                }
                #expect(e?.errno == EEXIST)
                let mine = try #require(try h.linkGet(name: hostEnd))
                #expect(mine.kind == "veth" && mine.mac == mac1 && mine.mtu == 1450)
                #expect(try h.linkGet(name: peerEnd) == nil)
            }
            let hb = try handle(in: b.ns)
            #expect(try hb.linkGet(name: hostEnd) == nil)
            let peer = try hb.linkGet(name: peerEnd)
            #expect(peer?.kind == "veth" && peer?.mac == mac2 && peer?.mtu == 1450 && peer?.isUp == false)
            #expect(try run(["-n", b.name, "link", "show", peerEnd]).status == 0)
            // The calling thread's (host) namespace sees neither end.
            let host = try NetlinkHandle()
            #expect(try host.linkGet(name: hostEnd) == nil)
            #expect(try host.linkGet(name: peerEnd) == nil)
        }
    }

    @Test func linkAttributes() throws {
        try withTestNS("attr") { nss in
            do {
                let h = try handle(in: nss[0].ns)
                _ = try h.bridgeAdd(name: "br0", mtu: nil, mac: mac1)
                try h.vethAdd(name: "p0", mac: nil, mtu: nil, peerName: "p1", peerMAC: nil, peerNetNSFD: nil)
                let br = try #require(try h.linkGet(name: "br0"))
                let p0 = try #require(try h.linkGet(name: "p0"))
                try h.linkSetMaster(index: p0.index, masterIndex: br.index)
                try h.linkSetUp(index: p0.index)
                try h.linkSetMTU(index: p0.index, mtu: 1300)
                try h.linkSetMAC(index: p0.index, mac: mac2)
                try h.linkSetPromisc(index: p0.index, on: true)
                var got = try #require(try h.linkGet(index: p0.index))
                #expect(got.masterIndex == br.index && got.isUp && got.mtu == 1300 && got.mac == mac2 && got.promisc)
                try h.linkSetPromisc(index: p0.index, on: false)
                try h.linkSetDown(index: p0.index)
                got = try #require(try h.linkGet(index: p0.index))
                #expect(!got.promisc && !got.isUp && got.masterIndex == br.index)
                try h.linkSetMaster(index: p0.index, masterIndex: 0)
                #expect(try h.linkGet(index: p0.index)?.masterIndex == nil)
            }
        }
    }

    @Test func hairpin() throws {
        try withTestNS("hp") { nss in
            let ns = nss[0]
            let h = try handle(in: ns.ns)
            do {
                _ = try h.bridgeAdd(name: "br0", mtu: nil, mac: mac1)
                try h.vethAdd(name: "p0", mac: nil, mtu: nil, peerName: "p1", peerMAC: nil, peerNetNSFD: nil)
                let p0 = try #require(try h.linkGet(name: "p0"))
                try h.linkSetMaster(index: p0.index, masterIndex: try #require(try h.linkGet(name: "br0")).index)
                try h.bridgePortSetHairpin(index: p0.index, on: true)
            }
            #expect(try run(["-n", ns.name, "-d", "link", "show", "dev", "p0"]).output.contains("hairpin on"))
            let port = try #require(try h.linkGet(name: "p0")).index
            try h.bridgePortSetHairpin(index: port, on: false)
            #expect(try run(["-n", ns.name, "-d", "link", "show", "dev", "p0"]).output.contains("hairpin off"))
            // Not a bridge port: the kernel refuses, and the errno survives.
            let p1 = try #require(try h.linkGet(name: "p1")).index
            let e = #expect(throws: NetlinkError.self) { try h.bridgePortSetHairpin(index: p1, on: true) }
            #expect(e?.errno == EOPNOTSUPP)
        }
    }

    @Test func deleteIsIdempotentAndErrorsKeepErrno() throws {
        try withTestNS("del") { nss in
            do {
                let h = try handle(in: nss[0].ns)
                try h.vethAdd(name: "d0", mac: nil, mtu: nil, peerName: "d1", peerMAC: nil, peerNetNSFD: nil)
                #expect(try h.linkDelete(name: "d0") == true)
                #expect(try h.linkDelete(name: "d0") == false)
                #expect(try h.linkGet(name: "d1") == nil)  // deleting one end takes the pair
                _ = try h.bridgeAdd(name: "br0", mtu: nil, mac: nil)
                let idx = try #require(try h.linkGet(name: "br0")).index
                #expect(try h.linkDelete(index: idx) == true)
                #expect(try h.linkDelete(index: idx) == false)
                #expect(try h.linkGet(index: idx) == nil)
                let e = #expect(throws: NetlinkError.self) { try h.linkSetUp(index: idx) }
                #expect(e?.errno == ENODEV)
                let long = #expect(throws: NetlinkError.self) { _ = try h.linkGet(name: "sixteen-bytes-xx") }
                #expect(long?.errno == EINVAL)
            }
        }
    }

    @Test func allmultiTxQLenRenameAndMove() throws {
        try withTestNS("mvr", count: 2) { nss in
            let (a, b) = (nss[0], nss[1])
            let h = try handle(in: a.ns)
            try h.vethAdd(name: "x0", mac: mac1, mtu: nil, peerName: "x1", peerMAC: nil, peerNetNSFD: nil)
            let x0 = try #require(try h.linkGet(name: "x0"))
            #expect(!x0.allmulti)
            try h.linkSetUp(index: x0.index)
            try h.linkSetAllmulti(index: x0.index, on: true)
            try h.linkSetTxQLen(index: x0.index, txQLen: 321)
            var got = try #require(try h.linkGet(index: x0.index))
            #expect(got.allmulti && got.txQLen == 321 && got.isUp && !got.promisc)
            try h.linkSetAllmulti(index: x0.index, on: false)
            #expect(try h.linkGet(index: x0.index)?.allmulti == false)
            try h.linkSetDown(index: x0.index)
            #expect(try h.linkGet(index: x0.index)?.isUp == false)
            try h.linkSetName(index: x0.index, name: "renamed")
            let taken = #expect(throws: NetlinkError.self) { try h.linkSetName(index: x0.index, name: "x1") }
            #expect(taken?.errno == EEXIST)
            #expect(try h.linkGet(name: "x0") == nil)
            got = try #require(try h.linkGet(name: "renamed"))
            #expect(got.index == x0.index && got.mac == mac1 && got.txQLen == 321)

            try h.linkSetNetNS(index: x0.index, netNSFD: b.ns.fd)
            #expect(try h.linkGet(name: "renamed") == nil)
            let hb = try handle(in: b.ns)
            let moved = try #require(try hb.linkGet(name: "renamed"))
            #expect(moved.mac == mac1 && moved.kind == "veth" && !moved.isUp)
            // And back, into a namespace that already has that name: refused, nothing lost.
            try h.vethAdd(name: "renamed", mac: nil, mtu: nil, peerName: "y1", peerMAC: nil, peerNetNSFD: nil)
            let clash = #expect(throws: NetlinkError.self) { try hb.linkSetNetNS(index: moved.index, netNSFD: a.ns.fd) }
            #expect(clash?.errno == EEXIST)
            #expect(try hb.linkGet(name: "renamed")?.index == moved.index)
            let missing = #expect(throws: NetlinkError.self) { try hb.linkSetNetNS(index: 999_999, netNSFD: a.ns.fd) }
            #expect(missing?.errno == ENODEV)
        }
    }

    @Test func linkListHasEveryLink() throws {
        try withTestNS("list") { nss in
            let h = try handle(in: nss[0].ns)
            try h.vethAdd(name: "l0", mac: mac1, mtu: nil, peerName: "l1", peerMAC: mac2, peerNetNSFD: nil)
            let all = try h.linkList()
            #expect(Set(all.map(\.name)) == ["lo", "l0", "l1"])
            #expect(all.first { $0.mac == mac2 }?.name == "l1")
        }
    }
}
