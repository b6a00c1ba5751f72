import Foundation
import Testing

// ptp through the release skein binary, on a node namespace (TypeSupport.swift): a veth pair per
// pod, the gateway address on the host end (/32), a /32 host route to the pod. Subnets 10.250.20–21.0/24.

@Suite("ptp", .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct PtpTests {
    static func plugin(n: Int) -> String {
        """
        {"type":"ptp","mtu":1400,"ipam":{"type":"host-local","subnet":"10.250.\(n).0/24"}}
        """
    }

    /// Node links that are veths (the host ends ptp makes).
    static func hostVeths(_ node: Node) -> [LinkState] {
        TypeIT.links(node.host).filter { $0.kind == "veth" }
    }

    /// Subnet 20: two pods: ADD, result, host end, CHECK, each pings its gateway and the other pod
    /// (routed through the node), DEL twice, nothing left on the node.
    @Test func addCheckPingDelTwice() {
        guard Env.canRunKernelTests else { return }
        let node = Node("pt"); defer { node.cleanup() }
        let config = node.config(delegate: Self.plugin(n: 20))
        let a = node.pod("a"), b = node.pod("b")
        let addA = node.skein("ADD", container: "ptA", netns: a, config: config)
        #expect(addA.status == 0, "ADD A: \(addA.stdout) \(addA.stderr)")
        let addB = node.skein("ADD", container: "ptB", netns: b, config: config)
        #expect(addB.status == 0, "ADD B: \(addB.stdout) \(addB.stderr)")
        guard addA.status == 0, addB.status == 0 else { return }

        // The reference's shape: host end (no sandbox), then net1 in the sandbox; ips[0] on net1.
        let ifs = TypeIT.interfaces(addA)
        #expect(ifs.count == 2, "\(addA.stdout)")
        #expect(ifs.first?.sandbox == nil && ifs.last?.name == "net1" && ifs.last?.sandbox == a, "\(addA.stdout)")
        #expect(TypeIT.ips(addA).map(\.address) == ["10.250.20.2/24"])
        #expect(TypeIT.ips(addA).first?.interface == 1)
        #expect(TypeIT.ips(addA).first?.gateway == "10.250.20.1")

        let hostEnd = ifs.first?.name ?? "?"
        let host = TypeIT.link(node.host, hostEnd)
        #expect(host?.kind == "veth", "host end \(hostEnd): \(String(describing: host))")
        #expect(host?.mtu == 1400 && TypeIT.link(a, "net1")?.mtu == 1400, "MTU not 1400 on both ends")
        #expect(TypeIT.addresses(node.host, hostEnd) == ["10.250.20.1/32"], "host end addresses")
        #expect(TypeIT.addresses(a, "net1") == ["10.250.20.2/24"])
        let hostRoutes = TypeIT.routes(node.host)
        #expect(hostRoutes.contains { $0.contains("\"dst\":\"10.250.20.2\"") }, "no host route to pod A: \(hostRoutes)")

        let check = node.skein("CHECK", container: "ptA", netns: a, config: TypeIT.withPrev(config, addA))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        #expect(TypeIT.ping(a, "10.250.20.1"), "pod A cannot ping its gateway on the host end")
        #expect(TypeIT.ping(b, "10.250.20.1"), "pod B cannot ping its gateway")
        #expect(TypeIT.ping(a, "10.250.20.3"), "pod A cannot reach pod B through the node")
        SkeinIT.expectVerify(node.sb)

        for (c, ns) in [("ptA", a), ("ptB", b)] {
            let d1 = node.skein("DEL", container: c, netns: ns, config: config)
            #expect(d1.status == 0, "DEL \(c): \(d1.stdout) \(d1.stderr)")
            let d2 = node.skein("DEL", container: c, netns: ns, config: config)
            #expect(d2.status == 0, "second DEL \(c): \(d2.stdout) \(d2.stderr)")
            #expect(!SkeinIT.hasLink(ns, "net1"))
        }
        #expect(Self.hostVeths(node).isEmpty, "host ends left: \(Self.hostVeths(node).map(\.name))")
        #expect(!TypeIT.routes(node.host).contains { $0.contains("10.250.20.") }, "routes left: \(TypeIT.routes(node.host))")
        TypeIT.expectNothingHeld(node)
    }

    /// Subnet 21: DEL after the pod's netns is gone, and again.
    @Test func delAfterNetnsDeleted() {
        guard Env.canRunKernelTests else { return }
        let node = Node("pg"); defer { node.cleanup() }
        let config = node.config(delegate: Self.plugin(n: 21))
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "gone", netns: pod, config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        node.sb.deleteNetns(pod)
        let d1 = node.skein("DEL", container: "gone", netns: pod, config: config)
        #expect(d1.status == 0, "DEL after netns deletion: \(d1.stdout) \(d1.stderr)")
        let d2 = node.skein("DEL", container: "gone", netns: pod, config: config)
        #expect(d2.status == 0, "second DEL: \(d2.stdout) \(d2.stderr)")
        #expect(Self.hostVeths(node).isEmpty, "host ends left: \(Self.hostVeths(node).map(\.name))")
        #expect(!TypeIT.routes(node.host).contains { $0.contains("10.250.21.") }, "routes left")
        TypeIT.expectNothingHeld(node)
    }
}
