import Testing
@testable import SkeinModel

private func yaml(_ text: String) throws -> JSON { try YAML.parse(text) }
private func json(_ text: String) throws -> JSON { try JSON.parse(text) }

/// The line of the YAMLError `text` raises, or nil when it parses.
private func errorLine(_ text: String) -> Int? {
    do { _ = try YAML.parseAll(text); return nil } catch { return error.line }
}

private func errorMessage(_ text: String) -> String? {
    do { _ = try YAML.parseAll(text); return nil } catch { return error.message }
}

@Suite struct YAMLTests {
    // MARK: - Block collections

    @Test func blockMappingsAndSequences() throws {
        let v = try yaml("""
            # leading comment
            a: 1
            b:
              c: two   # trailing comment
              d:
                - x
                - y
            e: [1, 2]
            """)
        #expect(v == (try json(#"{"a":1,"b":{"c":"two","d":["x","y"]},"e":[1,2]}"#)))
    }

    @Test func sequenceAtTheKeysIndentAsKubectlWritesIt() throws {
        let v = try yaml("""
            containers:
            - name: a
              image: x
            - name: b
            restartPolicy: Never
            """)
        #expect(v == (try json(#"{"containers":[{"name":"a","image":"x"},{"name":"b"}],"restartPolicy":"Never"}"#)))
    }

    @Test func nestedCompactSequencesAndEmptyItems() throws {
        let v = try yaml("""
            - - a
              - b
            -
              k: v
            -
            - c
            """)
        #expect(v == (try json(#"[["a","b"],{"k":"v"},null,"c"]"#)))
    }

    @Test func emptyValuesAreNull() throws {
        let v = try yaml("a:\nb: \nc: # note\nd: ~\n")
        #expect(v == (try json(#"{"a":null,"b":null,"c":null,"d":null}"#)))
    }

    @Test func keysKeepTheirTextAndQuotedKeysWork() throws {
        let v = try yaml("1: one\n\"a b\": 2\n'k: v': 3\ntrue: t\n")
        #expect(v.object?.keys == ["1", "a b", "k: v", "true"])
        #expect(v["k: v"] == .number("3"))
    }

    @Test func urlsAndColonsInPlainScalars() throws {
        let v = try yaml("server: https://127.0.0.1:6443\nkey:value: x\nt: 10:30\n")
        #expect(v["server"]?.string == "https://127.0.0.1:6443")
        #expect(v["key:value"]?.string == "x")
        #expect(v["t"]?.string == "10:30")
    }

    @Test func multiLinePlainScalarsFold() throws {
        let v = try yaml("a: one\n  two\n\n  three\nb: x\n")
        #expect(v["a"]?.string == "one two\nthree")
        #expect(try yaml("- a\n  b\n") == .array([.string("a b")]))
    }

    @Test func crlfLineBreaks() throws {
        #expect(try yaml("a: 1\r\nb:\r\n  - x\r\n") == (try json(#"{"a":1,"b":["x"]}"#)))
    }

    // MARK: - Scalars

    @Test func quotedScalarsAndEscapes() throws {
        let v = try yaml(#"""
            s: 'it''s # not a comment'
            d: "tab\tnl\nq\"bs\\ \x41\u00e9\U0001F600 \/"
            e: ""
            """#)
        #expect(v["s"]?.string == "it's # not a comment")
        #expect(v["d"]?.string == "tab\tnl\nq\"bs\\ Aé😀 /")
        #expect(v["e"]?.string == "")
    }

    @Test func multiLineQuotedScalarsFold() throws {
        let v = try yaml("""
            a: 'one
              two

              three'
            b: "x \\
               y"
            """)
        #expect(v["a"]?.string == "one two\nthree")
        #expect(v["b"]?.string == "x y")
    }

    @Test func coreSchemaTyping() throws {
        let v = try yaml("""
            [null, Null, ~, true, False, TRUE, 1, -2, +3, 007, 0x1F, 0o17, 1.5, .5, -1., 1e3, 2.5E-2,
             yes, no, on, "1", '1', 1.2.3, 0x, 2024-01-01T00:00:00Z, -, +]
            """)
        #expect(v == (try json("""
            [null,null,null,true,false,true,1,-2,3,7,31,15,1.5,0.5,-1.0,1e3,2.5e-2,
             "yes","no","on","1","1","1.2.3","0x","2024-01-01T00:00:00Z","-","+"]
            """)))
    }

    @Test func infinityAndNaNAreRefused() {
        #expect(errorMessage("a: .inf")?.contains("cannot be represented") == true)
        #expect(errorLine("a: 1\nb: -.Inf") == 2)
        #expect(errorLine("a: .NaN") == 1)
        #expect(errorLine("a: '.nan'") == nil)
    }

    @Test func hexOutOfRange() {
        #expect(errorMessage("a: 0x1FFFFFFFFFFFFFFFF")?.contains("out of range") == true)
    }

    // MARK: - Block scalars

    @Test func literalBlockScalarsWithChomping() throws {
        let v = try yaml("""
            clip: |
              line 1
                indented

              line 3


            strip: |-
              a
              b

            keep: |+
              a

            last: x
            """)
        #expect(v["clip"]?.string == "line 1\n  indented\n\nline 3\n")
        #expect(v["strip"]?.string == "a\nb")
        #expect(v["keep"]?.string == "a\n\n")
        #expect(v["last"]?.string == "x")
    }

    @Test func foldedBlockScalars() throws {
        let v = try yaml("""
            f: >
              one
              two

              three
                more indented
              four
            g: >-
              x
              y
            """)
        #expect(v["f"]?.string == "one two\nthree\n  more indented\nfour\n")
        #expect(v["g"]?.string == "x y")
    }

    @Test func blockScalarHeadersAndEdges() throws {
        let v = try yaml("a: |2\n    x\n  y\nb: |\nc: >+\n  z\n")
        #expect(v["a"]?.string == "  x\ny\n")
        #expect(v["b"]?.string == "")
        #expect(v["c"]?.string == "z\n")
        #expect(try yaml("k: |\n  no final break") == .obj([("k", .string("no final break"))]))
        #expect(try yaml("- |\n  in a list\n- b") == .array([.string("in a list\n"), .string("b")]))
    }

    @Test func blockScalarJSONConfig() throws {
        let v = try yaml("""
            spec:
              config: |
                {"cniVersion": "0.3.1", "type": "bridge"}
            """)
        let config = try json(v["spec"]?["config"]?.string ?? "")
        #expect(config["type"]?.string == "bridge")
    }

    // MARK: - Flow collections

    @Test func flowCollectionsAndJSONSubset() throws {
        let text = #"{"a": [1, 2.5, "x", true, null, {"b": {}}], "c": []}"#
        #expect(try yaml(text) == (try json(text)))
        let v = try yaml("k: {a: 1, b: [x, 'y z'], c}\nl: [\n  a,  # comment\n  b,\n]\n")
        #expect(v == (try json(#"{"k":{"a":1,"b":["x","y z"],"c":null},"l":["a","b"]}"#)))
        #expect(try yaml("[http://x:80/a, a:b]") == (try json(#"["http://x:80/a","a:b"]"#)))
    }

    // MARK: - Documents

    @Test func documentStreams() throws {
        let docs = try YAML.parseAll("""
            ---
            a: 1
            ---
            # only a comment: skipped
            ---
            - b
            ...
            --- c
            """)
        #expect(docs == [try json(#"{"a":1}"#), try json(#"["b"]"#), .string("c")])
        #expect(try YAML.parseAll("") == [])
        #expect(try yaml("") == .null)
        #expect(try yaml("---\nx: 1\n") == (try json(#"{"x":1}"#)))
        do {
            _ = try YAML.parse("a: 1\n---\nb: 2\n")
            Issue.record("two documents accepted by parse")
        } catch {
            #expect(error.line == 3 && error.message.contains("found 2"))
        }
    }

    @Test func byteOrderMarkIsSkipped() throws {
        #expect(try yaml("\u{FEFF}a: 1") == (try json(#"{"a":1}"#)))
    }

    // MARK: - Errors and limits

    @Test(arguments: [
        ("a: &x 1\nb: *x\n", 1, "anchors"),
        ("a: 1\nb: *x\n", 2, "aliases"),
        ("a: !!str 1\n", 1, "tags"),
        ("%YAML 1.2\n---\na: 1\n", 1, "directives"),
        ("? a\n: b\n", 1, "explicit keys"),
        ("a: 1\na: 2\n", 2, "duplicate key"),
        ("{a: 1, a: 2}", 1, "duplicate key"),
        ("a: b: c\n", 1, "not allowed here"),
        ("a: 1\n  b: 2\n", 2, "not allowed here"),
        ("a:\n    b: 1\n  c: 2\n", 3, "bad indentation"),
        ("a:\n  - x\n  y: 1\n", 3, "bad indentation"),
        ("a: 1\nb\n", 2, "expected a mapping entry"),
        ("a:\n\t- x\n", 2, "tabs"),
        ("a: 'open\n", 1, "unterminated"),
        ("a: [1, 2\n", 1, "unterminated"),
        ("a: [\"x\" \"y\"]\n", 1, "expected ','"),
        ("a: [b: c]\n", 1, "expected ','"),
        ("a: \"\\q\"\n", 1, "invalid escape"),
        ("a: \"x\" y\n", 1, "unexpected text"),
        ("a: - x\n", 1, "block sequence"),
        ("  a: 1\nb: 2\n", 2, "bad indentation"),
        ("a: @x\n", 1, "reserved"),
        ("a: |x\n", 1, "block scalar header"),
    ] as [(String, Int, String)])
    func errorsCarryLineNumbers(_ text: String, _ line: Int, _ fragment: String) {
        do {
            _ = try YAML.parseAll(text)
            Issue.record("expected an error for \(text)")
        } catch {
            #expect(error.line == line, "\(text)")
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test func depthLimit() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(errorLine(ok) == nil)
        let deep = String(repeating: "[", count: 66) + String(repeating: "]", count: 66)
        #expect(errorMessage(deep)?.contains("nesting") == true)
        var block = ""
        for k in 0..<70 { block += String(repeating: " ", count: k) + "k:\n" }
        #expect(errorMessage(block)?.contains("nesting") == true)
        var list = ""
        for k in 0..<70 { list += String(repeating: " ", count: 2 * k) + "-\n" }
        #expect(errorMessage(list)?.contains("nesting") == true)
    }

    @Test func sizeLimit() {
        let big = "a: " + String(repeating: "x", count: YAML.maxBytes)
        #expect(errorMessage(big)?.contains("larger than") == true)
    }

    // MARK: - Real documents

    @Test func walkthroughNAD() throws {
        // Exactly as the Multus walkthrough applies it: a single-quoted JSON config over many lines.
        let nad = try yaml("""
            apiVersion: "k8s.cni.cncf.io/v1"
            kind: NetworkAttachmentDefinition
            metadata:
              name: macvlan-conf
            spec:
              config: '{
                  "cniVersion": "0.3.0",
                  "type": "macvlan",
                  "master": "enp0s9",
                  "mode": "bridge",
                  "ipam": {
                    "type": "host-local",
                    "subnet": "172.17.9.0/24",
                    "rangeStart": "172.17.9.240",
                    "rangeEnd": "172.17.9.250",
                    "routes": [
                      { "dst": "0.0.0.0/0" }
                    ],
                    "gateway": "172.17.9.1"
                  }
                }'
            """)
        #expect(nad["apiVersion"]?.string == "k8s.cni.cncf.io/v1")
        #expect(nad["kind"]?.string == "NetworkAttachmentDefinition")
        #expect(nad["metadata"]?["name"]?.string == "macvlan-conf")
        let config = try json(nad["spec"]?["config"]?.string ?? "")
        #expect(config["master"]?.string == "enp0s9")
        #expect(config["ipam"]?["routes"]?[0]?["dst"]?.string == "0.0.0.0/0")
        #expect(config["ipam"]?["gateway"]?.string == "172.17.9.1")
    }

    @Test func walkthroughPods() throws {
        let pods = try YAML.parseAll("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: net-pod
              annotations:
                k8s.v1.cni.cncf.io/networks: ipvlan-def
            spec:
              containers:
              - name: netshoot-pod
                image: nicolaka/netshoot
                command: ["tail"]
                args: ["-f", "/dev/null"]
              terminationGracePeriodSeconds: 0
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: net-pod2
              annotations:
                k8s.v1.cni.cncf.io/networks: ipvlan-def
            spec:
              containers:
              - name: netshoot-pod
                image: nicolaka/netshoot
                command: ["tail"]
                args: ["-f", "/dev/null"]
              terminationGracePeriodSeconds: 0
            """)
        #expect(pods.count == 2)
        #expect(pods.map { $0["metadata"]?["name"]?.string } == ["net-pod", "net-pod2"])
        #expect(pods[0]["metadata"]?["annotations"]?["k8s.v1.cni.cncf.io/networks"]?.string == "ipvlan-def")
        #expect(pods[1]["spec"]?["containers"]?[0]?["args"] == .array([.string("-f"), .string("/dev/null")]))
        #expect(pods[1]["spec"]?["terminationGracePeriodSeconds"]?.int == 0)
    }

    @Test func kubeconfigAsKubectlWritesIt() throws {
        let v = try yaml("""
            apiVersion: v1
            clusters:
            - cluster:
                certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
                server: https://127.0.0.1:6443
              name: kind-kind
            contexts:
            - context:
                cluster: kind-kind
                namespace: default
                user: kind-kind
              name: kind-kind
            current-context: kind-kind
            kind: Config
            preferences: {}
            users:
            - name: kind-kind
              user:
                client-certificate-data: LS0tLS1CRUdJTg==
                client-key-data: LS0tLS1CRUdJTiBSU0E=
                token: "abc.def"
            """)
        #expect(v["clusters"]?[0]?["cluster"]?["server"]?.string == "https://127.0.0.1:6443")
        #expect(v["clusters"]?[0]?["name"]?.string == "kind-kind")
        #expect(v["contexts"]?[0]?["context"]?["user"]?.string == "kind-kind")
        #expect(v["current-context"]?.string == "kind-kind")
        #expect(v["preferences"] == .obj([]))
        #expect(v["users"]?[0]?["user"]?["client-key-data"]?.string == "LS0tLS1CRUdJTiBSU0E=")
        #expect(v["users"]?[0]?["user"]?["token"]?.string == "abc.def")
    }

    @Test func serviceAccountKubeconfigWithBlockScalar() throws {
        // The shape Multus' daemonset writes for its own kubeconfig.
        let v = try yaml("""
            # Kubeconfig file for Multus CNI plugin.
            apiVersion: v1
            kind: Config
            clusters:
            - name: local
              cluster:
                server: https://[10.96.0.1]:443
                certificate-authority-data: |
                  LS0tLS1CRUdJTiBDRVJU
                  SUZJQ0FURS0tLS0tCg==
            users:
            - name: multus
              user:
                token: "eyJhbGciOi"
            contexts:
            - name: multus-context
              context:
                cluster: local
                user: multus
            current-context: multus-context
            """)
        #expect(v["clusters"]?[0]?["cluster"]?["server"]?.string == "https://[10.96.0.1]:443")
        #expect(v["clusters"]?[0]?["cluster"]?["certificate-authority-data"]?.string == "LS0tLS1CRUdJTiBDRVJU\nSUZJQ0FURS0tLS0tCg==\n")
        #expect(v["contexts"]?[0]?["context"]?["cluster"]?.string == "local")
    }

    // MARK: - Robustness

    /// Mutated Kubernetes documents either parse or fail with a YAMLError; none may crash or hang.
    @Test func mutatedDocumentsNeverCrash() {
        let seeds = [
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations:\n    k: 'v\n      w'\nspec:\n  containers:\n  - name: c\n    args: [\"-f\", x]\n    env: {a: 1, b: [2]}\n",
            "a: |-\n  x\n   y\nb: >\n  z\n---\n- \"q\\n\"\n- - 1\n  - {k: v}\n",
        ]
        let alphabet = Array(" \n\t-:#'\"|>{}[],?&*!%@`\\.0aZ~".utf8)
        var state: UInt64 = 0x9E3779B97F4A7C15
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        var parsed = 0, failed = 0
        for _ in 0..<3000 {
            var bytes = Array(seeds[next(seeds.count)].utf8)
            for _ in 0...next(4) {
                let at = next(bytes.count)
                switch next(3) {
                case 0: bytes[at] = alphabet[next(alphabet.count)]
                case 1: bytes.insert(alphabet[next(alphabet.count)], at: at)
                default: bytes.remove(at: at)
                }
            }
            do { _ = try YAML.parseAll(String(decoding: bytes, as: UTF8.self)); parsed += 1 } catch { failed += 1 }
        }
        #expect(parsed > 0 && failed > 0)
    }
}
