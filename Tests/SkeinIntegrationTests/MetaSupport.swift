import Foundation
import Testing

// Support for the meta-plugin suites (MetaTests, MetaKubeTests): a node (TypeSupport's Node: skein
// runs inside a namespace standing in for the host) with a directory for NAD files, confs and
// logs, and builders for the Multus-style skein config. Subnets are 10.249.N.0/24; each test lists
// its N, unique across MetaTests.swift and MetaKubeTests.swift.

final class MetaNode {
    let node: Node
    /// The node's scratch directory (the Sandbox's, removed with it).
    var dir: String { node.sb.dir }
    var nadDir: String { dir + "/nads" }
    var confDir: String { dir + "/conf" }
    var prefix: String { node.prefix }

    init(_ tag: String) {
        node = Node(tag)
        for d in [nadDir, confDir] { try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
    }

    func cleanup() { node.cleanup() }

    func write(_ text: String, to path: String) {
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    }

    /// A NAD file in nadDir (`yaml` picks the form the walkthrough uses; JSON otherwise).
    func nad(_ name: String, namespace: String = "default", config: String, yaml: Bool = false) {
        if yaml {
            let indented = config.replacingOccurrences(of: "'", with: "''")
            write("""
                apiVersion: "k8s.cni.cncf.io/v1"
                kind: NetworkAttachmentDefinition
                metadata:
                  name: \(name)
                  namespace: \(namespace)
                spec:
                  config: '\(indented)'
                """, to: "\(nadDir)/\(name).yaml")
        } else {
            let object: [String: Any] = ["apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
                                         "metadata": ["name": name, "namespace": namespace], "spec": ["config": config]]
            write(TypeIT.canonical(object), to: "\(nadDir)/\(name).json")
        }
    }

    /// A bridge delegate on bridge `<prefix><suffix>` with host-local on 10.249.N.0/24.
    func bridge(_ suffix: String, n: Int, name: String? = nil, extra: String = "") -> String {
        let named = name.map { "\"name\":\"\($0)\"," } ?? ""
        return "{\"cniVersion\":\"1.0.0\",\(named)\"type\":\"bridge\",\"bridge\":\"\(prefix)\(suffix)\",\"isGateway\":true\(extra),"
            + "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.249.\(n).0/24\"}}"
    }

    /// A macvlan delegate on `master` with host-local on 10.249.N.0/24.
    func macvlan(master: String, n: Int, extra: String = "") -> String {
        "{\"cniVersion\":\"0.3.1\",\"type\":\"macvlan\",\"master\":\"\(master)\",\"mode\":\"bridge\"\(extra),"
            + "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.249.\(n).0/24\"}}"
    }

    /// The skein config: `cluster` is either a delegate (put in `delegates`) or, with `clusterNetwork`,
    /// a name looked up as a NAD in kube-system or a conf in confDir. `extra` is more top-level keys.
    func config(version: String = "1.0.0", delegate: String? = nil, clusterNetwork: String? = nil,
                name: String? = nil, extra: String = "") -> String {
        var keys = "\"cniVersion\":\"\(version)\",\"name\":\"\(name ?? prefix + "-meta")\",\"type\":\"skein\","
            + "\"stateDir\":\"\(node.sb.stateDir)\",\"nadDir\":\"\(nadDir)\",\"confDir\":\"\(confDir)\""
        if let delegate { keys += ",\"delegates\":[\(delegate)]" }
        if let clusterNetwork { keys += ",\"clusterNetwork\":\"\(clusterNetwork)\"" }
        return "{" + keys + extra + "}"
    }

    /// CNI_ARGS of a Kubernetes pod in `namespace`, plus `extra` ("K=V;…").
    static func podArgs(_ pod: String, namespace: String = "default", uid: String? = nil, extra: String? = nil) -> String {
        var args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=\(namespace);K8S_POD_NAME=\(pod);K8S_POD_INFRA_CONTAINER_ID=x"
        if let uid { args += ";K8S_POD_UID=\(uid)" }
        if let extra { args += ";" + extra }
        return args
    }

    @discardableResult
    func skein(_ command: String, container: String, netns: String?, ifname: String = "eth0", config: String,
               args: String? = nil, env: [String: String] = [:]) -> ProcessResult {
        node.skein(command, container: container, netns: netns, ifname: ifname, config: config, args: args, env: env)
    }

    /// The attachments the journal holds, as "cid/ifname" keys, sorted.
    func heldKeys() -> [String] {
        SkeinIT.attachments(node.sb).compactMap { a -> String? in
            guard let k = a["key"] as? [String: Any], let c = k["containerID"] as? String, let i = k["ifname"] as? String else { return nil }
            return c + "/" + i
        }.sorted()
    }

    /// The journal's events of one type, as their `data` objects.
    func events(_ type: String) -> [[String: Any]] { ExecDelegateTests.events(node, type) }

    /// The pod's IPv4 routes as "dst via gw dev" lines.
    func routes(_ pod: String) -> [String] {
        TypeIT.array(run("/usr/sbin/ip", ["-n", SkeinIT.nsName(pod), "-4", "-j", "route", "show"]).stdout).map { r in
            [r["dst"] as? String, (r["gateway"] as? String).map { "via " + $0 }, (r["dev"] as? String).map { "dev " + $0 }]
                .compactMap { $0 }.joined(separator: " ")
        }.sorted()
    }
}
