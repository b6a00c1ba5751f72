import Foundation
import Testing

// The meta-plugin without a cluster: NADs from a local directory (nadDir), the pod's networks from
// CNI_ARGS SKEIN_NETWORKS (comma form) or the runtimeConfig capability podAnnotations (any form).
// skein runs in a node namespace (TypeSupport's Node); bridges and macvlan masters live there.
// Subnets 10.249.N.0/24, N listed at each test (1–19 here; MetaKubeTests uses 20 and up).

@Suite("meta-plugin with a NAD directory", .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct MetaTests {
    static let networks = "k8s.v1.cni.cncf.io/networks"

    /// podAnnotations passed as the runtime passes a capability: in the config's runtimeConfig.
    static func annotations(_ pairs: [String: String]) -> String {
        ",\"capabilities\":{\"podAnnotations\":true},\"runtimeConfig\":{\"podAnnotations\":" + TypeIT.canonical(pairs) + "}"
    }

    /// The cluster network from confDir (a conflist named like clusterNetwork), a bridge NAD (YAML)
    /// and a macvlan NAD (JSON) on a NIC of the node.
    func threeNetworkNode(_ tag: String, cluster: Int, bridge: Int, macvlan: Int) -> (MetaNode, String) {
        let m = MetaNode(tag)
        let master = m.node.nic("m0")
        m.write(TypeIT.conflist(m.prefix + "-cluster", [m.bridge("br", n: cluster)]), to: m.confDir + "/10-cluster.conflist")
        m.nad("bridge-net", config: m.bridge("b2", n: bridge), yaml: true)
        m.nad("macvlan-net", config: m.macvlan(master: master, n: macvlan, extra: ",\"capabilities\":{\"ips\":true,\"mac\":true}"))
        return (m, m.config(clusterNetwork: m.prefix + "-cluster"))
    }

    /// Subnets 1, 2, 3: eth0 (cluster bridge), net1 (bridge NAD), net2 (macvlan NAD) with the right
    /// addresses; the answer is the cluster network's; CHECK passes; DEL removes all three, twice.
    @Test func clusterPlusBridgePlusMacvlan() {
        guard Env.canRunKernelTests else { return }
        let (m, config) = threeNetworkNode("m3", cluster: 1, bridge: 2, macvlan: 3)
        defer { m.cleanup() }
        let pod = m.node.pod("p")
        let args = MetaNode.podArgs("web", extra: "SKEIN_NETWORKS=bridge-net,macvlan-net")
        let add = m.skein("ADD", container: "m3", netns: pod, config: config, args: args)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        #expect(TypeIT.addresses(pod, "eth0") == ["10.249.1.2/24"])
        #expect(TypeIT.addresses(pod, "net1") == ["10.249.2.2/24"])
        #expect(TypeIT.addresses(pod, "net2") == ["10.249.3.2/24"])
        #expect(TypeIT.link(pod, "net2")?.kind == "macvlan")
        #expect(TypeIT.interfaces(add).contains { $0.name == "eth0" && $0.sandbox == pod }, "answer is not eth0's: \(add.stdout)")
        #expect(TypeIT.ips(add).map(\.address) == ["10.249.1.2/24"])
        #expect(m.heldKeys() == ["m3/eth0", "m3/net1", "m3/net2"])
        // Each request names its NAD and the skein config that made it.
        let facts = m.events("addRequested").compactMap { $0["facts"] as? [String: Any] }
        #expect(facts.compactMap { $0["nad"] as? String } == [m.prefix + "-cluster", "default/bridge-net", "default/macvlan-net"])
        #expect(facts.allSatisfy { $0["skeinNetwork"] as? String == m.prefix + "-meta" })
        #expect(TypeIT.ping(pod, "10.249.2.1"), "net1 cannot reach its bridge")

        let check = m.skein("CHECK", container: "m3", netns: pod, config: TypeIT.withPrev(config, add), args: args)
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        for i in 1...2 {
            let del = m.skein("DEL", container: "m3", netns: pod, config: config, args: args)
            #expect(del.status == 0 && del.stdout.isEmpty, "DEL \(i): \(del.stdout) \(del.stderr)")
        }
        for dev in ["eth0", "net1", "net2"] { #expect(!SkeinIT.hasLink(pod, dev), "\(dev) left in the pod") }
        #expect(TypeIT.links(m.node.host).filter { $0.kind == "veth" && $0.name.hasPrefix("veth") }.isEmpty, "host veths left")
        TypeIT.expectNothingHeld(m.node)
    }

    /// Subnets 4, 5, 6: explicit interface names, in the comma form (`@ifname`) and the JSON form
    /// (`interface`, with `ips` reaching host-local and `mac` the macvlan).
    @Test func explicitInterfaceNames() {
        guard Env.canRunKernelTests else { return }
        let (m, config) = threeNetworkNode("mi", cluster: 4, bridge: 5, macvlan: 6)
        defer { m.cleanup() }
        let a = m.node.pod("a"), b = m.node.pod("b")
        let comma = m.skein("ADD", container: "miA", netns: a, config: config,
                            args: MetaNode.podArgs("a", extra: "SKEIN_NETWORKS=bridge-net@data0,default/macvlan-net@mv0"))
        #expect(comma.status == 0, "ADD (comma form): \(comma.stdout) \(comma.stderr)")
        #expect(TypeIT.addresses(a, "data0") == ["10.249.5.2/24"] && TypeIT.addresses(a, "mv0") == ["10.249.6.2/24"])

        let json = #"[{"name":"macvlan-net","interface":"fast0","ips":["10.249.6.50/24"],"mac":"02:49:06:00:00:50"},"#
            + #"{"name":"bridge-net","namespace":"default","interface":"slow0"}]"#
        let jsonConfig = config.dropLast() + Self.annotations([Self.networks: json]) + "}"
        let add = m.skein("ADD", container: "miB", netns: b, config: String(jsonConfig), args: MetaNode.podArgs("b"))
        #expect(add.status == 0, "ADD (JSON form): \(add.stdout) \(add.stderr)")
        #expect(TypeIT.addresses(b, "fast0") == ["10.249.6.50/24"])
        #expect(TypeIT.link(b, "fast0")?.mac == "02:49:06:00:00:50")
        #expect(TypeIT.addresses(b, "slow0") == ["10.249.5.3/24"])
        #expect(m.heldKeys() == ["miA/data0", "miA/eth0", "miA/mv0", "miB/eth0", "miB/fast0", "miB/slow0"])

        #expect(m.skein("DEL", container: "miA", netns: a, config: config).status == 0)
        #expect(m.heldKeys() == ["miB/eth0", "miB/fast0", "miB/slow0"], "DEL of A touched B")
        #expect(m.skein("DEL", container: "miB", netns: b, config: String(jsonConfig)).status == 0)
        TypeIT.expectNothingHeld(m.node)
    }

    /// Subnets 7, 8: the second network fails (its macvlan master does not exist): the error names
    /// it and its interface, the cluster attachment is DELed (journaled as a rollback), nothing is held.
    @Test func failingSecondDelegateRollsBackTheFirst() {
        guard Env.canRunKernelTests else { return }
        let m = MetaNode("mr"); defer { m.cleanup() }
        m.nad("broken-net", config: m.macvlan(master: m.prefix + "nope", n: 8))
        let config = m.config(delegate: m.bridge("br", n: 7, name: m.prefix + "-cluster"))
        let pod = m.node.pod("p")
        let add = m.skein("ADD", container: "mr", netns: pod, config: config, args: MetaNode.podArgs("p", extra: "SKEIN_NETWORKS=broken-net"))
        #expect(add.status != 0, "ADD with a broken second network succeeded: \(add.stdout)")
        let text = TypeIT.errorText(add)
        #expect(text.contains("default/broken-net") && text.contains("net1"), "error names neither network nor interface: \(add.stdout)")
        #expect(text.contains("rolled back: eth0"), "error does not say eth0 was rolled back: \(add.stdout)")
        #expect(!SkeinIT.hasLink(pod, "eth0") && !SkeinIT.hasLink(pod, "net1"))
        let rollbacks = m.events("delRequested").filter { $0["cause"] as? String == "rollback" }
        #expect(rollbacks.compactMap { ($0["key"] as? [String: Any])?["ifname"] as? String } == ["eth0"])
        #expect(m.events("delApplied").contains { $0["cause"] as? String == "rollback" }, "no delApplied(rollback) for eth0")
        #expect(m.events("addFailed").contains { ($0["key"] as? [String: Any])?["ifname"] as? String == "net1" })
        TypeIT.expectNothingHeld(m.node)
        // The runtime still DELs after a failed ADD: nothing to do, and fine.
        #expect(m.skein("DEL", container: "mr", netns: pod, config: config).status == 0)
        TypeIT.expectNothingHeld(m.node)
    }

    /// Subnets 9, 10: the same network twice: two interfaces on one bridge, two addresses.
    @Test func sameNetworkTwice() {
        guard Env.canRunKernelTests else { return }
        let m = MetaNode("m2"); defer { m.cleanup() }
        m.nad("twice", config: m.bridge("b2", n: 10))
        let config = m.config(delegate: m.bridge("br", n: 9, name: m.prefix + "-cluster"))
        let pod = m.node.pod("p")
        let add = m.skein("ADD", container: "tw", netns: pod, config: config, args: MetaNode.podArgs("p", extra: "SKEIN_NETWORKS=twice,twice"))
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        #expect(TypeIT.addresses(pod, "net1") == ["10.249.10.2/24"] && TypeIT.addresses(pod, "net2") == ["10.249.10.3/24"])
        #expect(SkeinIT.allocations(m.node.sb).map(\.ip).sorted() == ["10.249.10.2", "10.249.10.3", "10.249.9.2"])
        #expect(m.skein("DEL", container: "tw", netns: pod, config: config).status == 0)
        #expect(!SkeinIT.hasLink(pod, "net1") && !SkeinIT.hasLink(pod, "net2"))
        TypeIT.expectNothingHeld(m.node)
    }

    /// Subnets 11, 12: `default-route` on net1: eth0 loses its default route, net1 gets one via the
    /// requested gateway; the answer (eth0's result) no longer lists a default route; CHECK passes.
    @Test func defaultRouteMovesToTheRequestedNetwork() {
        guard Env.canRunKernelTests else { return }
        let m = MetaNode("md"); defer { m.cleanup() }
        m.nad("side", config: m.bridge("b2", n: 12))
        let config = m.config(delegate: m.bridge("br", n: 11, name: m.prefix + "-cluster", extra: ",\"isDefaultGateway\":true"))
        let pod = m.node.pod("p")
        let json = #"[{"name":"side","default-route":["10.249.12.1"]}]"#
        let withAnnotations = String(config.dropLast()) + Self.annotations([Self.networks: json]) + "}"
        let add = m.skein("ADD", container: "dr", netns: pod, config: withAnnotations, args: MetaNode.podArgs("p"))
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        let routes = m.routes(pod)
        #expect(routes.contains("default via 10.249.12.1 dev net1"), "routes: \(routes)")
        #expect(!routes.contains { $0.hasPrefix("default") && $0.hasSuffix("dev eth0") }, "eth0 kept a default route: \(routes)")
        let answered = (add.json?["routes"] as? [[String: Any]] ?? []).compactMap { $0["dst"] as? String }
        #expect(!answered.contains("0.0.0.0/0"), "the answer still lists eth0's default route: \(add.stdout)")
        let check = m.skein("CHECK", container: "dr", netns: pod, config: TypeIT.withPrev(withAnnotations, add), args: MetaNode.podArgs("p"))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        #expect(m.skein("DEL", container: "dr", netns: pod, config: withAnnotations).status == 0)
        TypeIT.expectNothingHeld(m.node)
    }

    /// Subnet 13: readinessindicatorfile: ADD waits (bounded) and fails closed with code 11,
    /// touching nothing; once the file exists, ADD goes through; DEL does not wait for it.
    @Test func readinessIndicatorFile() {
        guard Env.canRunKernelTests else { return }
        let m = MetaNode("mw"); defer { m.cleanup() }
        let ready = m.dir + "/ready"
        let config = m.config(delegate: m.bridge("br", n: 13, name: m.prefix + "-cluster"),
                              extra: ",\"readinessindicatorfile\":\"\(ready)\",\"readinessTimeoutMs\":600")
        let pod = m.node.pod("p")
        let start = Date()
        let early = m.skein("ADD", container: "rd", netns: pod, config: config)
        let waited = Date().timeIntervalSince(start)
        #expect(early.status != 0 && SkeinIT.code(early) == 11, "ADD without the readiness file: \(early.stdout)")
        #expect(TypeIT.errorText(early).contains(ready), "the error does not name the file: \(early.stdout)")
        #expect(waited >= 0.5 && waited < 5, "waited \(waited) s for a 600 ms bound")
        #expect(!FileManager.default.fileExists(atPath: m.node.sb.stateDir + "/data.mdb"), "a refused ADD opened the journal")
        m.write("", to: ready)
        let add = m.skein("ADD", container: "rd", netns: pod, config: config)
        #expect(add.status == 0, "ADD once ready: \(add.stdout) \(add.stderr)")
        try? FileManager.default.removeItem(atPath: ready)
        let del = m.skein("DEL", container: "rd", netns: pod, config: config)
        #expect(del.status == 0, "DEL without the readiness file: \(del.stdout)")
        TypeIT.expectNothingHeld(m.node)
    }

    /// Subnets 14, 15, 16: GC releases the pods outside the valid set — every interface of them —
    /// and only attachments made by a skein config of the same name.
    @Test func gcReleasesWholePodsOfItsOwnConfigOnly() {
        guard Env.canRunKernelTests else { return }
        let m = MetaNode("mg"); defer { m.cleanup() }
        m.nad("side", config: m.bridge("b2", n: 15))
        let config = m.config(version: "1.1.0", delegate: m.bridge("br", n: 14, name: m.prefix + "-cluster"))
        let other = m.config(version: "1.1.0", delegate: m.bridge("b3", n: 16, name: m.prefix + "-other"), name: m.prefix + "-x")
        let a = m.node.pod("a"), b = m.node.pod("b"), c = m.node.pod("c")
        for (cid, ns) in [("gA", a), ("gB", b)] {
            let r = m.skein("ADD", container: cid, netns: ns, config: config, args: MetaNode.podArgs(cid.lowercased(), extra: "SKEIN_NETWORKS=side"))
            #expect(r.status == 0, "ADD \(cid): \(r.stdout) \(r.stderr)")
        }
        #expect(m.skein("ADD", container: "gC", netns: c, config: other).status == 0)
        let gc = SkeinIT.withKeys(config, #""cni.dev/valid-attachments":[{"containerID":"gA","ifname":"eth0"}]"#)
        let r = m.skein("GC", container: "x", netns: nil, config: gc)
        #expect(r.status == 0, "GC: \(r.stdout) \(r.stderr)")
        #expect(m.heldKeys() == ["gA/eth0", "gA/net1", "gC/eth0"], "after GC: \(m.heldKeys())")
        #expect(!SkeinIT.hasLink(b, "eth0") && !SkeinIT.hasLink(b, "net1"))
        #expect(SkeinIT.hasLink(c, "eth0"), "GC of one config released another config's pod")
        #expect(m.skein("DEL", container: "gA", netns: a, config: config).status == 0)
        #expect(m.skein("DEL", container: "gC", netns: c, config: other).status == 0)
        TypeIT.expectNothingHeld(m.node)
    }

    /// Subnets 17, 18: a NAD whose type is `ptp` forced external (exec'ed from /usr/lib/cni, with the
    /// reference host-local): DEL works from the journal alone — the NAD file is gone, the config
    /// no longer has a nadDir.
    @Test(.enabled(if: Env.haveReference, "needs the reference plugins in /usr/lib/cni"))
    func externalDelegateDelFromTheJournal() {
        guard Env.canRunKernelTests, Env.haveReference else { return }
        let m = MetaNode("mx"); defer { m.cleanup() }
        let ptpName = m.prefix + "-ptp"
        defer { ExecDelegateTests.removeHostLocalStore(ptpName) }
        m.nad("p2p", config: "{\"cniVersion\":\"0.4.0\",\"name\":\"\(ptpName)\",\"type\":\"ptp\",\"ipMasq\":false,"
                + "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.249.18.0/24\"}}")
        let config = m.config(delegate: m.bridge("br", n: 17, name: m.prefix + "-cluster"), extra: ",\"execTypes\":[\"ptp\"]")
        let pod = m.node.pod("p")
        let add = m.skein("ADD", container: "px", netns: pod, config: config, args: MetaNode.podArgs("p", extra: "SKEIN_NETWORKS=p2p"))
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        #expect(TypeIT.addresses(pod, "net1") == ["10.249.18.2/24"])
        #expect(ExecDelegateTests.hostLocalHeld(ptpName) == ["10.249.18.2"])
        try? FileManager.default.removeItem(atPath: m.nadDir)
        let bare = "{\"cniVersion\":\"1.0.0\",\"name\":\"\(m.prefix)-meta\",\"type\":\"skein\",\"stateDir\":\"\(m.node.sb.stateDir)\","
            + "\"delegates\":[{\"type\":\"loopback\"}]}"
        for i in 1...2 {
            let del = m.skein("DEL", container: "px", netns: pod, config: bare)
            #expect(del.status == 0, "DEL \(i) from the journal: \(del.stdout) \(del.stderr)")
        }
        #expect(!SkeinIT.hasLink(pod, "net1") && !SkeinIT.hasLink(pod, "eth0"))
        #expect(ExecDelegateTests.hostLocalHeld(ptpName).isEmpty, "the reference host-local still holds an address")
        TypeIT.expectNothingHeld(m.node)
    }

    /// Subnet 19 (10.249.19.0/24 of the cluster 10.249.0.0/16): flannel as the cluster network: the
    /// bridge and host-local config built from subnet.env is journaled, so DEL needs no subnet.env.
    @Test func flannelClusterNetwork() {
        guard Env.canRunKernelTests else { return }
        let m = MetaNode("mf"); defer { m.cleanup() }
        let env = m.dir + "/subnet.env"
        m.write("FLANNEL_NETWORK=10.249.0.0/16\nFLANNEL_SUBNET=10.249.19.1/24\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=true\n", to: env)
        let flannel = "{\"cniVersion\":\"0.3.1\",\"name\":\"\(m.prefix)-fl\",\"type\":\"flannel\",\"subnetFile\":\"\(env)\","
            + "\"delegate\":{\"bridge\":\"\(m.prefix)fl\",\"hairpinMode\":true}}"
        let config = m.config(version: "0.3.1", delegate: flannel)
        let pod = m.node.pod("p")
        let add = m.skein("ADD", container: "fl", netns: pod, config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        #expect(TypeIT.addresses(pod, "eth0") == ["10.249.19.2/24"])
        #expect(TypeIT.link(pod, "eth0")?.mtu == 1400)
        #expect(m.routes(pod).contains("10.249.0.0/16 via 10.249.19.1 dev eth0"), "routes: \(m.routes(pod))")
        #expect(TypeIT.addresses(m.node.host, m.prefix + "fl") == ["10.249.19.1/24"], "the bridge is not the gateway")
        let plugin = m.events("addRequested").last?["plugin"] as? [String: Any]
        #expect(plugin?["type"] as? String == "bridge" && plugin?["ipMasq"] as? Bool == false, "journaled: \(plugin ?? [:])")
        try? FileManager.default.removeItem(atPath: env)
        #expect(m.skein("DEL", container: "fl", netns: pod, config: config).status == 0)
        #expect(!SkeinIT.hasLink(pod, "eth0"))
        TypeIT.expectNothingHeld(m.node)
    }

    /// Subnets 18, 19, 21 (21 is also MetaKubeTests', harmless: every test's node is a namespace
    /// of its own). A pod's DEL journals every request, then tears the three attachments down at
    /// once, then journals every outcome; killed in the middle of a teardown (del-op-0, on one of
    /// the teardown threads), it leaves requests without outcomes, and the runtime's next DEL
    /// completes them: nothing held, no link left, verify clean.
    @Test func podDelTearsDownConcurrentlyAndSurvivesACrash() {
        guard Env.canRunKernelTests else { return }
        let (m, config) = threeNetworkNode("mp", cluster: 18, bridge: 19, macvlan: 21)
        defer { m.cleanup() }
        let pod = m.node.pod("p")
        let args = MetaNode.podArgs("web", extra: "SKEIN_NETWORKS=bridge-net,macvlan-net")
        // First pod: a clean DEL, and the journal's order for it.
        let add = m.skein("ADD", container: "mp", netns: pod, config: config, args: args)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        let del = m.skein("DEL", container: "mp", netns: pod, config: config, args: args)
        #expect(del.status == 0 && del.stdout.isEmpty, "DEL: \(del.stdout) \(del.stderr)")
        let types = ExecDelegateTests.events(m.node).compactMap { $0["type"] as? String }
            .filter { $0 == "delRequested" || $0 == "delApplied" }
        #expect(types == ["delRequested", "delRequested", "delRequested", "delApplied", "delApplied", "delApplied"],
                "not every request before the teardowns: \(types)")
        for dev in ["eth0", "net1", "net2"] { #expect(!SkeinIT.hasLink(pod, dev), "\(dev) left in the pod") }
        TypeIT.expectNothingHeld(m.node, "after the clean DEL")

        // Second pod: killed during the teardowns.
        let pod2 = m.node.pod("q")
        let add2 = m.skein("ADD", container: "mq", netns: pod2, config: config, args: args)
        #expect(add2.status == 0, "ADD: \(add2.stdout) \(add2.stderr)")
        let crashed = m.skein("DEL", container: "mq", netns: pod2, config: config, args: args, env: ["SKEIN_FAILPOINT": "del-op-0"])
        #expect(crashed.status != 0, "DEL with the failpoint did not die")
        let again = m.skein("DEL", container: "mq", netns: pod2, config: config, args: args)
        #expect(again.status == 0 && again.stdout.isEmpty, "DEL after the crash: \(again.stdout) \(again.stderr)")
        for dev in ["eth0", "net1", "net2"] { #expect(!SkeinIT.hasLink(pod2, dev), "\(dev) left in the pod after the crash") }
        #expect(TypeIT.links(m.node.host).filter { $0.kind == "veth" && $0.name.hasPrefix("veth") }.isEmpty, "host veths left")
        TypeIT.expectNothingHeld(m.node, "after the crash and the second DEL")
    }
}
