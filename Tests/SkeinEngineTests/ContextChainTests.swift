import Testing
import SkeinModel
@testable import SkeinEngine

// The delegate as a chain: which plugins run built in, the exec-related config keys, what an
// exec'ed plugin is sent, and what the built-in CHECK still holds once exec'ed plugins ran —
// without kernel or disk.

private func context(_ extra: String = "", delegate: String? = nil, env extraEnv: [String: String] = [:]) throws -> Context {
    let d = delegate ?? #"{"type":"bridge","bridge":"br0","ipam":{"type":"host-local","subnet":"10.1.0.0/24"}}"#
    let stdin = #"{"cniVersion":"1.0.0","name":"skein","type":"skein"\#(extra),"delegates":[\#(d)]}"#
    var env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0"]
    for (k, v) in extraEnv { env[k] = v }
    let request = try CNIRequest.parse(env: env, stdin: Array(stdin.utf8))
    return try Context(request: request, config: try SkeinConfig.parse(request.config), env: env)
}

private func json(_ s: String) -> JSON { try! JSON.parse(s) }

@Suite struct ContextChainTests {
    @Test func aConflistIsTheWholeChainWithRuntimeConfigForEach() throws {
        let ctx = try context(#","runtimeConfig":{"mac":"0a:00:00:00:00:05","portMappings":[]}"#, delegate: """
            {"name":"multi","plugins":[{"type":"bridge","bridge":"br0","capabilities":{"mac":true}},
                                       {"type":"tuning"},{"type":"portmap","capabilities":{"portMappings":true}}]}
            """)
        let chain = try ctx.chain()
        #expect(chain.network == "multi")
        #expect(chain.plugins.map { $0["type"]?.string } == ["bridge", "tuning", "portmap"])
        #expect(chain.plugins[0]["runtimeConfig"] == json(#"{"mac":"0a:00:00:00:00:05"}"#))
        #expect(chain.plugins[1]["runtimeConfig"] == nil)
        #expect(chain.plugins[2]["runtimeConfig"] == json(#"{"portMappings":[]}"#))
        #expect(chain.plugins.allSatisfy { $0["name"]?.string == "multi" && $0["cniVersion"]?.string == "1.0.0" })
    }

    @Test func builtInUpToTheFirstPluginThatMustBeExeced() {
        func prefix(_ plugins: [String], exec: [String] = []) -> [String?] {
            let p = plugins.map { json($0) }
            let r = AddRequested(key: AttachmentKey(containerID: "c", ifname: "eth0"), network: "n", netns: "/x", pod: nil,
                                 process: ProcessRef(pid: 1, startTime: 1), plugin: p[0], requestedIPs: [],
                                 chained: Array(p.dropFirst()), execTypes: exec)
            return r.builtInPrefix.map { $0["type"]?.string }
        }
        let bridge = #"{"type":"bridge","ipam":{"type":"host-local"}}"#, tuning = #"{"type":"tuning"}"#
        let foreign = #"{"type":"no-such-builtin"}"#
        #expect(prefix([bridge, tuning, foreign, tuning]) == ["bridge", "tuning"])
        #expect(prefix([bridge, tuning], exec: ["tuning"]) == ["bridge"])
        #expect(prefix([bridge, tuning], exec: ["bridge"]) == [])
        #expect(prefix([bridge], exec: ["ptp"]) == ["bridge"])
        // An interface plugin whose IPAM is not built in is exec'ed whole (it execs its IPAM).
        #expect(prefix([#"{"type":"bridge","ipam":{"type":"dhcp"}}"#]) == [])
        #expect(prefix([bridge], exec: ["host-local"]) == [])
    }

    @Test func execTypesAreValidatedPlugInNames() throws {
        #expect(try context(#","execTypes":["ptp","tuning"]"#).execTypes() == ["ptp", "tuning"])
        #expect(try context().execTypes() == [])
        for bad in [#""ptp""#, #"[1]"#, #"["../ptp"]"#, #"["a/b"]"#, #"[""]"#] {
            #expect {
                try context(#","execTypes":\#(bad)"#)
            } throws: { e in (e as? CNIError)?.code == 7 }
        }
    }

    @Test func execTimeoutDefaultsToAMinuteAndMustBePositive() throws {
        #expect(try context().execTimeoutMs == 60_000)
        #expect(try context(#","execTimeoutMs":2500"#).execTimeoutMs == 2500)
        for bad in ["0", "-1", "1.5", #""10""#] {
            #expect {
                try context(#","execTimeoutMs":\#(bad)"#)
            } throws: { e in (e as? CNIError)?.code == 7 }
        }
    }

    @Test func pluginsAreFoundInCNIPathElseBinDirElseOptCNIBin() throws {
        #expect(try context(env: ["CNI_PATH": "/a:/b"]).pluginSearchPath == ["/a", "/b"])
        #expect(try context(#","binDir":"/opt/x""#).pluginSearchPath == ["/opt/x"])
        #expect(try context().pluginSearchPath == ["/opt/cni/bin"])
    }

    @Test func cniArgsAreKeptAsGiven() throws {
        #expect(try context(env: ["CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=p"]).cniArgs == "IgnoreUnknown=1;K8S_POD_NAME=p")
        #expect(try context().cniArgs == nil)
    }

    @Test func theDefaultRouteIsAskedForOnlyWhenAMasterIsMissing() {
        #expect(ChainFacts.needsDefaultRoute(json(#"{"type":"macvlan"}"#), chained: false))
        #expect(ChainFacts.needsDefaultRoute(json(#"{"type":"vlan","master":""}"#), chained: false))
        #expect(!ChainFacts.needsDefaultRoute(json(#"{"type":"macvlan","master":"eth0"}"#), chained: false))
        #expect(!ChainFacts.needsDefaultRoute(json(#"{"type":"bridge"}"#), chained: false))
        // A chained ipvlan takes its master from prevResult.
        #expect(ChainFacts.needsDefaultRoute(json(#"{"type":"ipvlan"}"#), chained: false))
        #expect(!ChainFacts.needsDefaultRoute(json(#"{"type":"ipvlan"}"#), chained: true))
    }
}

@Suite struct ExecPluginTests {
    @Test func stdinCarriesTheConfigAndPrevResultOrNone() throws {
        let p = try ExecPlugin(json(#"{"cniVersion":"0.3.1","name":"n","type":"ptp","ipMasq":true}"#))
        #expect(p.type == "ptp" && p.version == "0.3.1" && !p.allowsCheck)
        let bare = try JSON.parse(p.stdin(prevResult: nil))
        #expect(bare == json(#"{"cniVersion":"0.3.1","name":"n","type":"ptp","ipMasq":true}"#))
        let prev = CNIResult(ips: [.init(address: IPNetwork("10.2.0.3/24")!)])
        let with = try JSON.parse(p.stdin(prevResult: prev))
        #expect(with["prevResult"] == json(#"{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.2.0.3/24"}],"dns":{}}"#))
    }

    @Test func aTypeThatEscapesThePathIsRefused() {
        #expect(throws: CNIError.self) { try ExecPlugin(json(#"{"type":"../bin/sh"}"#)) }
        #expect(throws: CNIError.self) { try ExecPlugin(json(#"{"name":"x"}"#)) }
    }
}

@Suite struct CheckAfterExecTests {
    /// tuning exec'ed after a built-in bridge changed eth0's MAC and MTU: the built-in CHECK holds
    /// eth0 to the final result's MAC and to no MTU, and leaves the host end as it was.
    @Test func containerLinksAreHeldToTheFinalResult() {
        let hostEnd = LinkSpec(name: "veth0", namespace: .host, kind: .veth(peer: "eth0"),
                               mac: MACAddress("0a:00:00:00:00:01"), mtu: 1500, master: "br0")
        let peer = LinkSpec(name: "eth0", namespace: .container, kind: .vethPeer, mac: MACAddress("0a:00:00:00:00:02"), mtu: 1500)
        let result = CNIResult(interfaces: [.init(name: "veth0", mac: "0a:00:00:00:00:01"),
                                            .init(name: "eth0", mac: "02:00:00:00:00:99", sandbox: "/x")])
        let spec = CheckOperation.leftByExec(AttachmentSpec(links: [hostEnd, peer]), result: result)
        #expect(spec.links[0] == hostEnd)
        #expect(spec.links[1].mac == MACAddress("02:00:00:00:00:99") && spec.links[1].mtu == nil)
        let stated = CNIResult(interfaces: [.init(name: "eth0", mtu: 1400, sandbox: "/x")])
        #expect(CheckOperation.leftByExec(AttachmentSpec(links: [peer]), result: stated).links[0].mtu == 1400)
    }
}
