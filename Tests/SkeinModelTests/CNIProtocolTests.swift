import Testing
@testable import SkeinModel

// MARK: - Fixtures

private let baseConfig = #"{"cniVersion":"1.1.0","name":"net1","type":"skein"}"#

private func env(_ command: String?, _ changes: [String: String?] = [:]) -> [String: String] {
    var e: [String: String] = [
        "CNI_CONTAINERID": "abc123", "CNI_NETNS": "/var/run/netns/pod1",
        "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin:/usr/lib/cni",
    ]
    if let command { e["CNI_COMMAND"] = command }
    for (k, v) in changes { e[k] = v }
    return e
}

/// The CNI error code thrown by `body`, or nil when it succeeded.
private func code<T>(_ body: () throws(CNIError) -> T) -> Int? {
    do { _ = try body(); return nil } catch { return error.code }
}

struct RequestCase: Sendable, CustomTestStringConvertible {
    let label: String
    let env: [String: String]
    let stdin: String
    let code: Int?
    var testDescription: String { label }

    init(_ label: String, _ env: [String: String], stdin: String = baseConfig, code: Int?) {
        self.label = label; self.env = env; self.stdin = stdin; self.code = code
    }
}

private let requestCases: [RequestCase] = [
    RequestCase("missing CNI_COMMAND", env(nil), code: 4),
    RequestCase("empty CNI_COMMAND", env(""), code: 4),
    RequestCase("unknown command", env("FOO"), code: 4),
    RequestCase("lower-case command", env("add"), code: 4),
    RequestCase("ADD ok", env("ADD"), code: nil),
    RequestCase("ADD without container id", env("ADD", ["CNI_CONTAINERID": nil]), code: 4),
    RequestCase("ADD with empty container id", env("ADD", ["CNI_CONTAINERID": ""]), code: 4),
    RequestCase("ADD without netns", env("ADD", ["CNI_NETNS": nil]), code: 4),
    RequestCase("CHECK without netns", env("CHECK", ["CNI_NETNS": nil]), code: 4),
    RequestCase("DEL without netns", env("DEL", ["CNI_NETNS": nil]), code: nil),
    RequestCase("DEL with empty netns", env("DEL", ["CNI_NETNS": ""]), code: nil),
    RequestCase("DEL without ifname", env("DEL", ["CNI_IFNAME": nil]), code: 4),
    RequestCase("ADD without CNI_PATH (spec: optional)", env("ADD", ["CNI_PATH": nil]), code: nil),
    RequestCase("ifname of 15 bytes", env("ADD", ["CNI_IFNAME": "abcdefghijklmno"]), code: nil),
    RequestCase("ifname of 16 bytes", env("ADD", ["CNI_IFNAME": "abcdefghijklmnop"]), code: 4),
    RequestCase("ifname of 8 chars but 16 bytes", env("ADD", ["CNI_IFNAME": "éééééééé"]), code: 4),
    RequestCase("ifname with /", env("ADD", ["CNI_IFNAME": "eth/0"]), code: 4),
    RequestCase("ifname with :", env("ADD", ["CNI_IFNAME": "eth0:1"]), code: 4),
    RequestCase("ifname with space", env("ADD", ["CNI_IFNAME": "eth 0"]), code: 4),
    RequestCase("ifname with tab", env("ADD", ["CNI_IFNAME": "eth\t0"]), code: 4),
    RequestCase("ifname .", env("ADD", ["CNI_IFNAME": "."]), code: 4),
    RequestCase("ifname ..", env("ADD", ["CNI_IFNAME": ".."]), code: 4),
    RequestCase("container id ../x", env("ADD", ["CNI_CONTAINERID": "../etc"]), code: 4),
    RequestCase("container id with /", env("ADD", ["CNI_CONTAINERID": "abc/def"]), code: 4),
    RequestCase("container id starting with -", env("ADD", ["CNI_CONTAINERID": "-abc"]), code: 4),
    RequestCase("container id with _.-", env("ADD", ["CNI_CONTAINERID": "a_b.c-d"]), code: nil),
    RequestCase("netns relative", env("ADD", ["CNI_NETNS": "var/run/netns/pod1"]), code: 4),
    RequestCase("netns with NUL", env("ADD", ["CNI_NETNS": "/var/run/netns/\u{0}x"]), code: 4),
    RequestCase("netns of 4097 bytes", env("ADD", ["CNI_NETNS": "/" + String(repeating: "a", count: 4096)]), code: 4),
    RequestCase("netns of 4096 bytes", env("ADD", ["CNI_NETNS": "/" + String(repeating: "a", count: 4095)]), code: nil),
    RequestCase("GC without container id, netns, ifname", env("GC", ["CNI_CONTAINERID": nil, "CNI_NETNS": nil, "CNI_IFNAME": nil]), code: nil),
    RequestCase("GC without CNI_PATH", env("GC", ["CNI_PATH": nil]), code: 4),
    RequestCase("STATUS with only the command", ["CNI_COMMAND": "STATUS"], code: nil),
    RequestCase("VERSION with only the command", ["CNI_COMMAND": "VERSION"], stdin: "", code: nil),
    RequestCase("VERSION with garbage stdin", ["CNI_COMMAND": "VERSION"], stdin: "}{", code: nil),
    RequestCase("CNI_ARGS without =", env("ADD", ["CNI_ARGS": "FOO"]), code: 4),
    RequestCase("CNI_ARGS trailing ;", env("ADD", ["CNI_ARGS": "A=B;"]), code: 4),
    RequestCase("CNI_ARGS empty key", env("ADD", ["CNI_ARGS": "=B"]), code: 4),
    RequestCase("CNI_ARGS two =", env("ADD", ["CNI_ARGS": "A=B=C"]), code: 4),
    RequestCase("non-JSON stdin", env("ADD"), stdin: "not json", code: 6),
    RequestCase("empty stdin", env("ADD"), stdin: "", code: 6),
    RequestCase("config not an object", env("ADD"), stdin: #"["cniVersion"]"#, code: 6),
    RequestCase("unknown cniVersion 9.9.9", env("ADD"), stdin: #"{"cniVersion":"9.9.9","name":"n"}"#, code: 1),
    RequestCase("cniVersion 0.2.0", env("ADD"), stdin: #"{"cniVersion":"0.2.0","name":"n"}"#, code: 1),
    RequestCase("cniVersion missing (reads as 0.1.0)", env("ADD"), stdin: #"{"name":"n"}"#, code: 1),
    RequestCase("cniVersion a number", env("ADD"), stdin: #"{"cniVersion":1,"name":"n"}"#, code: 6),
    RequestCase("name missing", env("ADD"), stdin: #"{"cniVersion":"1.0.0"}"#, code: 7),
    RequestCase("name with /", env("ADD"), stdin: #"{"cniVersion":"1.0.0","name":"a/b"}"#, code: 7),
    RequestCase("CHECK on 0.3.1", env("CHECK"), stdin: #"{"cniVersion":"0.3.1","name":"n"}"#, code: 1),
    RequestCase("CHECK on 0.4.0", env("CHECK"), stdin: #"{"cniVersion":"0.4.0","name":"n"}"#, code: nil),
    RequestCase("GC on 1.0.0", env("GC"), stdin: #"{"cniVersion":"1.0.0","name":"n"}"#, code: 1),
    RequestCase("STATUS on 0.4.0", env("STATUS"), stdin: #"{"cniVersion":"0.4.0","name":"n"}"#, code: 1),
    RequestCase("env error wins over stdin error", env("ADD", ["CNI_IFNAME": nil]), stdin: "junk", code: 4),
]

// MARK: - Request parsing

@Suite struct CNIProtocolTests {
    @Test(arguments: requestCases)
    func requestRules(_ c: RequestCase) {
        #expect(code { () throws(CNIError) in try CNIRequest.parse(env: c.env, stdin: Array(c.stdin.utf8)) } == c.code)
    }

    @Test func addRequestFields() throws {
        let r = try CNIRequest.parse(env: env("ADD", ["CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0"]),
                                     stdin: Array(baseConfig.utf8))
        #expect(r.command == .add)
        #expect(r.containerID?.value == "abc123")
        #expect(r.netns == "/var/run/netns/pod1")
        #expect(r.ifname?.value == "eth0")
        #expect(r.path == ["/opt/cni/bin", "/usr/lib/cni"])
        #expect(r.cniVersion == "1.1.0")
        #expect(r.config["name"]?.string == "net1")
        #expect(r.rawConfig == Array(baseConfig.utf8))
        #expect(r.args.map(\.key) == ["IgnoreUnknown", "K8S_POD_NAMESPACE", "K8S_POD_NAME"])
        #expect(r.arg("K8S_POD_NAME") == "web-0")
        #expect(r.arg("K8S_POD_UID") == nil)
    }

    @Test func argsKeepOrderEmptyValuesAndRepeats() throws {
        let args = try EnvFields.parseArgs("B=2;A=;B=3")
        #expect(args.map(\.key) == ["B", "A", "B"])
        #expect(args.map(\.value) == ["2", "", "3"])
        let r = try CNIRequest.parse(env: env("ADD", ["CNI_ARGS": "B=2;A=;B=3"]), stdin: Array(baseConfig.utf8))
        #expect(r.arg("B") == "2")
    }

    @Test func delWithoutNetnsHasNilNetns() throws {
        let r = try CNIRequest.parse(env: env("DEL", ["CNI_NETNS": nil]), stdin: Array(baseConfig.utf8))
        #expect(r.netns == nil)
        #expect(r.ifname?.value == "eth0")
    }

    @Test func gcIgnoresAttachmentVariables() throws {
        let r = try CNIRequest.parse(env: env("GC", ["CNI_IFNAME": "bad/name"]), stdin: Array(baseConfig.utf8))
        #expect(r.command == .gc && r.containerID == nil && r.ifname == nil && r.netns == nil)
    }

    @Test func oversizedStdinIsCode6AndNotParsed() {
        let big = Array(#"{"cniVersion":"1.1.0","name":"n","pad":""#.utf8) + [UInt8](repeating: 0x61, count: 200) + Array(#""}"#.utf8)
        let e = env("ADD")
        #expect(code { () throws(CNIError) in try CNIRequest.parse(env: e, stdin: big, maxStdinBytes: 100) } == 6)
        #expect(code { () throws(CNIError) in try CNIRequest.parse(env: e, stdin: big, maxStdinBytes: big.count) } == nil)
        #expect(code { () throws(CNIError) in try CNIRequest.parse(env: e, stdin: [UInt8](repeating: 0x20, count: (1 << 20) + 1)) } == 6)
    }

    @Test func unknownVersionNamesBothSides() {
        do {
            _ = try CNIRequest.parse(env: env("ADD"), stdin: Array(#"{"cniVersion":"9.9.9","name":"n"}"#.utf8))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == 1)
            #expect(error.details.contains("9.9.9") && error.details.contains("1.1.0"))
        }
    }

    @Test func versionRequestEchoesAskedVersion() throws {
        let r = try CNIRequest.parse(env: ["CNI_COMMAND": "VERSION"], stdin: Array(#"{"cniVersion":"0.4.0"}"#.utf8))
        #expect(r.cniVersion == "0.4.0")
        #expect(CNIVersion.versionResult(requested: r.cniVersion).serialized()
                == #"{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"#)
        #expect(CNIVersion.versionResult(requested: nil)["cniVersion"]?.string == "1.1.0")
    }

    // MARK: - Versions

    @Test func versionParsingAndHelpers() {
        #expect(CNIVersion("1.1.0") == CNIVersion(1, 1, 0))
        #expect(CNIVersion("1.1") == nil && CNIVersion("v1.1.0") == nil && CNIVersion("1.1.0.0") == nil && CNIVersion("1.-1.0") == nil)
        #expect(CNIVersion(0, 3, 1) < CNIVersion(0, 4, 0) && CNIVersion(0, 10, 0) > CNIVersion(0, 4, 0))
        #expect(!CNIVersion(0, 3, 1).allowsCheck && CNIVersion(0, 4, 0).allowsCheck)
        #expect(!CNIVersion(1, 0, 0).allowsGCAndStatus && CNIVersion(1, 1, 0).allowsGCAndStatus)
    }

    @Test(arguments: [
        (#"{"cniVersion":"0.4.0","cniVersions":["1.0.0","1.1.0","2.0.0"]}"#, "1.1.0"),
        (#"{"cniVersions":["0.3.1","9.9.9"]}"#, "0.3.1"),
        (#"{"cniVersion":"1.1.0","cniVersions":["0.3.1"]}"#, "1.1.0"),
        (#"{"cniVersion":"1.0.0"}"#, "1.0.0"),
    ])
    func cniVersionsPicksHighestSupported(_ config: String, _ expected: String) throws {
        #expect(try CNIVersion.resolve(config: JSON.parse(config)).description == expected)
    }

    @Test func cniVersionsErrors() throws {
        #expect(code { () throws(CNIError) in try CNIVersion.resolve(config: try! JSON.parse(#"{"cniVersions":["9.9.9","0.2.0"]}"#)) } == 1)
        #expect(code { () throws(CNIError) in try CNIVersion.resolve(config: try! JSON.parse(#"{"cniVersions":"1.1.0"}"#)) } == 7)
        #expect(code { () throws(CNIError) in try CNIVersion.resolve(config: try! JSON.parse(#"{"cniVersions":[1]}"#)) } == 7)
    }

    // MARK: - Errors

    @Test func errorJSON() {
        #expect(CNIError.invalidConfig("bad", details: "why").json(version: "1.1.0").serialized()
                == #"{"cniVersion":"1.1.0","code":7,"msg":"bad","details":"why"}"#)
        #expect(CNIError.tryAgainLater("busy").json(version: "0.4.0").serialized()
                == #"{"cniVersion":"0.4.0","code":11,"msg":"busy"}"#)
        let codes = [CNIError.incompatibleVersion(""), .unsupportedField(""), .unknownContainer(""), .invalidEnvironment(""),
                     .ioFailure(""), .decodingFailure(""), .invalidConfig(""), .tryAgainLater(""), .notAvailable(""),
                     .notAvailableLimitedConnectivity("")].map(\.code)
        #expect(codes == [1, 2, 3, 4, 5, 6, 7, 11, 50, 51])
    }

    @Test func identifierCodesMatchReference() {
        #expect(code { () throws(CNIError) in try ContainerID(validating: "") } == 3)
        #expect(code { () throws(CNIError) in try ContainerID(validating: "a b") } == 4)
        #expect(code { () throws(CNIError) in try InterfaceName(validating: "") } == 4)
        #expect(InterfaceName("eth0") != nil && InterfaceName("net1\u{A0}") == nil)
    }

    // MARK: - Results

    static let sample = CNIResult(
        interfaces: [
            .init(name: "cni0", mac: "0a:58:0a:01:00:01"),
            .init(name: "eth0", mac: "0a:58:0a:01:00:05", mtu: 1450, sandbox: "/var/run/netns/pod1",
                  socketPath: "/run/vhost.sock", pciID: "0000:00:1f.6"),
        ],
        ips: [
            .init(address: IPNetwork("10.1.0.5/16")!, gateway: IPAddress("10.1.0.1"), interface: 1),
            .init(address: IPNetwork("fd00::5/64")!, gateway: IPAddress("fd00::1"), interface: 1),
        ],
        routes: [
            .init(dst: IPNetwork("0.0.0.0/0")!, gw: IPAddress("10.1.0.1"), mtu: 1400, advmss: 1360, priority: 100, table: 100, scope: 0),
            .init(dst: IPNetwork("fd00:1::/64")!),
        ],
        dns: .init(nameservers: ["10.1.0.1"], domain: "cluster.local", search: ["default.svc.cluster.local"], options: ["ndots:5"]))

    static let dnsJSON = #""dns":{"nameservers":["10.1.0.1"],"domain":"cluster.local","search":["default.svc.cluster.local"],"options":["ndots:5"]}"#
    static let oldInterfaces = #""interfaces":[{"name":"cni0","mac":"0a:58:0a:01:00:01"},{"name":"eth0","mac":"0a:58:0a:01:00:05","sandbox":"/var/run/netns/pod1"}]"#
    static let oldIPs = #""ips":[{"version":"4","interface":1,"address":"10.1.0.5/16","gateway":"10.1.0.1"},{"version":"6","interface":1,"address":"fd00::5/64","gateway":"fd00::1"}]"#
    static let plainRoutes = #""routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"fd00:1::/64"}]"#
    static let newIPs = #""ips":[{"interface":1,"address":"10.1.0.5/16","gateway":"10.1.0.1"},{"interface":1,"address":"fd00::5/64","gateway":"fd00::1"}]"#

    static let golden: [(String, String)] = [
        ("0.3.1", #"{"cniVersion":"0.3.1","# + oldInterfaces + "," + oldIPs + "," + plainRoutes + "," + dnsJSON + "}"),
        ("0.4.0", #"{"cniVersion":"0.4.0","# + oldInterfaces + "," + oldIPs + "," + plainRoutes + "," + dnsJSON + "}"),
        ("1.0.0", #"{"cniVersion":"1.0.0","# + oldInterfaces + "," + newIPs + "," + plainRoutes + "," + dnsJSON + "}"),
        ("1.1.0", #"{"cniVersion":"1.1.0","interfaces":[{"name":"cni0","mac":"0a:58:0a:01:00:01"},"#
            + #"{"name":"eth0","mac":"0a:58:0a:01:00:05","mtu":1450,"sandbox":"/var/run/netns/pod1","socketPath":"/run/vhost.sock","pciID":"0000:00:1f.6"}],"#
            + newIPs + #","routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1","mtu":1400,"advmss":1360,"priority":100,"table":100,"scope":0},{"dst":"fd00:1::/64"}],"#
            + dnsJSON + "}"),
    ]

    @Test func resultGoldenPerVersion() {
        for (version, expected) in Self.golden {
            #expect(Self.sample.json(version: version).serialized() == expected, "version \(version)")
        }
    }

    @Test func resultRoundTripPerVersion() throws {
        for (version, text) in Self.golden {
            let parsed = try CNIResult.parse(JSON.parse(text))
            #expect(parsed.json(version: version).serialized() == text, "version \(version)")
        }
        #expect(try CNIResult.parse(JSON.parse(Self.golden[3].1)) == Self.sample)
        // Older shapes carry no extras: the parse of 0.4.0 is the sample without them.
        var stripped = Self.sample
        stripped.interfaces[1].mtu = nil; stripped.interfaces[1].socketPath = nil; stripped.interfaces[1].pciID = nil
        stripped.routes[0] = .init(dst: IPNetwork("0.0.0.0/0")!, gw: IPAddress("10.1.0.1"))
        #expect(try CNIResult.parse(JSON.parse(Self.golden[1].1)) == stripped)
    }

    @Test func emptyResultDNSPerVersion() {
        #expect(CNIResult().json(version: "0.3.0").serialized() == #"{"cniVersion":"0.3.0","dns":{}}"#)
        #expect(CNIResult().json(version: "1.0.0").serialized() == #"{"cniVersion":"1.0.0"}"#)
        #expect(CNIResult().json(version: "1.1.0").serialized() == #"{"cniVersion":"1.1.0"}"#)
    }

    @Test func resultKeepsHostBitsAndInterfaceZero() throws {
        let r = try CNIResult.parse(JSON.parse(#"{"ips":[{"address":"192.168.1.77/24","interface":0}]}"#))
        #expect(r.ips[0].address.description == "192.168.1.77/24")
        #expect(r.json(version: "1.0.0").serialized() == #"{"cniVersion":"1.0.0","ips":[{"interface":0,"address":"192.168.1.77/24"}]}"#)
    }

    @Test(arguments: [
        (#"[]"#, 6),
        (#"{"ips":[{"address":"10.0.0.1"}]}"#, 6),
        (#"{"ips":[{"address":"10.0.0.1/24","gateway":"nope"}]}"#, 6),
        (#"{"ips":{}}"#, 6),
        (#"{"interfaces":[{"mac":"x"}]}"#, 6),
        (#"{"routes":[{"dst":"0.0.0.0/0","mtu":"1500"}]}"#, 6),
        (#"{"cniVersion":"0.2.0","ip4":{}}"#, 1),
    ])
    func resultParseErrors(_ text: String, _ expected: Int) throws {
        let json = try JSON.parse(text)
        #expect(code { () throws(CNIError) in try CNIResult.parse(json) } == expected)
    }

    // MARK: - GC

    @Test func gcUnionOfBothKeys() throws {
        let config = try JSON.parse(#"""
            {"cniVersion":"1.1.0","name":"n",
             "cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"},{"containerID":"c2","ifname":"net1"}],
             "cni.dev/attachments":[{"containerID":"c1","ifname":"eth0"},{"containerID":"c3","ifname":"eth0"}]}
            """#)
        let set = try #require(try GCRequest.parse(config).validAttachments)
        let pairs = Set(set.map { "\($0.containerID)/\($0.ifname)" })
        #expect(pairs == ["c1/eth0", "c2/net1", "c3/eth0"])
        let onlyOld = try GCRequest.parse(JSON.parse(#"{"cni.dev/attachments":[{"containerID":"c9","ifname":"eth0"}]}"#))
        #expect(onlyOld.validAttachments?.count == 1)
    }

    @Test func gcWithoutListIsNilNotEmpty() throws {
        #expect(try GCRequest.parse(JSON.parse(#"{"name":"n"}"#)).validAttachments == nil)
        #expect(try GCRequest.parse(JSON.parse(#"{"cni.dev/valid-attachments":[]}"#)).validAttachments == [])
    }

    @Test func gcMalformedFailsClosed() throws {
        let bad = [#"{"cni.dev/valid-attachments":{}}"#, #"{"cni.dev/valid-attachments":[{"containerID":"c1"}]}"#,
                   #"{"cni.dev/attachments":[{"containerID":"../x","ifname":"eth0"}]}"#]
        let codes = try bad.map { text in let j = try JSON.parse(text); return code { () throws(CNIError) in try GCRequest.parse(j) } }
        #expect(codes == [6, 6, 7])
    }
}
