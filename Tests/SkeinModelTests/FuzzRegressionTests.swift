import Testing
@testable import SkeinModel

// Regression inputs for the model's parsers from fuzzing (tools/fuzz: libFuzzer, 1,000,000
// executions per parser in the documented run, which found no crash and no violated property)
// and from the hostile-input catalogue (Tests/SkeinIntegrationTests/Hostile), at the parser level
// so they run without root. They pin the limits the fuzz properties are about — JSON depth exactly
// at 64, duplicate keys on both sides of the 16-key switch to a set, every class of malformed
// UTF-8 — and inputs the fuzzer reached that a change could break. A crash input found later goes
// here as its bytes, next to the property it broke.

@Suite("Fuzz regressions: JSON and YAML at their limits")
struct DocumentFuzzRegressionTests {
    static func arrays(_ n: Int, around inner: String = "") -> [UInt8] {
        Array((String(repeating: "[", count: n) + inner + String(repeating: "]", count: n)).utf8)
    }

    /// The top value is at depth 0; a value at depth 65 is refused, whatever it is.
    @Test func depthLimitIsExact() {
        #expect((try? JSON.parse(Self.arrays(65))) != nil, "65 nested arrays: the innermost is at depth 64")
        #expect((try? JSON.parse(Self.arrays(64, around: "1"))) != nil, "a scalar at depth 64")
        for refused in [Self.arrays(66), Self.arrays(65, around: "1"), Self.arrays(100_000), Array(repeating: UInt8(ascii: "["), count: 100_000)] {
            #expect(throws: JSONError.self) { try JSON.parse(refused) }
        }
        let deepObject = String(repeating: "{\"a\":", count: 65) + "0" + String(repeating: "}", count: 65)
        #expect(throws: JSONError.self) { try JSON.parse(deepObject) }
    }

    /// Objects switch from a linear scan to a set at 16 keys: a duplicate is found on both sides.
    @Test(arguments: [2, 15, 16, 17, 40])
    func duplicateKeyAfterNKeys(_ n: Int) {
        let keys = (0..<n).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect((try? JSON.parse("{\(keys)}")) != nil)
        #expect(throws: JSONError.self) { try JSON.parse("{\(keys),\"k0\":0}") }
        #expect(throws: JSONError.self) { try JSON.parse("{\"a\":[{\(keys),\"k\(n - 1)\":0}]}") }
    }

    /// Overlong, surrogate, out-of-range, truncated, stray continuation, a BOM, a raw NUL or control byte.
    @Test(arguments: [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80], [0x00], [0x01]] as [[UInt8]])
    func malformedBytesInAStringAreRefused(_ bad: [UInt8]) {
        #expect(throws: JSONError.self) { try JSON.parse(Array("{\"type\":\"..".utf8) + bad + Array("sh\"}".utf8)) }
    }

    @Test func bytesOutsideStringsAreRefused() {
        #expect(throws: JSONError.self) { try JSON.parse([0xEF, 0xBB, 0xBF] + Array("{}".utf8)) }
        #expect(throws: JSONError.self) { try JSON.parse(Array("{\"a\":1,".utf8) + [0x80] + Array("\"b\":2}".utf8)) }
        #expect(throws: JSONError.self) { try JSON.parse(Array("{\"a\":1}".utf8) + [0x00]) }
    }

    @Test(arguments: ["\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud83d\"", "\"\\uD800\\uD800\"", "\"\\u12\"", "\"\\x41\""])
    func brokenEscapesAreRefused(_ text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
    }

    /// The fuzz property for every accepted document: serialization reads back as the same value.
    @Test func awkwardStringsRoundTrip() throws {
        let text = #"{"s":"\u0000\u001f\u007f\u2028\u2029 \ud83d\ude00 \" \\ \/ é","n":[-0,0.5,1E-7,23e99999,123456789012345678901234567890]}"#
        let v = try JSON.parse(text)
        let bytes = v.serializedBytes()
        #expect(!bytes.contains { $0 < 0x20 }, "raw control byte in \(String(decoding: bytes, as: UTF8.self))")
        #expect(try JSON.parse(bytes) == v)
        #expect(try JSON.parse(bytes).serializedBytes() == bytes)
        #expect(v["n"]?[3] == .number("23e99999") && v["n"]?[3]?.int == nil)
    }

    /// The exact bytes of string escaping (events are hashed, so they must never change): quote,
    /// backslash, \n \r \t, other controls as \u00XX lowercase, everything else (DEL, U+2028,
    /// non-ASCII) as is; runs around the escapes are copied whole.
    @Test func stringEscapingBytesAreFixed() {
        let s = "a\"b\\c\nd\re\tf\u{0}\u{1f}\u{7f}é\u{2028}end"
        let want = #""a\"b\\c\nd\re\tf\u0000\u001f"# + "\u{7f}é\u{2028}end\""
        #expect(String(decoding: JSON.string(s).serializedBytes(), as: UTF8.self) == want)
        #expect(JSON.string("").serializedBytes() == Array("\"\"".utf8))
        #expect(JSON.string("\u{1}").serializedBytes() == Array(#""\u0001""#.utf8))
    }

    /// From the YAML corpus: a number text beyond Double's range stays number text that JSON reads back.
    @Test func yamlHugeExponentIsJSONNumberText() throws {
        let v = try YAML.parse("a: 23e99999\nb: 99991e399999999999999999790009999999999\n")
        #expect(v["a"] == .number("23e99999"))
        #expect(try JSON.parse(v.serializedBytes()) == v)
    }

    /// From the YAML corpus: a key repeated after a nested mapping is refused, not silently overridden.
    @Test func yamlDuplicateKeyAfterANestedMapping() {
        let text = "apiVersion: v1\nkind: Config\nclusteps:\n- clusers:\n- name: skein\n  user:\n    ein}\n  nama: sken\n  user:\n "
        #expect(throws: YAMLError.self) { try YAML.parseAll(text) }
    }

    @Test func yamlDeepFlowNestingIsRefused() {
        for text in ["x: " + String(repeating: "[", count: 100_000), "x: " + String(repeating: "[", count: 66) + String(repeating: "]", count: 66)] {
            #expect(throws: YAMLError.self) { try YAML.parseAll(text) }
        }
    }
}

@Suite("Fuzz regressions: the CNI request and the skein config")
struct RequestFuzzRegressionTests {
    static let env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "hostile", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0"]
    static let config = Array(#"{"cniVersion":"1.0.0","name":"n","type":"skein","delegates":[{"type":"bridge"}]}"#.utf8)

    static func code(_ overrides: [String: String?], stdin: [UInt8] = config) -> Int? {
        var env = Self.env
        for (k, v) in overrides { env[k] = v }
        do { _ = try CNIRequest.parse(env: env, stdin: stdin); return nil } catch { return error.code }
    }

    /// The catalogue's environment cases: every one is code 4, before anything else is read.
    @Test(arguments: [
        ["CNI_IFNAME": "../x"], ["CNI_IFNAME": "a/b"], ["CNI_IFNAME": "abcdefghijklmnop"], ["CNI_IFNAME": ""], ["CNI_IFNAME": "."],
        ["CNI_IFNAME": ".."], ["CNI_IFNAME": "eth0:1"], ["CNI_IFNAME": "et h0"], ["CNI_IFNAME": "eth\t0"], ["CNI_IFNAME": "ééééééééé"],
        ["CNI_IFNAME": "\u{A0}"], ["CNI_CONTAINERID": "../etc"], ["CNI_CONTAINERID": "a/b"], ["CNI_CONTAINERID": "\u{1}ctl"],
        ["CNI_CONTAINERID": "a%00b"], ["CNI_CONTAINERID": "контейнер"], ["CNI_CONTAINERID": "-dash"], ["CNI_CONTAINERID": ".hidden"],
        ["CNI_CONTAINERID": String(repeating: "a", count: 254)], ["CNI_CONTAINERID": String(repeating: "a", count: 100_000)],
        ["CNI_CONTAINERID": ""], ["CNI_NETNS": "var/run/netns/x"], ["CNI_NETNS": "/" + String(repeating: "n", count: 5000)],
        ["CNI_NETNS": ""], ["CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME"], ["CNI_ARGS": "=x"], ["CNI_ARGS": "A=B=C"],
        ["CNI_ARGS": "SKEIN_NETWORKS=a=b"], ["CNI_COMMAND": "add"], ["CNI_COMMAND": "ADD; rm -rf /"],
    ] as [[String: String?]])
    func hostileEnvironmentIsCode4(_ overrides: [String: String?]) {
        #expect(Self.code(overrides) == 4, "\(overrides)")
    }

    @Test func hostileStdinIsCode6() {
        for stdin in [[], Array("\"n\"".utf8), [0xEF, 0xBB, 0xBF] + Self.config, Array(Self.config.dropLast()) + Array(",\"name\":\"m\"}".utf8),
                      Array(#"{"cniVersion":"1.0.0","name":5}"#.utf8), Array(#"{"cniVersion":1.0,"name":"n"}"#.utf8),
                      Array(repeating: UInt8(ascii: " "), count: (1 << 20) + 1)] {
            #expect(Self.code([:], stdin: stdin) == 6, "\(String(decoding: stdin.prefix(80), as: UTF8.self))")
        }
    }

    static func configCode(_ keys: String, name: String = #""n""#, delegate: String = #"{"type":"bridge"}"#) -> Int? {
        let text = #"{"cniVersion":"1.0.0","name":"# + name + #","type":"skein","delegates":["# + delegate + "]" + keys + "}"
        do { _ = try SkeinConfig.parse(JSON.parse(text)); return nil } catch let e as CNIError { return e.code } catch { return -1 }
    }

    /// Plugin types and paths that would leave CNI_PATH or the state directory: refused as config errors.
    @Test(arguments: [#""../../bin/sh""#, #""/bin/sh""#, #""a/b""#, #""..""#, #"".""#, #""""#, #""canary\u0000x""#, "5"])
    func delegateTypeOutsideCNIPath(_ type: String) {
        #expect(Self.configCode("", delegate: #"{"type":"# + type + "}") == 7)
        #expect(Self.configCode("", delegate: #"{"plugins":[{"type":"bridge"},{"type":"# + type + "}]}") == 7)
    }

    @Test(arguments: [#","stateDir":"relative""#, #","stateDir":"/a/../b""#, #","stateDir":"/a/b/..""#, #","stateDir":"/x\u0000y""#,
                      #","stateDir":"""#, #","stateDir":5"#, #","nadDir":"/n\u0000x""#, #","logFile":"/l\u0000x""#,
                      #","execTypes":["../x"]"#, #","execTypes":"bridge""#, #","namespaceIsolation":"yes""#, #","logLevel":3"#,
                      #","runtimeConfig":[]"#, #","clusterNetwork":"good-net""#])
    func hostileConfigKeysAreCode7(_ keys: String) {
        #expect(Self.configCode(keys) == 7, "\(keys)")
    }

    @Test(arguments: [#""../x""#, #""a\u0000b""#, #""""#, "\"" + String(repeating: "n", count: 254) + "\""])
    func hostileNetworkNameIsCode7(_ name: String) {
        #expect(Self.configCode("", name: name) == 7, "\(name.prefix(20))")
    }

    /// Tuning sysctls stay under net/ and on the attachment's own interface (or all/default).
    @Test func sysctlKeysOutsideThePod() throws {
        for key in ["kernel.panic", "../../x", "net/../../kernel/panic", "net..ipv4", "net.ipv4.conf.lo.forwarding",
                    "net.ipv4.neigh.cni0.gc_stale_time", "vm.overcommit_memory", "net", "net.", ".net.core"] {
            #expect(throws: CNIError.self) { try TuningConfig.sysctlPath(key, ifname: "eth0") }
        }
        #expect(try TuningConfig.sysctlPath("net.ipv4.conf.IFNAME.forwarding", ifname: "eth0") == "net/ipv4/conf/eth0/forwarding")
        #expect(try TuningConfig.sysctlPath("net.ipv6.conf.all.forwarding", ifname: "eth0") == "net/ipv6/conf/all/forwarding")
        #expect(try TuningConfig.sysctlPath("net.core.somaxconn", ifname: "eth0") == "net/core/somaxconn")
    }
}
