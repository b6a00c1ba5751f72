import Foundation
import Testing

// The meta-plugin with the Kubernetes API: the pod's annotations and the NADs come from a local
// HTTPS server speaking the API's shapes for the calls skein makes (GET pod, GET NAD, PUT
// pods/status) — FakeKubeAPI.swift; no Kubernetes API server can be installed on these machines.
// The server listens on the loopback of the node namespace, where skein runs; the kubeconfig names
// a token file, which skein reads for every request. Subnets 10.249.N.0/24,
// N listed at each test (20 and up; MetaTests uses 1–19).

@Suite("meta-plugin with the Kubernetes API", .enabled(if: Env.canRunKernelTests, "needs root and the release binaries (SKEIN_BIN)"))
struct MetaKubeTests {
    static let statusKey = "k8s.v1.cni.cncf.io/network-status"

    /// A node whose cluster network is a bridge NAD in kube-system (`clusterNetwork`), an API
    /// server holding `pods`, that NAD and `nads(node)`, and the skein config pointing at it.
    struct World {
        let m: MetaNode
        let api: FakeKubeAPI
        let config: String

        func cleanup() {
            api.stop()
            m.cleanup()
        }
    }

    static func world(_ tag: String, cluster: Int, pods: [[String: Any]], nads: (MetaNode) -> [[String: Any]] = { _ in [] },
                      control: String = #"{"token":"token-1"}"#) throws -> World {
        let m = MetaNode(tag)
        let clusterNAD: [String: Any] = ["namespace": "kube-system", "name": "cluster-net",
                                         "config": m.bridge("br", n: cluster, name: m.prefix + "-cluster")]
        do {
            let api = try FakeKubeAPI(seed: ["pods": pods, "nads": [clusterNAD] + nads(m)], netns: m.node.host, control: control)
            try api.setToken("token-1")
            let config = "{\"cniVersion\":\"1.0.0\",\"name\":\"\(m.prefix)-meta\",\"type\":\"skein\",\"stateDir\":\"\(m.node.sb.stateDir)\","
                + "\"kubeconfig\":\"\(try api.kubeconfig())\",\"clusterNetwork\":\"cluster-net\",\"confDir\":\"\(m.confDir)\"}"
            return World(m: m, api: api, config: config)
        } catch {
            m.cleanup()
            throw error
        }
    }

    static func pod(_ name: String, uid: String, networks: String? = nil) -> [String: Any] {
        ["namespace": "default", "name": name, "uid": uid,
         "annotations": networks.map { ["k8s.v1.cni.cncf.io/networks": $0] } ?? [String: String]()]
    }

    static func nad(_ name: String, _ config: String) -> [String: Any] {
        ["namespace": "default", "name": name, "config": config]
    }

    /// The network-status entries written on the pod, as (name, interface, ips).
    static func status(_ w: World, _ pod: String, token: String) -> [(name: String, interface: String, ips: [String])] {
        let annotations = (w.api.pod("default", pod, token: token)?["metadata"] as? [String: Any])?["annotations"] as? [String: Any]
        return TypeIT.array(annotations?[statusKey] as? String ?? "[]").map {
            ($0["name"] as? String ?? "", $0["interface"] as? String ?? "", $0["ips"] as? [String] ?? [])
        }
    }

    static func calls(_ w: World) -> [String] {
        w.api.requests().map { "\($0["method"] as? String ?? "") \($0["path"] as? String ?? "") \($0["status"] ?? "")" }
    }

    /// Subnets 20, 21: pods and NADs from the API; network-status written on each pod; the token
    /// file is rotated between the two ADDs (the server then accepts only the new token) and the
    /// second ADD reads it afresh. DEL makes no API call.
    @Test func podsAndNADsFromTheAPIWithTokenRotation() throws {
        guard Env.canRunKernelTests else { return }
        let w = try Self.world("k1", cluster: 20, pods: [Self.pod("web-0", uid: "uid-0", networks: "side"),
                                                         Self.pod("web-1", uid: "uid-1", networks: "side@fast0")],
                               nads: { m in [Self.nad("side", m.bridge("b2", n: 21))] })
        defer { w.cleanup() }
        let a = w.m.node.pod("a"), b = w.m.node.pod("b")
        let addA = w.m.skein("ADD", container: "kA", netns: a, config: w.config, args: MetaNode.podArgs("web-0", uid: "uid-0"))
        #expect(addA.status == 0, "ADD A: \(addA.stdout) \(addA.stderr)")
        #expect(TypeIT.addresses(a, "eth0") == ["10.249.20.2/24"] && TypeIT.addresses(a, "net1") == ["10.249.21.2/24"])
        let statusA = Self.status(w, "web-0", token: "token-1")
        // The cluster network is named by its config's name (MetaPlan's rule), the NAD by ns/name.
        #expect(statusA.map(\.name) == [w.m.prefix + "-cluster", "default/side"], "network-status: \(statusA)")
        #expect(statusA.map(\.interface) == ["eth0", "net1"] && statusA.map(\.ips) == [["10.249.20.2"], ["10.249.21.2"]])

        try w.api.setControl(#"{"token":"token-2"}"#)
        try w.api.setToken("token-2")
        let addB = w.m.skein("ADD", container: "kB", netns: b, config: w.config, args: MetaNode.podArgs("web-1", uid: "uid-1"))
        #expect(addB.status == 0, "ADD B after token rotation: \(addB.stdout) \(addB.stderr)")
        #expect(TypeIT.addresses(b, "fast0") == ["10.249.21.3/24"])
        #expect(Self.status(w, "web-1", token: "token-2").map(\.interface) == ["eth0", "fast0"])
        let auths = Set(w.api.requests().compactMap { $0["auth"] as? String })
        #expect(auths == ["Bearer token-1", "Bearer token-2"], "tokens sent: \(auths)")
        #expect(!w.api.requests().contains { ($0["status"] as? Int) == 401 }, "a request went out with a stale token: \(Self.calls(w))")

        let before = w.api.requests().count
        for (cid, ns, pod) in [("kA", a, "web-0"), ("kB", b, "web-1")] {
            let del = w.m.skein("DEL", container: cid, netns: ns, config: w.config, args: MetaNode.podArgs(pod))
            #expect(del.status == 0, "DEL \(cid): \(del.stdout) \(del.stderr)")
        }
        #expect(w.api.requests().count == before, "DEL called the API: \(Self.calls(w).dropFirst(before))")
        TypeIT.expectNothingHeld(w.m.node)
    }

    /// Subnets 22, 23: two 409 Conflicts on the status write (another writer got there first each
    /// time): the attachment succeeds and the status is written on the third try.
    @Test func conflictOnStatusWriteIsRetried() throws {
        guard Env.canRunKernelTests else { return }
        let w = try Self.world("k2", cluster: 22, pods: [Self.pod("db-0", uid: "uid-db", networks: "side")],
                               nads: { m in [Self.nad("side", m.bridge("b2", n: 23))] },
                               control: #"{"token":"token-1","conflicts":2}"#)
        defer { w.cleanup() }
        let pod = w.m.node.pod("p")
        let add = w.m.skein("ADD", container: "k2", netns: pod, config: w.config, args: MetaNode.podArgs("db-0", uid: "uid-db"))
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        let puts = w.api.requests().filter { $0["method"] as? String == "PUT" }.compactMap { $0["status"] as? Int }
        #expect(puts == [409, 409, 200], "status PUTs: \(Self.calls(w))")
        #expect(Self.status(w, "db-0", token: "token-1").map(\.interface) == ["eth0", "net1"])
        #expect(w.m.skein("DEL", container: "k2", netns: pod, config: w.config, args: MetaNode.podArgs("db-0")).status == 0)
        TypeIT.expectNothingHeld(w.m.node)
    }

    /// Subnet 24: the pod asks for a NAD that does not exist: a clear error, nothing held,
    /// nothing in the pod.
    @Test func missingNADFailsCleanly() throws {
        guard Env.canRunKernelTests else { return }
        let w = try Self.world("k3", cluster: 24, pods: [Self.pod("lost", uid: "uid-lost", networks: "side,no-such-net")],
                               nads: { m in [Self.nad("side", m.bridge("b2", n: 24))] })
        defer { w.cleanup() }
        let pod = w.m.node.pod("p")
        let add = w.m.skein("ADD", container: "k3", netns: pod, config: w.config, args: MetaNode.podArgs("lost", uid: "uid-lost"))
        #expect(add.status != 0, "ADD with a missing NAD succeeded")
        #expect(SkeinIT.code(add) == 7 && TypeIT.errorText(add).contains("network default/no-such-net not found"), "\(add.stdout)")
        #expect(!SkeinIT.hasLink(pod, "eth0") && !SkeinIT.hasLink(pod, "net1"))
        #expect(w.m.heldKeys().isEmpty)
        #expect(w.m.skein("DEL", container: "k3", netns: pod, config: w.config, args: MetaNode.podArgs("lost")).status == 0)
        TypeIT.expectNothingHeld(w.m.node)
    }

    /// Subnet 25: a pod the API does not have (yet): the ADD fails as Multus' does (code 11 here,
    /// so kubelet retries), nothing held; so does a pod of that name with another UID.
    @Test func missingPodFailsTheADD() throws {
        guard Env.canRunKernelTests else { return }
        let w = try Self.world("k4", cluster: 25, pods: [Self.pod("other", uid: "uid-new")])
        defer { w.cleanup() }
        let pod = w.m.node.pod("p")
        let missing = w.m.skein("ADD", container: "k4", netns: pod, config: w.config, args: MetaNode.podArgs("ghost", uid: "uid-g"))
        #expect(missing.status != 0 && SkeinIT.code(missing) == 11, "ADD for a missing pod: \(missing.stdout)")
        #expect(TypeIT.errorText(missing).contains("pod default/ghost not found"), "\(missing.stdout)")
        let stale = w.m.skein("ADD", container: "k4", netns: pod, config: w.config, args: MetaNode.podArgs("other", uid: "uid-old"))
        #expect(stale.status != 0 && TypeIT.errorText(stale).contains("uid-new"), "ADD for a replaced pod: \(stale.stdout)")
        #expect(!SkeinIT.hasLink(pod, "eth0"))
        #expect(w.m.heldKeys().isEmpty)
    }

    /// Subnets 26, 27: the API server is gone by the time of DEL: DEL works from the journal.
    @Test func unreachableServerDuringDel() throws {
        guard Env.canRunKernelTests else { return }
        let w = try Self.world("k5", cluster: 26, pods: [Self.pod("web", uid: "uid-w", networks: "side")],
                               nads: { m in [Self.nad("side", m.bridge("b2", n: 27))] })
        defer { w.cleanup() }
        let pod = w.m.node.pod("p")
        let add = w.m.skein("ADD", container: "k5", netns: pod, config: w.config, args: MetaNode.podArgs("web", uid: "uid-w"))
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        #expect(w.m.heldKeys() == ["k5/eth0", "k5/net1"])
        w.api.kill9()
        let start = Date()
        let del = w.m.skein("DEL", container: "k5", netns: pod, config: w.config, args: MetaNode.podArgs("web", uid: "uid-w"))
        #expect(del.status == 0, "DEL with the API server gone: \(del.stdout) \(del.stderr)")
        #expect(Date().timeIntervalSince(start) < 5, "DEL waited for the API")
        #expect(!SkeinIT.hasLink(pod, "eth0") && !SkeinIT.hasLink(pod, "net1"))
        TypeIT.expectNothingHeld(w.m.node)
    }
}
