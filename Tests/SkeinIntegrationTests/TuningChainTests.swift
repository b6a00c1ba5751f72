import Foundation
import Testing

// Chains through the release skein binary: a conflist delegate (bridge → tuning, macvlan → tuning)
// on a node namespace (TypeSupport.swift). prevResult flows down the chain on ADD, CHECK checks
// every link of it, DEL runs it in reverse. Subnets 10.250.30–32.0/24.

@Suite("tuning chains", .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct TuningChainTests {
    static let tunedMAC = "02:25:00:1e:00:05"

    static func bridge(_ node: Node, n: Int) -> String {
        """
        {"type":"bridge","bridge":"\(node.prefix)br","isGateway":true,"ipam":{"type":"host-local","subnet":"10.250.\(n).0/24"}}
        """
    }

    static func tuning(ifname: String, extra: String = "") -> String {
        """
        {"type":"tuning","mac":"\(tunedMAC)","mtu":1400,"promisc":true,\
        "sysctl":{"net.ipv4.conf.\(ifname).arp_notify":"1","net.ipv4.conf.\(ifname).accept_local":"1"}\(extra)}
        """
    }

    /// What tuning set on `ifname` in the pod.
    func expectTuned(_ pod: String, _ ifname: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let l = TypeIT.link(pod, ifname)
        #expect(l?.mac == Self.tunedMAC, "\(ifname) MAC \(l?.mac ?? "-")", sourceLocation: sourceLocation)
        #expect(l?.mtu == 1400, "\(ifname) MTU \(l?.mtu ?? -1)", sourceLocation: sourceLocation)
        #expect(l?.promisc == true, "\(ifname) not promiscuous: \(l?.flags ?? [])", sourceLocation: sourceLocation)
        #expect(TypeIT.sysctl(pod, "net.ipv4.conf.\(ifname).arp_notify") == "1", sourceLocation: sourceLocation)
        #expect(TypeIT.sysctl(pod, "net.ipv4.conf.\(ifname).accept_local") == "1", sourceLocation: sourceLocation)
    }

    /// Subnet 30: bridge → tuning: ADD, the result carries the tuned MAC, CHECK, the pod reaches
    /// its gateway, DEL twice, no port left on the bridge.
    @Test func bridgeThenTuning() {
        guard Env.canRunKernelTests else { return }
        let node = Node("tb"); defer { node.cleanup() }
        let chain = TypeIT.conflist(node.prefix + "-tb", [Self.bridge(node, n: 30), Self.tuning(ifname: "eth0")])
        let config = node.config(delegate: chain)
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "tb", netns: pod, ifname: "eth0", config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        guard add.status == 0 else { return }
        let ifs = add.json?["interfaces"] as? [[String: Any]] ?? []
        #expect(ifs.count == 3, "bridge's shape (bridge, host veth, eth0): \(add.stdout)")
        #expect(ifs.last?["name"] as? String == "eth0" && ifs.last?["mac"] as? String == Self.tunedMAC,
                "the result does not carry the tuned MAC: \(add.stdout)")
        #expect(TypeIT.ips(add).map(\.address) == ["10.250.30.2/24"])
        expectTuned(pod, "eth0")
        #expect(TypeIT.addresses(pod, "eth0") == ["10.250.30.2/24"])

        let check = node.skein("CHECK", container: "tb", netns: pod, ifname: "eth0", config: TypeIT.withPrev(config, add))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        #expect(TypeIT.ping(pod, "10.250.30.1"), "pod cannot reach the bridge gateway after tuning")
        SkeinIT.expectVerify(node.sb)

        for i in 1...2 {
            let d = node.skein("DEL", container: "tb", netns: pod, ifname: "eth0", config: config)
            #expect(d.status == 0, "DEL \(i): \(d.stdout) \(d.stderr)")
        }
        #expect(!SkeinIT.hasLink(pod, "eth0"))
        let ports = TypeIT.links(node.host).filter { $0.kind == "veth" }
        #expect(ports.isEmpty, "host veths left: \(ports.map(\.name))")
        TypeIT.expectNothingHeld(node)
    }

    /// Subnet 31: macvlan → tuning, CHECK, DEL after the netns is gone.
    @Test func macvlanThenTuningThenNetnsGone() {
        guard Env.canRunKernelTests else { return }
        let node = Node("tm"); defer { node.cleanup() }
        let master = node.nic("m0")
        let chain = TypeIT.conflist(node.prefix + "-tm", [MacvlanTests.plugin(master: master, n: 31), Self.tuning(ifname: "net1")])
        let config = node.config(delegate: chain)
        let pod = node.pod("p")
        let add = node.skein("ADD", container: "tm", netns: pod, config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        expectTuned(pod, "net1")
        #expect(TypeIT.link(pod, "net1")?.kind == "macvlan")
        let check = node.skein("CHECK", container: "tm", netns: pod, config: TypeIT.withPrev(config, add))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        node.sb.deleteNetns(pod)
        for i in 1...2 {
            let d = node.skein("DEL", container: "tm", netns: pod, config: config)
            #expect(d.status == 0, "DEL \(i) after netns deletion: \(d.stdout) \(d.stderr)")
        }
        #expect(TypeIT.link(node.host, master)?.promisc == false, "tuning's promisc leaked onto the master")
        TypeIT.expectNothingHeld(node)
    }

    /// Subnet 32: a sysctl outside `net.` is refused as invalid config (7) and the chain's ADD
    /// leaves nothing behind (no port, no eth0, nothing held); the same pod then attaches with a
    /// clean tuning. skein runs in its own UTS namespace here: kernel.domainname is not per-netns.
    @Test func nonNetSysctlIsRefusedAndNothingIsHeld() {
        guard Env.canRunKernelTests else { return }
        let node = Node("tr"); defer { node.cleanup() }
        let bad = #"{"type":"tuning","sysctl":{"kernel.domainname":"skein-test"}}"#
        let pod = node.pod("p")
        let badConfig = node.config(delegate: TypeIT.conflist(node.prefix + "-tr", [Self.bridge(node, n: 32), bad]))
        let add = node.skein("ADD", container: "tr", netns: pod, ifname: "eth0", config: badConfig, ownUTS: true)
        #expect(add.status == 1, "ADD with kernel.* sysctl: \(add.status) \(add.stdout) \(add.stderr)")
        #expect(SkeinIT.code(add) == 7, "want invalid config (7): \(add.stdout)")
        #expect(TypeIT.errorText(add).contains("kernel.domainname"), "error does not name the key: \(add.stdout)")
        #expect(!SkeinIT.hasLink(pod, "eth0"), "eth0 left after the refused ADD")
        #expect(TypeIT.links(node.host).filter { $0.kind == "veth" }.isEmpty, "host veth left after the refused ADD")
        TypeIT.expectNothingHeld(node, "after the refused ADD")
        #expect(node.skein("DEL", container: "tr", netns: pod, ifname: "eth0", config: badConfig, ownUTS: true).status == 0)

        let good = node.config(delegate: TypeIT.conflist(node.prefix + "-tr", [Self.bridge(node, n: 32), Self.tuning(ifname: "eth0")]))
        let retry = node.skein("ADD", container: "tr", netns: pod, ifname: "eth0", config: good)
        #expect(retry.status == 0, "ADD after the refusal: \(retry.stdout) \(retry.stderr)")
        expectTuned(pod, "eth0")
        #expect(node.skein("DEL", container: "tr", netns: pod, ifname: "eth0", config: good).status == 0)
        TypeIT.expectNothingHeld(node)
    }
}
