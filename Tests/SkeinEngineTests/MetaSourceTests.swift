import Foundation
import Testing
import SkeinMeta
import SkeinModel
@testable import SkeinEngine

// Where the meta-plugin's networks and the pod's annotations come from without a Kubernetes API:
// nadDir, confDir, a clusterNetwork path, runtimeConfig.podAnnotations and CNI_ARGS SKEIN_NETWORKS;
// and the facts it records for DEL, CHECK and GC. Files in a temp directory; no root, no kernel.

private final class TempDir {
    let path = NSTemporaryDirectory() + "skein-meta-src-\(getpid())-\(UInt32.random(in: 0..<0xFFFFFF))"
    init() { try? FileManager.default.createDirectory(atPath: path + "/nads", withIntermediateDirectories: true)
             try? FileManager.default.createDirectory(atPath: path + "/conf", withIntermediateDirectories: true) }
    func write(_ text: String, _ name: String) { FileManager.default.createFile(atPath: path + "/" + name, contents: Data(text.utf8)) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private func config(_ dir: TempDir, _ members: String) throws -> SkeinConfig {
    try SkeinConfig.parse(JSON.parse(#"{"cniVersion":"0.3.1","name":"meta","type":"skein","nadDir":"\#(dir.path)/nads","confDir":"\#(dir.path)/conf",\#(members)}"#))
}

private func context(_ c: SkeinConfig, args: String? = nil) throws -> Context {
    var env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0"]
    if let args { env["CNI_ARGS"] = args }
    let request = try CNIRequest.parse(env: env, stdin: c.raw.serializedBytes())
    return try Context(request: request, config: c, env: env)
}

private let bridgeNAD = """
    apiVersion: k8s.cni.cncf.io/v1
    kind: NetworkAttachmentDefinition
    metadata:
      name: side
      namespace: default
    spec:
      config: '{"cniVersion":"0.3.1","type":"bridge","bridge":"br9","ipam":{"type":"host-local","subnet":"10.9.0.0/24"}}'
    """

@Suite struct MetaSourceTests {
    @Test func nadDirAndConfDirResolveInMultusOrder() throws {
        let dir = TempDir()
        dir.write(bridgeNAD, "nads/side.yaml")
        dir.write(#"{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition","metadata":{"name":"empty","namespace":"default"}}"#, "nads/empty.json")
        dir.write(#"{"cniVersion":"0.3.1","name":"empty","type":"ptp"}"#, "conf/20-empty.conf")
        dir.write(#"{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"bridge"}]}"#, "conf/10-cbr0.conflist")
        let source = NetworkSource(config: try config(dir, #""clusterNetwork":"cbr0""#))
        #expect(try source.resolve(namespace: "default", name: "side").plugins.first?["bridge"]?.string == "br9")
        // A NAD without spec.config is the conf of its name in confDir.
        #expect(try source.resolve(namespace: "default", name: "empty").plugins.first?["type"]?.string == "ptp")
        // clusterNetwork: no NAD in kube-system, so the conflist of that name in confDir.
        #expect(try source.resolve(namespace: "kube-system", name: "cbr0").isConflist)
        // An annotation's network is a NAD or nothing: confDir is for clusterNetwork/defaultNetworks.
        #expect {
            try source.resolve(namespace: "default", name: "cbr0")
        } throws: { e in (e as? CNIError)?.msg == "network default/cbr0 not found" }
    }

    @Test func clusterNetworkAsADirectoryOrAFile() throws {
        let dir = TempDir()
        dir.write(#"{"cniVersion":"0.3.1","name":"second","type":"ptp"}"#, "conf/20-b.conf")
        dir.write(#"{"cniVersion":"0.3.1","name":"first","type":"bridge"}"#, "conf/10-a.conf")
        let byDir = NetworkSource(config: try config(dir, #""clusterNetwork":"\#(dir.path)/conf""#))
        #expect(try byDir.resolve(namespace: "kube-system", name: dir.path + "/conf").name == "first")
        let byFile = NetworkSource(config: try config(dir, #""clusterNetwork":"\#(dir.path)/conf/20-b.conf""#))
        #expect(try byFile.resolve(namespace: "kube-system", name: dir.path + "/conf/20-b.conf").name == "second")
    }

    @Test func localPodAnnotations() throws {
        let dir = TempDir()
        let c = try config(dir, #""delegates":[{"type":"loopback"}],"runtimeConfig":{"podAnnotations":{"k8s.v1.cni.cncf.io/networks":"a","x":"y"}}"#)
        #expect(try PodAnnotations.local(try context(c)) == ["k8s.v1.cni.cncf.io/networks": "a", "x": "y"])
        // SKEIN_NETWORKS wins, and is not passed on to the delegates.
        let ctx = try context(c, args: "IgnoreUnknown=1;SKEIN_NETWORKS=b@net5,c;K8S_POD_NAME=p")
        #expect(try PodAnnotations.local(ctx)["k8s.v1.cni.cncf.io/networks"] == "b@net5,c")
        #expect(ctx.delegateCNIArgs == "IgnoreUnknown=1;K8S_POD_NAME=p")
        let bad = try config(dir, #""delegates":[{"type":"loopback"}],"runtimeConfig":{"podAnnotations":{"x":1}}"#)
        #expect(throws: CNIError.self) { _ = try PodAnnotations.local(try context(bad)) }
    }

    @Test func staticPodsKeepTheirOwnUID() {
        #expect(PodAnnotations.isStatic(["kubernetes.io/config.source": "file"]))
        #expect(!PodAnnotations.isStatic(["kubernetes.io/config.source": "api"]))
        #expect(!PodAnnotations.isStatic([:]))
    }

    @Test func metaFactsRoundTrip() {
        let f = MetaFacts(skeinNetwork: "meta", cniIfname: "eth0", nad: "default/side", isDefault: false,
                          dropDefaultRoute: true, defaultGateways: [IPAddress("10.9.0.1")!])
        #expect(MetaFacts(facts: .object(f.json)) == f)
        #expect(MetaFacts(facts: try! JSON.parse(#"{"defaultRouteInterface":"eth0"}"#)) == nil)
    }

    @Test func readinessTimeoutIsValidated() throws {
        #expect(try Readiness.timeoutMs(JSON.parse("{}")) == 45_000)
        #expect(try Readiness.timeoutMs(JSON.parse(#"{"readinessTimeoutMs":0}"#)) == 0)
        #expect(throws: CNIError.self) { _ = try Readiness.timeoutMs(JSON.parse(#"{"readinessTimeoutMs":-1}"#)) }
    }

    @Test func readinessFailsClosedWithCode11() {
        let missing = NSTemporaryDirectory() + "skein-no-such-ready-\(getpid())"
        #expect {
            try Readiness.waitForFile(missing, timeoutMs: 300)
        } throws: { e in (e as? CNIError)?.code == 11 }
    }
}
