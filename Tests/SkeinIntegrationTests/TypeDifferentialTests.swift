import Foundation
import Testing

// Differential tests for the built-in types: the reference plugins in /usr/lib/cni are the oracle.
// For one plugin list, on one node namespace (TypeSupport.swift) with its fixtures (a NIC, a
// device, a default route), three runs follow each other, each ADD then DEL with a fresh pod
// netns and a fresh host-local dataDir:
//   1. the reference plugins, run as libcni runs a list (prevResult down the chain, DEL reversed);
//   2. skein with the list as its delegate (built-in types);
//   3. skein with `execTypes` forcing a type of the list to be exec'ed from CNI_PATH.
// Because the runs share the node and the subnet, addresses need no rewriting. Compared, after ADD:
// the result (keys at every level, then values), the pod interface's addresses, routes (`ip -j
// route`, -4 and -6), MTU, flags, kind, tuned sysctls and — where the config or the device fixes
// it — MAC; the node's links, addresses and routes. After DEL: the pod's links and the node's links,
// addresses and routes (a host-device must be home, under its name, MAC and MTU). CHECK (0.4.0 on):
// skein's built-in CHECK must pass, and its exec run must answer as the reference's own CHECK does
// (the exec'ed plugin is the reference; the reference host-device's CHECK, for one, fails on a
// route without `gw`, and the exec path must pass that on, not hide it). Before 0.4.0 skein must
// refuse CHECK with code 1.
//
// Deliberate differences, rewritten before comparing: the sandbox path (NS); host veth names
// (random "veth"+8 hex in the reference, derived "veth"+11 hex in skein: VETH) and MACs that
// nothing fixes (MAC); an empty `"dns": {}`, which the reference always prints and which says
// nothing (dropped on both sides).
//
// Subnets 10.250.100–119.0/24, one per case.

/// The names a case's plugins refer to.
struct DiffNames: Sendable {
    let prefix: String
    let nic: String
    let device: String
    let bridge: String
    let dataDir: String
    let n: Int

    var hostLocal: String { "{\"type\":\"host-local\",\"subnet\":\"10.250.\(n).0/24\",\"dataDir\":\"\(dataDir)\"}" }
}

struct TypeDiffCase: Sendable, CustomTestStringConvertible {
    enum Fixture: Sendable { case none, nic, defaultRouteNIC, device }

    let name: String
    let n: Int
    var version = "1.0.0"
    var ifname = "net1"
    var fixture = Fixture.none
    /// The plugin objects (no name / cniVersion: both sides inject the same ones).
    let plugins: @Sendable (DiffNames) -> [String]
    var args: (@Sendable (DiffNames) -> String)? = nil
    /// What skein's exec run forces to CNI_PATH.
    let execTypes: [String]
    /// The pod interface's MAC is fixed (by the config, or because it is the device's own).
    var fixedMAC = false
    /// Sysctls (relative to net.ipv4.conf.<ifname>.) read in the pod.
    var podSysctls: [String] = []

    var testDescription: String { "\(name) @\(version)" }

    static let all: [TypeDiffCase] = [
        TypeDiffCase(name: "macvlan", n: 100, fixture: .nic, plugins: { d in
            ["{\"type\":\"macvlan\",\"master\":\"\(d.nic)\",\"ipam\":\(d.hostLocal)}"]
        }, execTypes: ["macvlan"]),
        TypeDiffCase(name: "macvlan private mtu mac", n: 101, version: "0.4.0", fixture: .nic, plugins: { d in
            ["{\"type\":\"macvlan\",\"master\":\"\(d.nic)\",\"mode\":\"private\",\"mtu\":1400,\"mac\":\"02:25:00:65:00:01\",\"ipam\":\(d.hostLocal)}"]
        }, execTypes: ["macvlan"], fixedMAC: true),
        TypeDiffCase(name: "macvlan default master", n: 102, version: "0.3.1", fixture: .defaultRouteNIC, plugins: { d in
            ["{\"type\":\"macvlan\",\"mode\":\"vepa\",\"ipam\":\(d.hostLocal)}"]
        }, execTypes: ["macvlan"]),
        TypeDiffCase(name: "macvlan static runtime mac dns", n: 103, fixture: .nic, plugins: { d in
            ["""
             {"type":"macvlan","master":"\(d.nic)","capabilities":{"mac":true},"runtimeConfig":{"mac":"02:25:00:67:00:01"},\
             "dns":{"nameservers":["10.250.103.53"],"search":["plugin.test"]},"ipam":{"type":"static",\
             "addresses":[{"address":"10.250.103.7/24","gateway":"10.250.103.1"}],\
             "routes":[{"dst":"0.0.0.0/0"},{"dst":"10.250.203.0/24","gw":"10.250.103.254"}],\
             "dns":{"nameservers":["10.250.103.54"]}}}
             """]
        }, execTypes: ["macvlan"], fixedMAC: true),
        TypeDiffCase(name: "macvlan static CNI_ARGS IP", n: 104, fixture: .nic, plugins: { d in
            ["{\"type\":\"macvlan\",\"master\":\"\(d.nic)\",\"ipam\":{\"type\":\"static\"}}"]
        }, args: { d in "IgnoreUnknown=1;IP=10.250.\(d.n).44/24;GATEWAY=10.250.\(d.n).1" }, execTypes: ["macvlan"]),
        TypeDiffCase(name: "host-device", n: 105, fixture: .device, plugins: { d in
            ["{\"type\":\"host-device\",\"device\":\"\(d.device)\",\"ipam\":\(d.hostLocal)}"]
        }, execTypes: ["host-device"], fixedMAC: true),
        TypeDiffCase(name: "host-device hwaddr static", n: 106, version: "0.4.0", fixture: .device, plugins: { d in
            ["""
             {"type":"host-device","hwaddr":"\(TypeDiffRun.deviceMAC)","ipam":{"type":"static",\
             "addresses":[{"address":"10.250.106.9/24","gateway":"10.250.106.1"}],"routes":[{"dst":"10.250.206.0/24"}]}}
             """]
        }, execTypes: ["host-device"], fixedMAC: true),
        TypeDiffCase(name: "ptp", n: 107, plugins: { d in
            ["{\"type\":\"ptp\",\"mtu\":1400,\"ipam\":\(d.hostLocal)}"]
        }, execTypes: ["ptp"]),
        TypeDiffCase(name: "ptp dns", n: 108, version: "0.3.1", plugins: { d in
            ["{\"type\":\"ptp\",\"dns\":{\"nameservers\":[\"10.250.108.53\"]},\"ipam\":\(d.hostLocal)}"]
        }, execTypes: ["ptp"]),
        TypeDiffCase(name: "loopback", n: 109, ifname: "lo", plugins: { _ in ["{\"type\":\"loopback\"}"] },
                     execTypes: ["loopback"], fixedMAC: true),
        TypeDiffCase(name: "loopback", n: 110, version: "0.3.1", ifname: "lo", plugins: { _ in ["{\"type\":\"loopback\"}"] },
                     execTypes: ["loopback"], fixedMAC: true),
        TypeDiffCase(name: "bridge → tuning", n: 111, ifname: "eth0", plugins: { d in
            ["{\"type\":\"bridge\",\"bridge\":\"\(d.bridge)\",\"isGateway\":true,\"ipam\":\(d.hostLocal)}",
             TypeDiffRun.tuning("eth0")]
        }, execTypes: ["tuning"], fixedMAC: true, podSysctls: ["arp_notify"]),
        TypeDiffCase(name: "macvlan → tuning", n: 112, fixture: .nic, plugins: { d in
            ["{\"type\":\"macvlan\",\"master\":\"\(d.nic)\",\"ipam\":\(d.hostLocal)}", TypeDiffRun.tuning("net1")]
        }, execTypes: ["macvlan"], fixedMAC: true, podSysctls: ["arp_notify"]),
        TypeDiffCase(name: "host-device → tuning", n: 113, fixture: .device, plugins: { d in
            ["{\"type\":\"host-device\",\"device\":\"\(d.device)\",\"ipam\":\(d.hostLocal)}", TypeDiffRun.tuning("net1")]
        }, execTypes: ["tuning"], fixedMAC: true, podSysctls: ["arp_notify"]),
        TypeDiffCase(name: "bridge static", n: 114, ifname: "eth0", plugins: { d in
            ["""
             {"type":"bridge","bridge":"\(d.bridge)","isDefaultGateway":true,"ipam":{"type":"static",\
             "addresses":[{"address":"10.250.114.5/24","gateway":"10.250.114.1"}],"dns":{"nameservers":["10.250.114.53"]}}}
             """]
        }, execTypes: ["bridge"]),
    ]
}

/// Everything one run shows, as comparable strings keyed by what they are.
struct DiffObservation {
    var check = ProcessResult(status: 0, stdout: "", stderr: "")
    var resultShape = ""
    var result = ""
    var afterAdd: [String: String] = [:]
    var afterDel: [String: String] = [:]
}

/// One case on one node: the three runs and their comparison.
struct TypeDiffRun {
    static let deviceMAC = "02:25:00:69:00:01"

    static func tuning(_ ifname: String) -> String {
        """
        {"type":"tuning","mac":"02:25:00:70:00:02","mtu":1300,"promisc":true,"sysctl":{"net.ipv4.conf.\(ifname).arp_notify":"1"}}
        """
    }

    let c: TypeDiffCase
    let node: Node

    func names(_ dataDir: String) -> DiffNames {
        DiffNames(prefix: node.prefix, nic: node.prefix + "m0", device: node.prefix + "d0", bridge: node.prefix + "br",
                  dataDir: dataDir, n: c.n)
    }

    func setUp() {
        switch c.fixture {
        case .none: break
        case .nic: node.nic("m0")
        case .defaultRouteNIC:
            node.nic("x0")
            let m = node.nic("m0", peerAddress: "10.250.\(c.n).254/24")
            ip("-n", node.host, "addr", "add", "10.250.\(c.n).250/24", "dev", m)
            ip("-n", node.host, "route", "add", "default", "via", "10.250.\(c.n).254")
        case .device:
            node.nic("d0", peerAddress: "10.250.\(c.n).1/24", up: false, mtu: 1450, mac: Self.deviceMAC)
        }
    }

    /// The plugin objects with the network name and version the reference needs on its stdin.
    func referencePlugins(_ d: DiffNames) -> [String] {
        c.plugins(d).map { p in
            guard var o = TypeIT.object(p) else { Issue.record("case plugin is not JSON: \(p)"); return p }
            o["name"] = node.prefix
            o["cniVersion"] = c.version
            return TypeIT.canonical(o)
        }
    }

    /// skein's config for one run, with that run's own journal (host-local's round robin would
    /// otherwise hand the exec run the address after the built-in run's).
    func skeinConfig(_ d: DiffNames, label: String) -> String {
        let plugins = c.plugins(d)
        let delegate = plugins.count == 1 ? plugins[0] : TypeIT.conflist(node.prefix, version: c.version, plugins)
        return node.config(delegate: delegate, version: c.version, execTypes: label == "exec" ? c.execTypes : [],
                           stateDir: stateDir(label))
    }

    func stateDir(_ label: String) -> String { node.sb.dir + "/state-\(label)" }

    /// CHECK exists from 0.4.0 on; before that skein must refuse it as the spec says (code 1).
    var hasCheck: Bool { !c.version.hasPrefix("0.3") }

    /// One run: ADD, observe, CHECK, DEL, observe. nil if ADD failed (recorded).
    func run(_ label: String) -> DiffObservation? {
        let pod = node.pod(String(label.prefix(3)))
        // Unique per node: the reference tuning keeps its restore file under /run/cni/tuning by
        // container ID and ifname, shared by every case running in parallel.
        let container = "\(node.prefix)-\(label)"
        let d = names(node.sb.dir + "/ipam-\(label)")
        let args = c.args?(d)
        let isRef = label == "reference"
        let config = skeinConfig(d, label: label)
        func invoke(_ command: String, prev: String?) -> ProcessResult {
            if isRef {
                return node.reference(command, plugins: referencePlugins(d), container: container, netns: pod,
                                      ifname: c.ifname, args: args, prevResult: prev)
            }
            let conf = prev.map { SkeinIT.withKeys(config, "\"prevResult\":" + $0) } ?? config
            return node.skein(command, container: container, netns: pod, ifname: c.ifname, config: conf, args: args)
        }
        let add = invoke("ADD", prev: nil)
        guard add.status == 0, let result = TypeIT.object(add.stdout) else {
            Issue.record("\(label) ADD failed: \(add.status) \(add.stdout) \(add.stderr)")
            return nil
        }
        var o = DiffObservation()
        let normalized = normalize(result, pod: pod, label: label)
        o.resultShape = Self.shape(normalized)
        o.result = TypeIT.canonical(normalized)
        o.afterAdd = observePod(pod).merging(observeNode()) { a, _ in a }
        let check = invoke("CHECK", prev: add.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        o.check = check
        if !hasCheck && !isRef {
            #expect(SkeinIT.code(check) == 1, "\(label) CHECK at \(c.version) must be refused with code 1: \(check.stdout)")
        }
        let del = invoke("DEL", prev: isRef ? add.stdout : nil)
        #expect(del.status == 0, "\(label) DEL: \(del.stdout) \(del.stderr)")
        o.afterDel = observeNode()
        o.afterDel["pod links"] = TypeIT.links(pod).map { "\($0.name) up=\($0.up)" }.sorted().joined(separator: " ")
        if label == "skein" {
            #expect(!FileManager.default.fileExists(atPath: d.dataDir), "skein's built-in run wrote host-local files in \(d.dataDir)")
        }
        return o
    }

    /// The result with the sandbox path, host veth names and unfixed MACs rewritten, empty dns
    /// dropped. Before 0.4.0 each ips[] entry carries `version`: skein must print it (the 0.3.x
    /// spec requires it), the reference's loopback does not, so once checked it is dropped.
    func normalize(_ result: [String: Any], pod: String, label: String) -> [String: Any] {
        var r = result
        if let dns = r["dns"] as? [String: Any], dns.isEmpty { r["dns"] = nil }
        if var ifaces = r["interfaces"] as? [[String: Any]] {
            for i in ifaces.indices {
                let inPod = ifaces[i]["sandbox"] != nil
                if inPod { ifaces[i]["sandbox"] = (ifaces[i]["sandbox"] as? String) == pod ? "NS" : "OTHER NS" }
                if let mac = ifaces[i]["mac"] as? String, !(inPod && c.fixedMAC) {
                    ifaces[i]["mac"] = TypeIT.isUnicastMAC(mac) ? "MAC" : "BAD MAC \(mac)"
                }
            }
            r["interfaces"] = ifaces
        }
        if !hasCheck, var ips = r["ips"] as? [[String: Any]] {
            for i in ips.indices {
                let family = (ips[i]["address"] as? String ?? "").contains(":") ? "6" : "4"
                let v = ips[i].removeValue(forKey: "version") as? String
                if label != "reference" {
                    #expect(v == family, "\(label): ips[\(i)].version \(v ?? "missing") at \(c.version), want \(family)")
                }
            }
            r["ips"] = ips
        }
        return TypeIT.object(TypeIT.maskVeth(TypeIT.canonical(r))) ?? r
    }

    func observePod(_ pod: String) -> [String: String] {
        var o: [String: String] = [:]
        let l = TypeIT.link(pod, c.ifname)
        o["pod link"] = l.map { "kind=\($0.kind ?? "-") mtu=\($0.mtu) up=\($0.up) promisc=\($0.promisc)" } ?? "missing"
        if c.fixedMAC { o["pod MAC"] = l?.mac ?? "missing" }
        o["pod addresses"] = TypeIT.addresses(pod, c.ifname).joined(separator: " ")
        o["pod routes -4"] = TypeIT.routes(pod).joined(separator: "\n")
        o["pod routes -6"] = TypeIT.routes(pod, v6: true).joined(separator: "\n")
        o["pod lo"] = "up=\(TypeIT.link(pod, "lo")?.up ?? false)"
        for s in c.podSysctls {
            o["pod sysctl \(s)"] = TypeIT.sysctl(pod, "net.ipv4.conf.\(c.ifname).\(s)") ?? "missing"
        }
        return o
    }

    /// The node's links (MACs only of links whose names are fixed), addresses and routes.
    func observeNode() -> [String: String] {
        let links = TypeIT.links(node.host)
        let linkLines = links.map { l -> String in
            let name = TypeIT.maskVeth(l.name)
            let mac = name == l.name ? " mac=\(l.mac)" : ""
            return "\(name) kind=\(l.kind ?? "-") mtu=\(l.mtu) up=\(l.up) promisc=\(l.promisc)\(mac)"
        }
        let addrLines = links.map { "\(TypeIT.maskVeth($0.name)): \(TypeIT.addresses(node.host, $0.name).joined(separator: " "))" }
        return ["node links": linkLines.sorted().joined(separator: "\n"),
                "node addresses": addrLines.sorted().joined(separator: "\n"),
                "node routes -4": TypeIT.routes(node.host).joined(separator: "\n")]
    }

    /// The key structure of a JSON value: objects by sorted keys, arrays element by element.
    static func shape(_ v: Any) -> String {
        if let o = v as? [String: Any] {
            return "{" + o.keys.sorted().map { "\($0):\(shape(o[$0]!))" }.joined(separator: ",") + "}"
        }
        if let a = v as? [Any] { return "[" + a.map(shape).joined(separator: ",") + "]" }
        return "_"
    }

    /// Built-in CHECK passes; exec'ed CHECK answers what the reference's own CHECK answered.
    func compare(_ sk: DiffObservation, _ ref: DiffObservation, _ label: String) {
        if hasCheck && label == "built-in" {
            #expect(sk.check.status == 0, "\(label) CHECK: \(sk.check.stdout) \(sk.check.stderr)")
        } else if hasCheck {
            #expect(sk.check.status == ref.check.status,
                    "\(label) CHECK exit \(sk.check.status) \(sk.check.stdout); the reference's: \(ref.check.status) \(ref.check.stdout)")
        }
        #expect(sk.resultShape == ref.resultShape, "\(label): result keys differ\n skein     \(sk.resultShape)\n reference \(ref.resultShape)")
        #expect(sk.result == ref.result, "\(label): results differ\n skein     \(sk.result)\n reference \(ref.result)")
        for (phase, s, r) in [("after ADD", sk.afterAdd, ref.afterAdd), ("after DEL", sk.afterDel, ref.afterDel)] {
            for key in Set(s.keys).union(r.keys).sorted() where s[key] != r[key] {
                Issue.record("\(label) \(phase), \(key):\n skein:\n\(s[key] ?? "-")\n reference:\n\(r[key] ?? "-")")
            }
        }
    }
}

@Suite("Differential: skein's built-in types vs the reference plugins",
       .enabled(if: Env.canRunKernelTests && Env.haveReference, "needs root, the release binaries and /usr/lib/cni"))
struct TypeDifferentialTests {
    @Test("reference, skein built-in and skein exec'ed agree", arguments: TypeDiffCase.all)
    func differential(_ c: TypeDiffCase) throws {
        guard Env.canRunKernelTests else { return }
        let node = Node("td"); defer { node.cleanup() }
        let runner = TypeDiffRun(c: c, node: node)
        runner.setUp()
        let ref = try #require(runner.run("reference"), "the reference run failed: fixture or config is wrong")
        if c.fixture == .device {
            HostDeviceTests.expectHome(node, .init(name: node.prefix + "d0", mac: TypeDiffRun.deviceMAC, mtu: 1450), pod: nil,
                                       "reference DEL")
        }
        if let sk = runner.run("skein") { runner.compare(sk, ref, "built-in") }
        if let ex = runner.run("exec") { runner.compare(ex, ref, "exec \(c.execTypes)") }
        for label in ["skein", "exec"] { TypeIT.expectNothingHeld(node, label, stateDir: runner.stateDir(label)) }
    }
}
