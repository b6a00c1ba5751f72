import Foundation
import Testing
@testable import SkeinInstall
import SkeinModel

// deploy/ held to the Kubernetes schemas (offline) and to the binaries: every command line a
// manifest runs is parsed by the installer's own parser, every node path it uses is one the pod
// mounts from the node, and the config it generates is one the skein binary parses.

func manifest(_ path: String) throws -> [JSON] {
    try YAML.parseAll(contents(ofRepoFile: path))
}

func only(_ docs: [JSON], kind: String) throws -> JSON {
    let found = docs.filter { $0["kind"]?.string == kind }
    try #require(found.count == 1, "one \(kind)")
    return found[0]
}

/// A container that runs the skein binary, with its argv parsed by the installer.
struct SkeinContainer {
    let container: JSON
    let parsed: ParsedCommand
    let probe: ParsedCommand?

    init(_ container: JSON) throws {
        self.container = container
        let command = (container["command"]?.array ?? []).compactMap(\.string)
        let args = (container["args"]?.array ?? []).compactMap(\.string)
        try #require(command.first == "/usr/local/bin/skein", "the container runs the skein binary")
        parsed = try InstallFlags.parse(Array(command.dropFirst()) + args)
        let probeCommand = (container["readinessProbe"]?["exec"]?["command"]?.array ?? []).compactMap(\.string)
        probe = probeCommand.isEmpty ? nil : try InstallFlags.parse(Array(probeCommand.dropFirst()))
        if !probeCommand.isEmpty { #expect(probeCommand.first == "/usr/local/bin/skein") }
    }

    /// The node path a mount brings into the container at `containerPath`, via a hostPath volume.
    func nodePath(mountedAt containerPath: String, volumes: [JSON]) -> String? {
        for mount in container["volumeMounts"]?.array ?? [] where mount["mountPath"]?.string == containerPath {
            let volume = volumes.first { $0["name"] == mount["name"] }
            return volume?["hostPath"]?["path"]?.string
        }
        return nil
    }
}

func isPython3Available() -> Bool {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/python3") }
}

func runScript(_ path: String, _ args: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: out, as: UTF8.self))
}

@Suite("deploy/ manifests")
struct ManifestTests {
    @Test(.enabled(if: isPython3Available(), "python3 is missing, so kubernetes-validate cannot run: the manifests are NOT validated against the Kubernetes schemas"))
    func validAgainstTheKubernetesSchemasOffline() throws {
        let r = try runScript(repoRoot + "/tools/validate-manifests.sh", [])
        #expect(r.status == 0, "tools/validate-manifests.sh:\n\(r.output)")
        #expect(r.output.contains("passed for resource daemonset/skein against version 1.28"))
        #expect(r.output.contains("passed for resource daemonset/skein against version 1.37"))
        #expect(r.output.contains("bridge-conf passed against"))

        // The validator can fail: a field Kubernetes does not have.
        let copy = NSTemporaryDirectory() + "skein-manifests-\(getpid())"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: repoRoot + "/deploy", toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let ds = try String(contentsOfFile: copy + "/daemonset.yml", encoding: .utf8)
        try ds.replacingOccurrences(of: "          imagePullPolicy: IfNotPresent\n", with: "          imagePullPolicy: IfNotPresent\n          pullPolicy: Always\n")
            .write(toFile: copy + "/daemonset.yml", atomically: true, encoding: .utf8)
        let bad = try runScript(repoRoot + "/tools/validate-manifests.sh", [copy])
        #expect(bad.status != 0)
        #expect(bad.output.contains("did not validate for resource daemonset/skein"))
    }

    @Test func theBundleIsThePartsInOrder() throws {
        let parts = try manifest("deploy/crd.yml") + manifest("deploy/rbac.yml") + manifest("deploy/daemonset.yml")
        #expect(try manifest("deploy/skein-daemonset.yml") == parts)
        #expect(parts.count == 5)
    }

    @Test func daemonSetRunsTheInstallerWithFlagsAndPathsItAccepts() throws {
        let ds = try only(manifest("deploy/daemonset.yml"), kind: "DaemonSet")
        let pod = try #require(ds["spec"]?["template"]?["spec"])
        let volumes = pod["volumes"]?.array ?? []
        let containers = try #require(pod["containers"]?.array)
        try #require(containers.count == 1 && pod["initContainers"] == nil, "one container, which stays")
        let skein = try SkeinContainer(containers[0])
        let o = skein.parsed.options
        #expect(skein.parsed.command == .install)
        #expect(o.keepRunning, "the pod must stay: a DaemonSet container that exits is restarted")
        for (flag, nodePath) in [("--cni-bin-dir", o.cniBinDir), ("--cni-conf-dir", o.cniConfDir)] {
            #expect(skein.nodePath(mountedAt: o.hostRoot + nodePath, volumes: volumes) == nodePath,
                    "\(flag) \(nodePath) is mounted from the node at --host-root")
        }
        #expect(o.kubeconfig.hasPrefix(o.cniConfDir + "/"), "the kubeconfig lands in a mounted node directory")
        #expect(o.stateDir == SkeinConfig.defaultStateDir)

        let probe = try #require(skein.probe, "a readiness probe")
        #expect(probe.command == .status)
        var installTarget = o
        installTarget.keepRunning = false
        installTarget.waitTimeoutS = probe.options.waitTimeoutS
        installTarget.resyncIntervalS = probe.options.resyncIntervalS
        #expect(probe.options == installTarget, "the probe checks exactly what the container installs")

        // The image puts both binaries where --source-dir says (and the command runs from there).
        let containerfile = try contents(ofRepoFile: "deploy/Containerfile")
        let source = try #require(o.sourceDir)
        #expect(containerfile.contains("COPY --from=build /out/skein /out/skein-journal \(source)/"))
        #expect(skein.container["command"]?[0]?.string.map(parentDirectory) == source)
        // The token and CA the installer copies are the ones Kubernetes mounts for the service account.
        #expect(o.tokenFile == "/var/run/secrets/kubernetes.io/serviceaccount/token")
        #expect(pod["automountServiceAccountToken"] != .bool(false))
    }

    @Test func daemonSetPodSettings() throws {
        let ds = try only(manifest("deploy/daemonset.yml"), kind: "DaemonSet")
        let spec = try #require(ds["spec"])
        let pod = try #require(spec["template"]?["spec"])
        #expect(ds["metadata"]?["namespace"] == .string("kube-system"))
        #expect(spec["updateStrategy"]?["type"] == .string("RollingUpdate"))
        #expect(pod["hostNetwork"] == .bool(true))
        #expect(pod["priorityClassName"] == .string("system-node-critical"))
        #expect(pod["tolerations"] == .array([.obj([("operator", .string("Exists"))])]), "tolerates every taint")
        let sa = try only(manifest("deploy/rbac.yml"), kind: "ServiceAccount")
        #expect(pod["serviceAccountName"] == sa["metadata"]?["name"])
        #expect(sa["metadata"]?["namespace"] == ds["metadata"]?["namespace"])
        let resources = try #require(pod["containers"]?[0]?["resources"])
        for part in ["requests", "limits"] {
            #expect(resources[part]?["cpu"] != nil && resources[part]?["memory"] != nil, "\(part) for cpu and memory")
        }
        let selector = spec["selector"]?["matchLabels"]?.object
        for pair in selector?.pairs ?? [] { #expect(spec["template"]?["metadata"]?["labels"]?[pair.key] == pair.value) }
    }

    /// The DaemonSet's own options, pointed at a temporary node, install a config the binary parses.
    @Test func daemonSetInstallsAConfigTheBinaryParses() throws {
        let ds = try only(manifest("deploy/daemonset.yml"), kind: "DaemonSet")
        let skein = try SkeinContainer(#require(ds["spec"]?["template"]?["spec"]?["containers"]?[0]))
        let node = try TempNode("manifest")
        try node.addDefaultNetwork()
        var o = skein.parsed.options
        o.hostRoot = node.host
        o.sourceDir = node.sourceDir
        o.tokenFile = node.dir + "/sa/token"
        o.caFile = node.dir + "/sa/ca.crt"
        o.keepRunning = false
        _ = try Installer(options: o, environment: node.environment).install()
        let list = try JSON.parse(#require(node.read(node.host + o.confPath)))
        var plugin = try #require(list["plugins"]?[0]?.object)
        plugin["name"] = list["name"]
        plugin["cniVersion"] = list["cniVersion"]
        let config = try SkeinConfig.parse(.object(plugin))
        #expect(config.clusterNetwork == o.cniConfDir + "/10-flannel.conflist")
        #expect(config.kubeconfig == o.kubeconfig)
        #expect(node.exists(node.host + (config.kubeconfig ?? "")))
    }

    @Test func uninstallManifestRunsUninstall() throws {
        let ds = try only(manifest("deploy/skein-uninstall.yml"), kind: "DaemonSet")
        let pod = try #require(ds["spec"]?["template"]?["spec"])
        let inits = try #require(pod["initContainers"]?.array)
        try #require(inits.count == 1)
        let skein = try SkeinContainer(inits[0])
        let o = skein.parsed.options
        #expect(skein.parsed.command == .uninstall)
        #expect(!o.removeBinaries, "existing pods must stay deletable")
        let volumes = pod["volumes"]?.array ?? []
        for nodePath in [o.cniBinDir, o.cniConfDir] {
            #expect(skein.nodePath(mountedAt: o.hostRoot + nodePath, volumes: volumes) == nodePath)
        }
        let install = try SkeinContainer(#require(try only(manifest("deploy/daemonset.yml"), kind: "DaemonSet")["spec"]?["template"]?["spec"]?["containers"]?[0]))
        #expect(o.confPath == install.parsed.options.confPath && o.kubeconfig == install.parsed.options.kubeconfig,
                "uninstall removes what install wrote")
    }

    @Test func rbacIsExactlyWhatSkeinNeeds() throws {
        let docs = try manifest("deploy/rbac.yml")
        let role = try only(docs, kind: "ClusterRole")
        let rules = try #require(role["rules"]?.array).map { rule in
            [rule["apiGroups"], rule["resources"], rule["verbs"]].map { ($0?.array ?? []).compactMap(\.string) }
        }
        #expect(rules == [[[""], ["pods"], ["get"]],
                          [[""], ["pods/status"], ["update"]],
                          [["k8s.cni.cncf.io"], ["network-attachment-definitions"], ["get", "list", "watch"]]])
        let binding = try only(docs, kind: "ClusterRoleBinding")
        #expect(binding["roleRef"]?["name"] == role["metadata"]?["name"])
        #expect(binding["roleRef"]?["kind"] == .string("ClusterRole"))
        let sa = try only(docs, kind: "ServiceAccount")
        #expect(binding["subjects"] == .array([.obj([("kind", .string("ServiceAccount")), ("name", sa["metadata"]!["name"]!),
                                                    ("namespace", sa["metadata"]!["namespace"]!)])]))
    }

    @Test func crdIsTheUpstreamNetworkAttachmentDefinition() throws {
        let crd = try only(manifest("deploy/crd.yml"), kind: "CustomResourceDefinition")
        let spec = try #require(crd["spec"])
        #expect(crd["metadata"]?["name"] == .string("network-attachment-definitions.k8s.cni.cncf.io"))
        #expect(spec["group"] == .string("k8s.cni.cncf.io"))
        #expect(spec["scope"] == .string("Namespaced"))
        #expect(spec["names"]?["kind"] == .string("NetworkAttachmentDefinition"))
        #expect(spec["names"]?["plural"] == .string("network-attachment-definitions"))
        #expect(spec["names"]?["shortNames"]?.array?.contains(.string("net-attach-def")) == true)
        let versions = try #require(spec["versions"]?.array)
        #expect(versions.count == 1)
        #expect(versions[0]["name"] == .string("v1") && versions[0]["served"] == .bool(true) && versions[0]["storage"] == .bool(true))
        let schema = versions[0]["schema"]?["openAPIV3Schema"]
        #expect(schema?["properties"]?["spec"]?["properties"]?["config"]?["type"] == .string("string"))
    }
}
