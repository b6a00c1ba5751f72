import Foundation
import Testing

// Delegates exec'ed from CNI_PATH: a reference plugin forced external with `execTypes` (ptp), a
// reference plugin exec'ed after a built-in one in a conflist (bridge → tuning), and small script
// plugins that fail, hang, or record what they were given. skein runs inside a node namespace
// (TypeSupport's Node), so what a plugin does to "the host" (ptp's host veth, routes, forwarding)
// stays there. Subnets are 10.253.N.0/24, N listed at each test; network names carry the run's
// unique prefix, and host-local's store for them (/var/lib/cni/networks/<name>) is removed after.

@Suite("exec'ed delegates", .enabled(if: Env.canRunKernelTests && Env.haveReference,
                                     "needs root, the release binaries (SKEIN_BIN) and /usr/lib/cni"))
struct ExecDelegateTests {
    /// A ptp delegate with host-local IPAM on 10.253.N.0/24 (no ipMasq: no iptables needed).
    /// `head` ("\"cniVersion\":…,\"name\":…,") makes it a config the reference can be given directly.
    static func ptp(_ n: Int, head: String = "") -> String {
        "{\(head)\"type\":\"ptp\",\"ipMasq\":false,\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.253.\(n).0/24\"}}"
    }

    static func bridge(_ node: Node, _ n: Int) -> String {
        "{\"type\":\"bridge\",\"bridge\":\"\(node.prefix)br\",\"isGateway\":true,"
            + "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.253.\(n).0/24\"}}"
    }

    /// Addresses host-local (the reference IPAM, exec'ed by ptp) holds for network `name`.
    static func hostLocalHeld(_ name: String) -> [String] {
        let dir = "/var/lib/cni/networks/" + name
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return files.filter { $0 != "lock" && !$0.hasPrefix("last_reserved_ip") }.sorted()
    }

    static func removeHostLocalStore(_ name: String) {
        try? FileManager.default.removeItem(atPath: "/var/lib/cni/networks/" + name)
    }

    /// The journal's events as objects (mdb_dump -p escapes a backslash as "\\").
    static func events(_ node: Node) -> [[String: Any]] {
        SkeinIT.events(node.sb).compactMap { TypeIT.object($0.replacingOccurrences(of: "\\\\", with: "\\")) }
    }

    static func events(_ node: Node, _ type: String) -> [[String: Any]] {
        events(node).filter { $0["type"] as? String == type }.compactMap { $0["data"] as? [String: Any] }
    }

    /// The types of the plugins the last addRequested decided to exec.
    static func execTypesJournaled(_ node: Node) -> [String] {
        let decision = events(node, "addRequested").last?["decision"] as? [String: Any]
        return (decision?["exec"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
    }

    /// The result's structure with every string and number replaced by its kind: two results of the
    /// same shape compare equal whatever names, MACs and addresses they carry. An empty `dns` is
    /// left out: the reference (1.1.1) prints "dns":{} in 1.x results, skein omits it as types100
    /// does since.
    static func shape(_ v: Any) -> String {
        switch v {
        case let o as [String: Any]:
            let keys = o.keys.sorted().filter { !($0 == "dns" && (o[$0] as? [String: Any])?.isEmpty == true) }
            return "{" + keys.map { "\($0):\(shape(o[$0]!))" }.joined(separator: ",") + "}"
        case let a as [Any]: return "[" + a.map(shape).joined(separator: ",") + "]"
        case is String: return "s"
        case is NSNumber: return "n"
        default: return "?"
        }
    }

    /// A script plugin in its own CNI_PATH directory: logs "<command> <type>" to `log`, then runs `body`.
    final class ScriptDir {
        let path = NSTemporaryDirectory() + "skein-exec-it-\(getpid())-\(UInt32.random(in: 0..<0xFFFFFF))"
        init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        var log: String { (try? String(contentsOfFile: path + "/log", encoding: .utf8)) ?? "" }
        /// Written through a close-on-exec descriptor, so that no child spawned meanwhile holds it
        /// open for writing (its exec would fail with ETXTBSY).
        func plugin(_ type: String, _ body: String) {
            let fd = open(path + "/" + type, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
            let text = Array(("#!/bin/sh\necho \"$CNI_COMMAND \(type)\" >> \"\(path)/log\"\n" + body + "\n").utf8)
            _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        func cleanup() { try? FileManager.default.removeItem(atPath: path) }
    }

    /// 10.253.1: ptp forced external. The result has the reference's shape, the journal holds the
    /// exec'ed config, CHECK runs it, and DEL — given a config that no longer even names ptp —
    /// works from the journal alone, twice.
    @Test func ptpForcedExternal() {
        let node = Node("xp")
        defer { node.cleanup(); Self.removeHostLocalStore(node.prefix); Self.removeHostLocalStore(node.prefix + "-ref") }
        let pod = node.pod("a"), refPod = node.pod("r")
        let config = node.config(delegate: Self.ptp(1), execTypes: ["ptp"])
        let add = node.skein("ADD", container: "cx1", netns: pod, ifname: "eth0", config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        let refConfig = Self.ptp(2, head: "\"cniVersion\":\"1.0.0\",\"name\":\"\(node.prefix)-ref\",")
        let ref = node.reference("ADD", plugins: [refConfig], container: "cr1", netns: refPod, ifname: "eth0")
        #expect(ref.status == 0, "reference ADD: \(ref.stdout) \(ref.stderr)")
        #expect(Self.shape(add.json ?? [:]) == Self.shape(ref.json ?? [:]))
        #expect(TypeIT.interfaces(add).map(\.sandbox) == [nil, pod])
        let ips = TypeIT.ips(add)
        #expect(ips.count == 1 && ips.first?.address.hasPrefix("10.253.1.") == true && ips.first?.interface == 1)
        #expect(TypeIT.addresses(pod, "eth0") == ips.map(\.address))
        #expect(Self.hostLocalHeld(node.prefix) == ips.map { String($0.address.split(separator: "/")[0]) })
        #expect(Self.execTypesJournaled(node) == ["ptp"])
        let check = node.skein("CHECK", container: "cx1", netns: pod, ifname: "eth0", config: TypeIT.withPrev(config, add))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        // DEL from the journal alone: the config now names another plugin and forces nothing.
        let other = node.config(delegate: Self.bridge(node, 1))
        for round in 1...2 {
            let del = node.skein("DEL", container: "cx1", netns: pod, ifname: "eth0", config: other)
            #expect(del.status == 0, "DEL \(round): \(del.stdout) \(del.stderr)")
        }
        #expect(!SkeinIT.hasLink(pod, "eth0"))
        #expect(Self.hostLocalHeld(node.prefix) == [])
        let hostVeth = TypeIT.interfaces(add).first?.name ?? "?"
        #expect(TypeIT.link(node.host, hostVeth) == nil, "host veth \(hostVeth) left")
        TypeIT.expectNothingHeld(node, "ptp exec'ed")
        node.reference("DEL", plugins: [refConfig], container: "cr1", netns: refPod, ifname: "eth0")
    }

    /// 10.253.3: the pod's namespace is deleted before DEL. ptp is told no CNI_NETNS (the spec
    /// makes it optional for DEL), still releases its address, and our DEL succeeds.
    @Test func delAfterTheNetnsIsGone() {
        let node = Node("xg")
        defer { node.cleanup(); Self.removeHostLocalStore(node.prefix) }
        let pod = node.pod("a")
        let config = node.config(delegate: Self.ptp(3), execTypes: ["ptp"])
        let add = node.skein("ADD", container: "cx3", netns: pod, ifname: "eth0", config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        #expect(Self.hostLocalHeld(node.prefix).count == 1)
        node.sb.deleteNetns(pod)
        let del = node.skein("DEL", container: "cx3", netns: pod, ifname: "eth0", config: config)
        #expect(del.status == 0, "DEL: \(del.stdout) \(del.stderr)")
        #expect(Self.hostLocalHeld(node.prefix) == [])
        TypeIT.expectNothingHeld(node, "netns gone")
    }

    /// 10.253.4: bridge built in, then the reference tuning exec'ed with the bridge's result as
    /// prevResult; CHECK runs both parts; DEL runs tuning, then tears the bridge part down.
    @Test func builtInBridgeThenExecedTuning() {
        let node = Node("xt")
        defer { node.cleanup() }
        let pod = node.pod("a")
        let tuning = "{\"type\":\"tuning\",\"promisc\":true,\"mtu\":1400,\"sysctl\":{\"net.ipv4.conf.eth0.arp_notify\":\"1\"}}"
        let config = node.config(delegate: TypeIT.conflist(node.prefix, [Self.bridge(node, 4), tuning]), execTypes: ["tuning"])
        let add = node.skein("ADD", container: "cx4", netns: pod, ifname: "eth0", config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        #expect(Self.execTypesJournaled(node) == ["tuning"])
        let eth0 = TypeIT.link(pod, "eth0")
        #expect(eth0?.promisc == true && eth0?.mtu == 1400)
        #expect(TypeIT.sysctl(pod, "net.ipv4.conf.eth0.arp_notify") == "1")
        #expect(TypeIT.ips(add).first?.address.hasPrefix("10.253.4.") == true)
        #expect(TypeIT.interfaces(add).map(\.name).last == "eth0")
        let check = node.skein("CHECK", container: "cx4", netns: pod, ifname: "eth0", config: TypeIT.withPrev(config, add))
        #expect(check.status == 0, "CHECK: \(check.stdout) \(check.stderr)")
        for round in 1...2 {
            let del = node.skein("DEL", container: "cx4", netns: pod, ifname: "eth0", config: config)
            #expect(del.status == 0, "DEL \(round): \(del.stdout) \(del.stderr)")
        }
        #expect(!SkeinIT.hasLink(pod, "eth0"))
        TypeIT.expectNothingHeld(node, "bridge → tuning")
    }

    /// 10.253.5: the exec'ed plugin after a built-in bridge fails. Its error reaches the runtime
    /// with its own code, it gets its DEL (libcni's rollback), the bridge part is torn down and the
    /// addresses released, and addFailed says which plugin failed and what was undone.
    @Test func aFailingExecedPluginRollsBackTheBuiltInPart() {
        let node = Node("xf")
        let dir = ScriptDir()
        defer { node.cleanup(); dir.cleanup() }
        dir.plugin("refuser", """
            if [ "$CNI_COMMAND" = ADD ]; then
              echo '{"cniVersion":"1.0.0","code":7,"msg":"refused on purpose","details":"test"}'; exit 1
            fi
            """)
        let pod = node.pod("a")
        let config = node.config(delegate: TypeIT.conflist(node.prefix, [Self.bridge(node, 5), "{\"type\":\"refuser\"}"]))
        let env = ["CNI_PATH": dir.path + ":/usr/lib/cni"]
        let add = node.skein("ADD", container: "cx5", netns: pod, ifname: "eth0", config: config, env: env)
        #expect(add.status != 0)
        #expect(SkeinIT.code(add) == 7 && add.json?["msg"] as? String == "refuser: refused on purpose", "\(add.stdout)")
        #expect(dir.log == "ADD refuser\nDEL refuser\n")
        #expect(!SkeinIT.hasLink(pod, "eth0"))
        #expect(TypeIT.links(node.host).filter { $0.kind == "veth" } == [])
        let failed = Self.events(node, "addFailed").last
        #expect(failed?["released"] as? Bool == true)
        let message = failed?["message"] as? String ?? ""
        #expect(message.hasPrefix("exec'ed plugin 1 of 1 (refuser) failed: refuser: refused on purpose;"
                                  + " undone: DEL of exec'ed refuser; built-in part torn down"), "\(message)")
        TypeIT.expectNothingHeld(node, "rolled back")
        // The runtime DELs after a failed ADD: nothing is held, so nothing is exec'ed.
        let del = node.skein("DEL", container: "cx5", netns: pod, ifname: "eth0", config: config, env: env)
        #expect(del.status == 0 && dir.log == "ADD refuser\nDEL refuser\n")
    }

    /// 10.253.6: a plugin that hangs is killed at `execTimeoutMs` and the ADD rolls back.
    @Test func aHangingPluginIsKilledAtTheTimeout() {
        let node = Node("xh")
        let dir = ScriptDir()
        defer { node.cleanup(); dir.cleanup() }
        dir.plugin("hang", "[ \"$CNI_COMMAND\" = ADD ] && exec sleep 30\nexit 0")
        let pod = node.pod("a")
        let config = SkeinIT.withKeys(node.config(delegate: TypeIT.conflist(node.prefix, [Self.bridge(node, 6), "{\"type\":\"hang\"}"])),
                                      "\"execTimeoutMs\":400")
        let t0 = Date()
        let add = node.skein("ADD", container: "cx6", netns: pod, ifname: "eth0", config: config, env: ["CNI_PATH": dir.path])
        #expect(Date().timeIntervalSince(t0) < 10)
        #expect(SkeinIT.code(add) == 103 && (add.json?["msg"] as? String ?? "").contains("hang ADD did not finish within 400 ms"),
                "\(add.stdout)")
        #expect(!SkeinIT.hasLink(pod, "eth0"))
        TypeIT.expectNothingHeld(node, "timed out")
    }

    /// 10.253.7: killed right after the exec'ed ptp answered ADD (add-exec-0): the journal says
    /// `adding`; the next DEL execs ptp's DEL from the journal and releases everything. Then a DEL
    /// killed after ptp's DEL (del-exec-0) is finished by the next one.
    @Test func crashesAroundAnExecedPlugin() {
        let node = Node("xc")
        defer { node.cleanup(); Self.removeHostLocalStore(node.prefix) }
        let pod = node.pod("a")
        let config = node.config(delegate: Self.ptp(7), execTypes: ["ptp"])
        let crashed = node.skein("ADD", container: "cx7", netns: pod, ifname: "eth0", config: config,
                                 env: ["SKEIN_FAILPOINT": "add-exec-0"])
        #expect(crashed.status == 128 + 9)
        #expect(Self.hostLocalHeld(node.prefix).count == 1)
        #expect(SkeinIT.attachments(node.sb).first?["status"] as? String == "adding")
        let del = node.skein("DEL", container: "cx7", netns: pod, ifname: "eth0", config: config)
        #expect(del.status == 0, "DEL: \(del.stdout) \(del.stderr)")
        #expect(Self.hostLocalHeld(node.prefix) == [] && !SkeinIT.hasLink(pod, "eth0"))
        TypeIT.expectNothingHeld(node, "after add-exec-0")

        let add = node.skein("ADD", container: "cx7", netns: pod, ifname: "eth0", config: config)
        #expect(add.status == 0, "ADD: \(add.stdout) \(add.stderr)")
        let killed = node.skein("DEL", container: "cx7", netns: pod, ifname: "eth0", config: config,
                                env: ["SKEIN_FAILPOINT": "del-exec-0"])
        #expect(killed.status == 128 + 9)
        #expect(SkeinIT.attachments(node.sb).first?["status"] as? String == "deleting")
        let again = node.skein("DEL", container: "cx7", netns: pod, ifname: "eth0", config: config)
        #expect(again.status == 0, "DEL: \(again.stdout) \(again.stderr)")
        #expect(Self.hostLocalHeld(node.prefix) == [])
        TypeIT.expectNothingHeld(node, "after del-exec-0")
    }
}
