import Testing
import SkeinModel
@testable import SkeinMeta

// Regression inputs for the meta-plugin's parsers from fuzzing (tools/fuzz; the documented run of
// 1,000,000 executions per parser found no crash and no violated property) and from the hostile
// catalogue (Tests/SkeinIntegrationTests/Hostile), without root: the networks annotation as a
// pod's owner may write it, and NAD files as nadDir may hold them. A crash input found later goes
// here as its bytes.

private let networks = NetworkSelection.annotationKey

private func selectionError(_ text: String) -> CNIError? {
    do { _ = try NetworkSelection.parse(text, defaultNamespace: "default"); return nil } catch { return error }
}

private func nadError(_ text: String) -> CNIError? {
    do { _ = try NetworkAttachmentDefinition.parse(text, defaultNamespace: "default", fallbackVersion: "1.0.0"); return nil } catch {
        return error
    }
}

private let goodNAD = """
    apiVersion: "k8s.cni.cncf.io/v1"
    kind: NetworkAttachmentDefinition
    metadata:
      name: good-net
    spec:
      config: '{"cniVersion":"1.0.0","type":"bridge","bridge":"br9","ipam":{"type":"host-local","subnet":"10.248.9.0/24"}}'
    """

@Suite("Fuzz regressions: the networks annotation")
struct SelectionFuzzRegressionTests {
    /// The JSON form's hostile members: each refused as an invalid config, never passed on.
    @Test(arguments: [
        #"[{"name":"good-net","mac":"02:00:00:00:00:01;IP=1.2.3.4"}]"#,
        #"[{"name":"good-net","ips":"10.248.2.5"}]"#,
        #"[{"name":"good-net","ips":["10.248.2.5;MAC=02:00:00:00:00:02"]}]"#,
        #"[{"name":"good-net","ips":["300.1.1.1"]}]"#,
        #"[{"name":"good-net","portMappings":[{"hostPort":70000}]}]"#,
        #"[{"name":"good-net","bandwidth":{"ingressRate":-1}}]"#,
        #"[{"name":5}]"#,
        #"[{"name":"good-net","namespace":"../x"}]"#,
        #"[{"name":"good-net","default-route":["x"]}]"#,
        #"[{"name":"good-net","interface":"abcdefghijklmnop"}]"#,
        #"[{"name":"good-net","interface":"a/b"}]"#,
        #"[{"name":"good-net","infiniband-guid":"zz:zz"}]"#,
        #"[{"name":"good-net","cni-args":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}]",
        #"[{"name":"good-net","name":"other"}]"#,
        #"[{"name":"#,
    ])
    func hostileJSONFormIsCode7(_ text: String) {
        #expect(selectionError(text)?.code == 7, "\(text.prefix(80))")
    }

    /// The fuzz property: what the comma form accepts renders back to itself.
    @Test(arguments: ["a@b.c", "x/y@n-1", "a@ééééééé", "a@x;y=z", "0/0@0", " spaced / name @ if0 ", "a@", "/a"])
    func commaFormRoundTrips(_ text: String) throws {
        let parsed = try NetworkSelection.parse(text, defaultNamespace: "default")
        let rendered = parsed.map { "\($0.namespace)/\($0.name)" + ($0.interface.map { "@" + $0 } ?? "") }.joined(separator: ",")
        #expect(try NetworkSelection.parse(rendered, defaultNamespace: "default") == parsed, "\(text) → \(rendered)")
    }

    /// The fuzz property: the CNI_ARGS a plan hands a delegate are K=V pairs whatever the selection held.
    @Test func cniArgsStayWellFormed() throws {
        let config = try SkeinConfig.parse(JSON.parse(
            #"{"cniVersion":"1.0.0","name":"c","type":"skein","delegates":[{"type":"bridge","ipam":{"type":"host-local","subnet":"10.0.0.0/24"}}]}"#))
        let delegate = try DelegateConfig.parse(JSON.parse(#"{"type":"macvlan","master":"eth9"}"#), fallbackName: "m", fallbackVersion: "1.0.0")
        let annotation = #"[{"name":"m","mac":"02:AA:BB:CC:DD:EE","ips":["10.1.1.5/24","fd00::5"]},{"name":"m","interface":"n;1"}]"#
        let plan = try MetaPlan.build(config: config, podNamespace: "default", annotations: [networks: annotation], ifname: "eth0",
                                      resolve: { (_: String, _: String) throws(CNIError) in delegate })
        #expect(plan.attachments.map(\.ifname) == ["eth0", "net1", "n;1"])
        for a in plan.attachments {
            let args = a.cniArgs(base: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default")
            #expect(args.split(separator: ";").allSatisfy { $0.split(separator: "=", omittingEmptySubsequences: false).count == 2 }, "\(args)")
        }
        #expect(plan.attachments[1].cniArgs == ["MAC=02:aa:bb:cc:dd:ee", "IP=10.1.1.5/24,fd00::5"])
    }
}

@Suite("Fuzz regressions: NAD files")
struct NADFuzzRegressionTests {
    static let laughs = "a: &a [\"x\",\"x\",\"x\"]\nb: &b [*a,*a,*a]\napiVersion: \"k8s.cni.cncf.io/v1\"\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: bad-net\n"

    @Test(arguments: [
        laughs,
        "apiVersion: \"k8s.cni.cncf.io/v1\"\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: bad-net\nx: " + String(repeating: "[", count: 100_000),
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: bad-net\n",
        #"{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition","metadata":{"name":"bad-net","name":"good-net"},"spec":{"config":"{}"}}"#,
        goodNAD.replacing("name: good-net", with: "name: bad-net\u{FFFD}"),
        goodNAD.replacing("name: good-net", with: "name: good-net\n  namespace: ../x"),
        goodNAD.replacing(#""type":"bridge""#, with: #""type":"../../bin/sh""#),
        goodNAD.replacing(#""type":"bridge","bridge":"br9""#, with: #""type":"bridge","plugins":[{"type":"bridge"}]"#),
        goodNAD.replacing(#"'{"cniVersion""#, with: #"'{"plugins":[],"cniVersion""#),
        goodNAD.replacing("config: '{", with: "config: '[{").replacing("}}'", with: "}}]'"),
        goodNAD.replacing("'{", with: "'not json {"),
        goodNAD.replacing("kind: NetworkAttachmentDefinition", with: "kind: Pod"),
    ])
    func hostileNADIsRefused(_ text: String) {
        let error = nadError(text)
        #expect(error?.code == 7, "\(text.prefix(120)): \(String(describing: error))")
    }

    /// One hostile file in nadDir must not hide the good ones; the hostile ones are reported.
    @Test func hostileFilesDoNotHideGoodOnes() throws {
        let files = [("good.yaml", goodNAD), ("laughs.yaml", Self.laughs),
                     ("deep.yaml", "x: " + String(repeating: "[", count: 100_000)),
                     ("twice-a.yaml", goodNAD.replacing("good-net", with: "twice")),
                     ("twice-b.yaml", goodNAD.replacing("good-net", with: "twice")),
                     ("utf8.yaml", goodNAD.replacing("good-net", with: "bad\u{FFFD}"))]
        let dir = NADDirectory(files: files, fallbackVersion: "1.0.0")
        #expect(try dir.definition(namespace: "default", name: "good-net") != nil)
        #expect(throws: CNIError.self) { try dir.definition(namespace: "default", name: "twice") }
        #expect(Set(dir.problems.map(\.file)) == ["laughs.yaml", "deep.yaml", "twice-b.yaml", "utf8.yaml"], "\(dir.problems.map(\.file))")
    }
}
