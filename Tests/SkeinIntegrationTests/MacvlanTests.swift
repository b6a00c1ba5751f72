import Foundation
import Testing

// macvlan through the release skein binary, on a node namespace (TypeSupport.swift) whose NIC — a
// veth end with its peer in the wire namespace — is the master. Subnets 10.250.1–4.0/24.

@Suite("macvlan", .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct MacvlanTests {
    static func plugin(master: String?, n: Int, extra: String = "") -> String {
        let m = master.map { ",\"master\":\"\($0)\"" } ?? ""
        return """
        {"type":"macvlan"\(m),"mode":"bridge"\(extra),"ipam":{"type":"host-local","subnet":"10.250.\(n).0/24"}}
        """
    }

    /// The pod's `net1`: a macvlan in bridge mode on `master`, up, with exactly `address`.
    func expectMacvlan(_ node: Node, pod: String, master: String, address: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        guard let l = TypeIT.link(pod, "net1") else {
            Issue.record("no net1 in \(pod)", sourceLocation: sourceLocation); return
        }
        #expect(l.kind == "macvlan", "net1 kind \(l.kind ?? "-")", sourceLocation: sourceLocation)
        #expect(l.mode == "bridge", "macvlan mode \(l.mode ?? "-")", sourceLocation: sourceLocation)
        #expect(l.up, "net1 is not UP: \(l.flags)", sourceLocation: sourceLocation)
        #expect(l.parentIndex == TypeIT.link(node.host, master)?.index, "net1's lower device is not \(master)",
                sourceLocation: sourceLocation)
        #expect(TypeIT.addresses(pod, "net1") == [address], sourceLocation: sourceLocation)
    }

    /// Subnet 1: two pods on one master: ADD, result, CHECK, they ping each other, DEL twice.
    @Test func twoPodsOnOneMasterPingEachOther() {
        guard Env.canRunKernelTests else { return }
        let node = Node("mv"); defer { node.cleanup() }
        let master = node.nic("m0")
        let config = node.config(delegate: Self.plugin(master: master, n: 1))
        let a = node.pod("a"), b = node.pod("b")

        let addA = node.skein("ADD", container: "mvA", netns: a, config: config)
        #expect(addA.status == 0, "ADD A: \(addA.stdout) \(addA.stderr)")
        let addB = node.skein("ADD", container: "mvB", netns: b, config: config)
        #expect(addB.status == 0, "ADD B: \(addB.stdout) \(addB.stderr)")
        guard addA.status == 0, addB.status == 0 else { return }

        // The reference's shape: one interface, in the sandbox; ips[0] on it with host-local's gateway.
        for (r, ns, ip) in [(addA, a, "10.250.1.2/24"), (addB, b, "10.250.1.3/24")] {
            #expect(TypeIT.interfaces(r).map(\.name) == ["net1"], "\(r.stdout)")
            #expect(TypeIT.interfaces(r).first?.sandbox == ns)
            #expect(TypeIT.ips(r).map(\.address) == [ip])
            #expect(TypeIT.ips(r).first?.interface == 0)
            #expect(TypeIT.ips(r).first?.gateway == "10.250.1.1")
            let mac = (r.json?["interfaces"] as? [[String: Any]])?.first?["mac"] as? String ?? ""
            #expect(mac == TypeIT.link(ns, "net1")?.mac, "result MAC \(mac) is not net1's")
            expectMacvlan(node, pod: ns, master: master, address: ip)
        }
        #expect(SkeinIT.allocations(node.sb).map(\.ip) == ["10.250.1.2", "10.250.1.3"])

        let check = node.skein("CHECK", container: "mvA", netns: a, config: TypeIT.withPrev(config, addA))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        #expect(TypeIT.ping(a, "10.250.1.3"), "pod A cannot ping pod B over their macvlans")
        #expect(TypeIT.ping(b, "10.250.1.2"), "pod B cannot ping pod A over their macvlans")
        SkeinIT.expectVerify(node.sb)

        for (c, ns) in [("mvA", a), ("mvB", b)] {
            let d1 = node.skein("DEL", container: c, netns: ns, config: config)
            #expect(d1.status == 0, "DEL \(c): \(d1.stdout) \(d1.stderr)")
            #expect(d1.stdout.isEmpty)
            let d2 = node.skein("DEL", container: c, netns: ns, config: config)
            #expect(d2.status == 0, "second DEL \(c): \(d2.stdout) \(d2.stderr)")
            #expect(!SkeinIT.hasLink(ns, "net1"), "net1 left in \(c)'s netns")
        }
        #expect(TypeIT.link(node.host, master)?.up == true, "the master lost its state")
        TypeIT.expectNothingHeld(node)
    }

    /// Subnet 2: DEL after the pod's netns is gone (`ip netns del` first), and again.
    @Test func delAfterNetnsDeleted() {
        guard Env.canRunKernelTests else { return }
        let node = Node("mg"); defer { node.cleanup() }
        let master = node.nic("m0")
        let config = node.config(delegate: Self.plugin(master: master, n: 2))
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "gone", netns: pod, config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        node.sb.deleteNetns(pod)
        let d1 = node.skein("DEL", container: "gone", netns: pod, config: config)
        #expect(d1.status == 0, "DEL after netns deletion: \(d1.stdout) \(d1.stderr)")
        let d2 = node.skein("DEL", container: "gone", netns: pod, config: config)
        #expect(d2.status == 0, "second DEL: \(d2.stdout) \(d2.stderr)")
        #expect(TypeIT.links(node.host).filter { $0.kind == "macvlan" }.isEmpty, "a macvlan was left in the node")
        TypeIT.expectNothingHeld(node)
    }

    /// Subnet 3: mtu, a configured mac, mode private; CHECK passes, then catches a removed address.
    @Test func mtuMacAndCheckDrift() {
        guard Env.canRunKernelTests else { return }
        let node = Node("mc"); defer { node.cleanup() }
        let master = node.nic("m0")
        let plugin = Self.plugin(master: master, n: 3, extra: ",\"mtu\":1400,\"mac\":\"02:25:00:03:00:07\"")
            .replacingOccurrences(of: "\"mode\":\"bridge\"", with: "\"mode\":\"private\"")
        let config = node.config(delegate: plugin)
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "mtu", netns: pod, config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        let l = TypeIT.link(pod, "net1")
        #expect(l?.mtu == 1400, "net1 MTU \(l?.mtu ?? -1)")
        #expect(l?.mac == "02:25:00:03:00:07", "net1 MAC \(l?.mac ?? "-")")
        #expect(l?.mode == "private", "macvlan mode \(l?.mode ?? "-")")
        #expect((add.json?["interfaces"] as? [[String: Any]])?.first?["mac"] as? String == "02:25:00:03:00:07")

        let checkConfig = TypeIT.withPrev(config, add)
        let ok = node.skein("CHECK", container: "mtu", netns: pod, config: checkConfig)
        #expect(ok.status == 0, "CHECK: \(ok.stdout) \(ok.stderr)")
        ip("-n", SkeinIT.nsName(pod), "addr", "del", "10.250.3.2/24", "dev", "net1")
        let bad = node.skein("CHECK", container: "mtu", netns: pod, config: checkConfig)
        #expect(bad.status != 0, "CHECK passed with net1's address removed")
        #expect(TypeIT.errorText(bad).contains("10.250.3.2"), "CHECK error does not name the address: \(bad.stdout)")

        #expect(node.skein("DEL", container: "mtu", netns: pod, config: config).status == 0)
        #expect(!SkeinIT.hasLink(pod, "net1"))
        TypeIT.expectNothingHeld(node)
    }

    /// Subnet 4: no `master`: the interface of the node's default route is the master.
    @Test func defaultMasterIsTheDefaultRouteInterface() {
        guard Env.canRunKernelTests else { return }
        let node = Node("md"); defer { node.cleanup() }
        node.nic("x0")   // a decoy that is not the default route's interface
        let uplink = node.nic("m0", peerAddress: "10.250.4.254/24")
        ip("-n", node.host, "addr", "add", "10.250.4.1/24", "dev", uplink)
        ip("-n", node.host, "route", "add", "default", "via", "10.250.4.254")
        let config = node.config(delegate: Self.plugin(master: nil, n: 4))
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "dflt", netns: pod, config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        expectMacvlan(node, pod: pod, master: uplink, address: "10.250.4.2/24")
        // The wire's peer is on the master's segment: reachable straight from the pod.
        #expect(TypeIT.ping(pod, "10.250.4.254"), "pod cannot reach the wire through the default master")
        #expect(node.skein("DEL", container: "dflt", netns: pod, config: config).status == 0)
        TypeIT.expectNothingHeld(node)
    }
}
