import Testing
import SkeinModel
@testable import SkeinMeta

private func nad(_ text: String, namespace: String = "default") throws -> NetworkAttachmentDefinition {
    try NetworkAttachmentDefinition.parse(text, defaultNamespace: namespace, fallbackVersion: "1.0.0")
}

private func delegate(_ n: NetworkAttachmentDefinition) -> DelegateConfig? {
    if case .delegate(let d) = n.config { return d }
    return nil
}

private func failure(_ text: String) -> CNIError? {
    do { _ = try NetworkAttachmentDefinition.parse(text, defaultNamespace: "default", fallbackVersion: "1.0.0"); return nil } catch { return error }
}

@Suite struct NetworkAttachmentDefinitionTests {
    // MARK: - Golden: the walkthrough's NADs

    @Test func walkthroughMacvlanConf() throws {
        let n = try nad(Walkthrough.macvlanConf)
        #expect(n.networkName == "default/macvlan-conf" && n.annotations.isEmpty)
        let d = try #require(delegate(n))
        // No name in the config: the NAD's name is injected, as the nad-client does.
        #expect(d.name == "macvlan-conf" && d.cniVersion == "0.3.0" && !d.isConflist)
        #expect(d.plugins == [try JSON.parse(#"""
            {"cniVersion":"0.3.0","type":"macvlan","master":"enp0s9","mode":"bridge",
             "ipam":{"type":"host-local","subnet":"172.17.9.0/24","rangeStart":"172.17.9.240","rangeEnd":"172.17.9.250",
                     "routes":[{"dst":"0.0.0.0/0"}],"gateway":"172.17.9.1"},
             "name":"macvlan-conf"}
            """#)])
    }

    @Test func walkthroughNADsAllParse() throws {
        let parsed = try Walkthrough.all.map { try nad($0) }
        #expect(parsed.map(\.networkName) == ["default/macvlan-conf", "default/bridge-conf", "default/host-device",
                                              "default/ipvlan", "default/macvlan", "default/ipvlan-def"])
        let delegates = parsed.compactMap(delegate)
        #expect(delegates.map(\.name) == ["macvlan-conf", "bridge-conf", "host-device-main", "ipvlan-main", "macvlan-main", "ipvlan-def"])
        #expect(delegates.map(\.cniVersion) == ["0.3.0", "0.3.1", "0.3.1", "0.3.1", "0.3.1", "0.3.1"])
        #expect(delegates.map { $0.plugins[0]["type"]?.string } == ["macvlan", "bridge", "host-device", "ipvlan", "macvlan", "ipvlan"])
        #expect(delegates[1].plugins[0]["bridge"]?.string == "mybr0")
        #expect(delegates[2].plugins[0]["ipam"]?["type"]?.string == "dhcp")
        #expect(delegates[5].plugins[0]["ipam"]?["rangeEnd"]?.string == "192.168.200.205")
    }

    // MARK: - Object shapes

    @Test func apiJSONWithNamespaceAndAnnotations() throws {
        let n = try nad(#"""
            {"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition",
             "metadata":{"name":"sriov-net","namespace":"tenant-a","uid":"0b1c","resourceVersion":"42",
                         "annotations":{"k8s.v1.cni.cncf.io/resourceName":"intel.com/sriov"}},
             "spec":{"config":"{\"cniVersion\":\"1.0.0\",\"name\":\"sriov\",\"plugins\":[{\"type\":\"sriov\"},{\"type\":\"tuning\"}]}"}}
            """#)
        #expect(n.namespace == "tenant-a" && n.name == "sriov-net")
        #expect(n.annotations["k8s.v1.cni.cncf.io/resourceName"] == "intel.com/sriov")
        let d = try #require(delegate(n))
        #expect(d.isConflist && d.name == "sriov" && d.plugins.count == 2)
    }

    @Test func emptySpecMeansConfDir() throws {
        let bare = "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: flannel\n"
        #expect(try nad(bare).config == .fromConfDir)
        #expect(try nad(bare + "spec: {}\n").config == .fromConfDir)
        #expect(try nad(bare + "spec:\n  config: ''\n").config == .fromConfDir)
        #expect(try nad(bare + "spec:\n  config: \"  \"\n").config == .fromConfDir)
    }

    @Test func emptyConfigNameIsInjectedAndVersionFallsBack() throws {
        let n = try nad(#"""
            apiVersion: k8s.cni.cncf.io/v1
            kind: NetworkAttachmentDefinition
            metadata: {name: br, namespace: lab}
            spec:
              config: |
                {"name": "", "type": "bridge"}
            """#)
        let d = try #require(delegate(n))
        #expect(d.name == "br" && d.cniVersion == "1.0.0" && d.plugins[0]["name"]?.string == "br")
    }

    @Test(arguments: [
        ("kind: Pod\napiVersion: v1\nmetadata: {name: a}\n", "kind must be NetworkAttachmentDefinition"),
        ("kind: NetworkAttachmentDefinition\napiVersion: v1\nmetadata: {name: a}\n", "apiVersion must be k8s.cni.cncf.io/v1"),
        ("kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\n", "metadata.name"),
        ("kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\nmetadata: {name: Big}\n", "metadata.name"),
        ("kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\nmetadata: {name: a, namespace: x.y}\n", "metadata.namespace"),
        ("kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\nmetadata: {name: a, annotations: {k: 1}}\n", "annotations"),
        ("kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\nmetadata: {name: a}\nspec: {config: 3}\n", "spec.config must be a string"),
        ("kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\nmetadata: {name: a}\nspec: {config: '{'}\n", "spec.config is not valid JSON"),
        ("kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\nmetadata: {name: a}\nspec: {config: '[]'}\n", "spec.config must be a JSON object"),
        ("kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\nmetadata: {name: a}\nspec: {config: '{\"name\":\"x\"}'}\n", "neither type nor plugins"),
        ("kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\nmetadata: {name: a}\nspec: {config: '{\"type\":\"../sh\"}'}\n", "plain executable"),
        ("a: [\n", "invalid YAML at line 1"),
        ("[]", "must be an object"),
        ("# nothing\n", "found 0"),
        ("kind: List\nitems: [{}, {}]\n", "found 2"),
        ("{\"kind\":", "invalid JSON"),
    ])
    func errors(_ text: String, _ fragment: String) {
        let error = failure(text)
        #expect(error?.code == 7, "\(text)")
        #expect(error?.msg.contains(fragment) == true, "\(String(describing: error))")
    }

    @Test func unsupportedConfigVersionIsCode1() {
        let text = "kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\nmetadata: {name: a}\nspec: {config: '{\"cniVersion\":\"0.2.0\",\"type\":\"bridge\"}'}\n"
        #expect(failure(text)?.code == 1)
    }

    @Test func configErrorsNameTheNAD() {
        let text = "kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\nmetadata: {name: a, namespace: lab}\nspec: {config: '{\"plugins\":[]}'}\n"
        #expect(failure(text)?.msg == "NetworkAttachmentDefinition lab/a spec.config.plugins must not be empty")
    }

    @Test func listsContributeTheirItems() throws {
        let objects = try NetworkAttachmentDefinition.objects(in: """
            apiVersion: v1
            kind: List
            items:
            - {kind: NetworkAttachmentDefinition, apiVersion: k8s.cni.cncf.io/v1, metadata: {name: a}}
            - {kind: NetworkAttachmentDefinition, apiVersion: k8s.cni.cncf.io/v1, metadata: {name: b}}
            ---
            {kind: NetworkAttachmentDefinition, apiVersion: k8s.cni.cncf.io/v1, metadata: {name: c}}
            """)
        #expect(objects.map { $0["metadata"]?["name"]?.string } == ["a", "b", "c"])
    }

    // MARK: - nadDir

    @Test func directoryIndexesEveryWalkthroughNAD() throws {
        let files = [("10-walkthrough.yaml", Walkthrough.all.joined(separator: "\n---\n")),
                     ("tenant.json", #"{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition","metadata":{"name":"t","namespace":"tenant"},"spec":{"config":"{\"type\":\"ptp\"}"}}"#),
                     ("README.md", "not a NAD"), (".hidden.yaml", "also: skipped")]
        let dir = NADDirectory(files: files, fallbackVersion: "1.0.0")
        #expect(dir.problems.isEmpty)
        #expect(dir.definitions.map(\.networkName) == ["default/bridge-conf", "default/host-device", "default/ipvlan",
                                                        "default/ipvlan-def", "default/macvlan", "default/macvlan-conf", "tenant/t"])
        #expect(try dir.definition(namespace: "default", name: "ipvlan-def")?.name == "ipvlan-def")
        #expect(try dir.definition(namespace: "tenant", name: "t") != nil)
        #expect(try dir.definition(namespace: "tenant", name: "ipvlan-def") == nil)
    }

    @Test func brokenFilesAndDuplicatesAreReportedNotFatal() throws {
        let good = "kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\nmetadata: {name: good}\nspec: {config: '{\"type\":\"ptp\"}'}\n"
        let dup = "kind: NetworkAttachmentDefinition\napiVersion: k8s.cni.cncf.io/v1\nmetadata: {name: dup}\nspec: {config: '{\"type\":\"ptp\"}'}\n"
        let files = [("a.yaml", good + "---\n" + dup), ("b.yml", "a: [\n"), ("c.yaml", dup),
                     ("d.yaml", "kind: Pod\n---\n" + dup), ("e.json", "{")]
        let dir = NADDirectory(files: files, fallbackVersion: "1.0.0")
        #expect(try dir.definition(namespace: "default", name: "good")?.name == "good")
        #expect(dir.problems.map(\.file) == ["b.yml", "c.yaml", "d.yaml (document 1)", "d.yaml (document 2)", "e.json"])
        #expect(dir.problems.allSatisfy { $0.error.code == 7 })
        #expect(dir.problems[1].error.details == "a.yaml (document 2), c.yaml")
        #expect(dir.problems[3].error.details == "a.yaml (document 2), c.yaml, d.yaml (document 2)")
        do {
            _ = try dir.definition(namespace: "default", name: "dup")
            Issue.record("an ambiguous NAD was returned")
        } catch {
            #expect(error.code == 7 && error.msg.contains("more than once"))
        }
        #expect(dir.definitions.map(\.name) == ["good"])
    }

    @Test func defaultNamespaceForFiles() throws {
        let dir = NADDirectory(files: [("x.yaml", Walkthrough.bridgeConf)], fallbackVersion: "1.0.0", defaultNamespace: "lab")
        #expect(try dir.definition(namespace: "lab", name: "bridge-conf") != nil)
    }

    // MARK: - confDir

    @Test func confDirFindsByNameInFileOrder() throws {
        let files = [("20-b.conflist", #"{"cniVersion":"0.4.0","name":"cbr0","plugins":[{"type":"flannel"},{"type":"portmap"}]}"#),
                     ("10-a.conf", #"{"cniVersion":"0.3.1","name":"k8s-pod-network","type":"calico"}"#),
                     ("99-x.txt", "ignored"), ("30-c.json", #"{"name":"cbr0","type":"bridge"}"#)]
        let cbr0 = try #require(try ConfDirectory.find("cbr0", files: files, fallbackVersion: "1.0.0"))
        #expect(cbr0.isConflist && cbr0.cniVersion == "0.4.0" && cbr0.plugins.count == 2)
        let first = try #require(try ConfDirectory.find(nil, files: files, fallbackVersion: "1.0.0"))
        #expect(first.name == "k8s-pod-network")
        #expect(try ConfDirectory.find("nothing", files: files, fallbackVersion: "1.0.0") == nil)
    }

    @Test func confDirErrors() {
        #expect(throws: CNIError.self) { try ConfDirectory.find("x", files: [("a.conf", "{")], fallbackVersion: "1.0.0") }
        #expect(throws: CNIError.self) {
            try ConfDirectory.find("x", files: [("a.conf", #"{"name":"x","plugins":[{"type":"p"}]}"#)], fallbackVersion: "1.0.0")
        }
    }
}
