import Testing
@testable import SkeinModel

private func parseConfig(_ text: String) throws -> SkeinConfig {
    try SkeinConfig.parse(JSON.parse(text))
}

/// The CNI error code thrown by `body`, or nil when it succeeded.
private func code<T>(_ body: () throws(CNIError) -> T) -> Int? {
    do { _ = try body(); return nil } catch { return error.code }
}

private func configCode(_ text: String) -> Int? {
    guard let json = try? JSON.parse(text) else { return -1 }
    return code { () throws(CNIError) in try SkeinConfig.parse(json) }
}

private func bridgeCode(_ text: String) -> Int? {
    guard let json = try? JSON.parse(text) else { return -1 }
    return code { () throws(CNIError) in try BridgeConfig.parse(plugin: json) }
}

private let hostLocal = #""ipam":{"type":"host-local","subnet":"10.1.0.0/16"}"#

@Suite struct SkeinConfigTests {
    // MARK: - SkeinConfig

    @Test func confAndConflistDelegatesWithInheritance() throws {
        let c = try parseConfig(#"""
            {"cniVersion":"1.0.0","name":"skein-net","type":"skein","kubeconfig":"/etc/kube.conf",
             "delegates":[
               {"type":"bridge","bridge":"cni0",\#(hostLocal)},
               {"name":"own","cniVersion":"0.3.1","type":"macvlan","master":"eth1"},
               {"name":"chain","cniVersion":"0.4.0","plugins":[{"type":"bridge","name":"ignored","cniVersion":"1.1.0"},{"type":"tuning"}]},
               {"plugins":[{"type":"loopback"}]}
             ]}
            """#)
        #expect(c.cniVersion == "1.0.0" && c.name == "skein-net" && c.stateDir == "/var/lib/skein")
        #expect(c.raw["kubeconfig"]?.string == "/etc/kube.conf")
        #expect(c.delegates.map(\.name) == ["skein-net", "own", "chain", "skein-net"])
        #expect(c.delegates.map(\.cniVersion) == ["1.0.0", "0.3.1", "0.4.0", "1.0.0"])
        #expect(c.delegates.map(\.isConflist) == [false, false, true, true])
        #expect(c.delegates.map(\.plugins.count) == [1, 1, 2, 1])
        // libcni overwrites each plugin's name and cniVersion with the list's.
        for d in c.delegates {
            for p in d.plugins {
                #expect(p["name"]?.string == d.name)
                #expect(p["cniVersion"]?.string == d.cniVersion)
            }
        }
        #expect(c.delegates[0].plugins[0]["bridge"]?.string == "cni0")
        #expect(c.delegates[2].plugins[0]["type"]?.string == "bridge")
        #expect(c.delegates[2].plugins[1]["type"]?.string == "tuning")
    }

    @Test func delegateCniVersionsListIsResolved() throws {
        let c = try parseConfig(#"{"cniVersion":"1.1.0","name":"n","delegates":[{"cniVersions":["0.4.0","1.0.0"],"plugins":[{"type":"ptp"}]}]}"#)
        #expect(c.delegates[0].cniVersion == "1.0.0")
    }

    @Test func stateDirOverride() throws {
        let c = try parseConfig(#"{"cniVersion":"1.1.0","name":"n","stateDir":"/run/skein","delegates":[{"type":"loopback"}]}"#)
        #expect(c.stateDir == "/run/skein")
    }

    @Test(arguments: [
        ("../bin/evil", 7), ("/usr/bin/evil", 7), ("a/b", 7), ("..", 7), (".", 7), ("", 7), ("evil\u{0}", 7),
        ("bridge..", 7), ("host-local", nil),
    ] as [(String, Int?)])
    func pluginTypeTraversalRefused(_ type: String, _ expected: Int?) {
        let single = JSON.obj([("cniVersion", .string("1.1.0")), ("name", .string("n")),
                               ("delegates", .array([.obj([("type", .string(type))])]))])
        #expect(code { () throws(CNIError) in try SkeinConfig.parse(single) } == expected)
        let list = JSON.obj([("cniVersion", .string("1.1.0")), ("name", .string("n")),
                             ("delegates", .array([.obj([("plugins", .array([.obj([("type", .string(type))])]))])]))])
        #expect(code { () throws(CNIError) in try SkeinConfig.parse(list) } == expected)
    }

    @Test(arguments: [
        (#"[]"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n"}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","delegates":[]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","delegates":{}}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","delegates":["bridge"]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","delegates":[{"name":"x"}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","delegates":[{"type":"bridge","plugins":[]}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","delegates":[{"plugins":[]}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","delegates":[{"plugins":["x"]}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","delegates":[{"type":7}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","delegates":[{"name":"a b","type":"bridge"}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","delegates":[{"cniVersion":"0.2.0","type":"bridge"}]}"#, 1),
        (#"{"cniVersion":"9.9.9","name":"n","delegates":[{"type":"bridge"}]}"#, 1),
        (#"{"cniVersion":"1.1.0","delegates":[{"type":"bridge"}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","type":1,"delegates":[{"type":"bridge"}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","clusterNetwork":"k8s-pod-network"}"#, nil),
        (#"{"cniVersion":"1.1.0","name":"n","clusterNetwork":""}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","clusterNetwork":"a","delegates":[{"type":"bridge"}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","clusterNetwork":7}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","stateDir":"var/lib/skein","delegates":[{"type":"bridge"}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","stateDir":"/var/lib/../../etc","delegates":[{"type":"bridge"}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","stateDir":"/var/lib/skein\u0000x","delegates":[{"type":"bridge"}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","stateDir":3,"delegates":[{"type":"bridge"}]}"#, 7),
        (#"{"cniVersion":"1.1.0","name":"n","stateDir":"/var/lib/skein..d","delegates":[{"type":"bridge"}]}"#, nil),
    ] as [(String, Int?)])
    func configErrors(_ text: String, _ expected: Int?) {
        #expect(configCode(text) == expected)
    }

    @Test func clusterNetworkReplacesDelegates() throws {
        let c = try parseConfig(#"""
            {"cniVersion":"0.3.1","name":"multus-cni-network","type":"skein",
             "clusterNetwork":"/host/etc/cni/net.d/10-flannel.conflist","defaultNetworks":["extra","kube-system/other"]}
            """#)
        #expect(c.clusterNetwork == "/host/etc/cni/net.d/10-flannel.conflist")
        #expect(c.delegates.isEmpty)
        #expect(c.defaultNetworks == ["extra", "kube-system/other"])
    }

    @Test func requiredNetworksMessages() {
        do {
            _ = try parseConfig(#"{"cniVersion":"1.1.0","name":"n"}"#)
            Issue.record("expected an error")
        } catch let error as CNIError {
            #expect(error.code == 7 && error.msg.contains("delegates") && error.msg.contains("clusterNetwork"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func multusDefaults() throws {
        let c = try parseConfig(#"{"cniVersion":"1.0.0","name":"n","delegates":[{"type":"loopback"}]}"#)
        #expect(c.clusterNetwork == nil && c.defaultNetworks.isEmpty && c.kubeconfig == nil)
        #expect(c.confDir == "/etc/cni/multus/net.d" && c.binDir == "/opt/cni/bin" && c.cniDir == nil)
        #expect(c.systemNamespaces == ["kube-system"] && c.multusNamespace == "kube-system")
        #expect(!c.namespaceIsolation && c.globalNamespaces == ["default"])
        #expect(c.readinessIndicatorFile == nil && c.logFile == nil)
        #expect(c.logLevel == .panic && c.logToStderr)
        #expect(c.capabilities.isEmpty && c.runtimeConfig.isEmpty)
        #expect(c.nadDir == nil && c.execTypes.isEmpty && c.stateDir == "/var/lib/skein")
    }

    @Test func everyMultusKeyTyped() throws {
        let c = try parseConfig(#"""
            {"cniVersion":"0.3.1","name":"multus-cni-network","type":"skein",
             "clusterNetwork":"k8s-pod-network","defaultNetworks":["sidecar"],
             "kubeconfig":"/etc/cni/net.d/multus.d/multus.kubeconfig","confDir":"/etc/cni/net.d",
             "cniDir":"/var/lib/cni/multus","binDir":"/host/opt/cni/bin","systemNamespaces":["kube-system","infra"],
             "multusNamespace":"multus","namespaceIsolation":true,"globalNamespaces":"default, shared ,,tools",
             "readinessindicatorfile":"/run/flannel/subnet.env","logFile":"/var/log/multus.log",
             "logLevel":"Verbose","logToStderr":false,"logOptions":{"maxAge":5},
             "capabilities":{"portMappings":true,"bandwidth":true},
             "runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]},
             "stateDir":"/run/skein","nadDir":"/etc/skein/nads","execTypes":["bridge","macvlan"]}
            """#)
        #expect(c.clusterNetwork == "k8s-pod-network" && c.defaultNetworks == ["sidecar"])
        #expect(c.kubeconfig == "/etc/cni/net.d/multus.d/multus.kubeconfig" && c.confDir == "/etc/cni/net.d")
        #expect(c.cniDir == "/var/lib/cni/multus" && c.binDir == "/host/opt/cni/bin")
        #expect(c.systemNamespaces == ["kube-system", "infra"] && c.multusNamespace == "multus")
        #expect(c.namespaceIsolation && c.globalNamespaces == ["default", "shared", "tools"])
        #expect(c.readinessIndicatorFile == "/run/flannel/subnet.env" && c.logFile == "/var/log/multus.log")
        #expect(c.logLevel == .verbose && !c.logToStderr)
        #expect(c.capabilities["portMappings"]?.bool == true)
        #expect(c.runtimeConfig["portMappings"]?[0]?["hostPort"]?.int == 8080)
        #expect(c.stateDir == "/run/skein" && c.nadDir == "/etc/skein/nads" && c.execTypes == ["bridge", "macvlan"])
        #expect(c.raw["logOptions"]?["maxAge"]?.int == 5)
    }

    @Test func globalNamespacesForms() throws {
        func global(_ v: String) throws -> [String] {
            try parseConfig(#"{"cniVersion":"1.1.0","name":"n","delegates":[{"type":"ptp"}],"globalNamespaces":\#(v)}"#).globalNamespaces
        }
        #expect(try global(#""a,b""#) == ["a", "b"])
        #expect(try global(#"["a","b"]"#) == ["a", "b"])
        #expect(try global(#""""#) == ["default"])
        #expect(try global(#"[]"#) == ["default"])
        #expect(try global("null") == ["default"])
    }

    @Test(arguments: [
        "defaultNetworks", "kubeconfig", "confDir", "cniDir", "binDir", "systemNamespaces", "multusNamespace",
        "namespaceIsolation", "globalNamespaces", "readinessindicatorfile", "logFile", "logLevel", "logToStderr",
        "capabilities", "runtimeConfig", "nadDir", "execTypes",
    ])
    func wrongTypeNamesTheMultusKey(_ key: String) {
        // A number is the wrong type for every one of them.
        let text = #"{"cniVersion":"1.1.0","name":"n","delegates":[{"type":"ptp"}],"\#(key)":12}"#
        do {
            _ = try parseConfig(text)
            Issue.record("expected an error for \(key)")
        } catch let error as CNIError {
            #expect(error.code == 7 && error.msg.contains(key), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test(arguments: [
        (#""logLevel":"trace""#, 7),
        (#""logLevel":"""#, nil),
        (#""defaultNetworks":[1]"#, 7),
        (#""systemNamespaces":["a",null]"#, 7),
        (#""execTypes":["../evil"]"#, 7),
        (#""execTypes":[""]"#, 7),
        (#""execTypes":"bridge""#, 7),
        (#""confDir":"/etc/cni\u0000/x""#, 7),
        (#""globalNamespaces":[1]"#, 7),
        (#""globalNamespaces":{}"#, 7),
        (#""cniDir":"/var/lib/cni/multus""#, nil),
        (#""auxiliaryCNIChainName":"x","retryDeleteOnError":true"#, nil),
    ] as [(String, Int?)])
    func multusKeyValues(_ member: String, _ expected: Int?) {
        #expect(configCode(#"{"cniVersion":"1.1.0","name":"n","delegates":[{"type":"ptp"}],\#(member)}"#) == expected)
    }

    @Test func execTypesErrorNamesTheElement() {
        do {
            _ = try parseConfig(#"{"cniVersion":"1.1.0","name":"n","delegates":[{"type":"ptp"}],"execTypes":["ok","a/b"]}"#)
            Issue.record("expected an error")
        } catch let error as CNIError {
            #expect(error.code == 7 && error.msg.contains("execTypes[1]"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    // MARK: - DelegateConfig.parse

    @Test func delegateFromConfAndConflist() throws {
        let conf = try DelegateConfig.parse(JSON.parse(#"{"type":"macvlan","master":"eth1"}"#),
                                            fallbackName: "macvlan-conf", fallbackVersion: "0.3.1")
        #expect(conf.name == "macvlan-conf" && conf.cniVersion == "0.3.1" && !conf.isConflist)
        #expect(conf.plugins == [try JSON.parse(#"{"type":"macvlan","master":"eth1","name":"macvlan-conf","cniVersion":"0.3.1"}"#)])
        let list = try DelegateConfig.parse(JSON.parse(#"{"name":"chain","cniVersion":"1.0.0","plugins":[{"type":"bridge"},{"type":"tuning","name":"x"}]}"#),
                                            fallbackName: "nad", fallbackVersion: "0.3.1")
        #expect(list.name == "chain" && list.cniVersion == "1.0.0" && list.isConflist)
        #expect(list.plugins.map { $0["name"]?.string } == ["chain", "chain"])
    }

    @Test(arguments: [
        #"[]"#, #"{}"#, #"{"type":"a","plugins":[]}"#, #"{"plugins":[]}"#, #"{"type":"../x"}"#,
        #"{"name":"a b","type":"x"}"#, #"{"type":1}"#,
    ])
    func delegateErrors(_ text: String) throws {
        let json = try JSON.parse(text)
        #expect(code { () throws(CNIError) in try DelegateConfig.parse(json, fallbackName: "n", fallbackVersion: "1.0.0") } == 7)
    }

    @Test func delegateErrorWithoutContextSaysNetworkConfig() throws {
        do {
            _ = try DelegateConfig.parse(JSON.parse(#"{"name":"x"}"#), fallbackName: "n", fallbackVersion: "1.0.0")
            Issue.record("expected an error")
        } catch let error as CNIError {
            #expect(error.msg == "network config has neither type nor plugins")
        }
    }

    @Test func multusKeysStayInRaw() throws {
        let c = try parseConfig(#"""
            {"cniVersion":"0.3.1","name":"multus-cni-network","type":"skein","confDir":"/etc/cni/net.d",
             "systemNamespaces":["kube-system"],"logLevel":"verbose","capabilities":{"portMappings":true},
             "delegates":[{"cniVersion":"0.3.1","name":"k8s-pod-network","plugins":[{"type":"calico"},{"type":"portmap","capabilities":{"portMappings":true}}]}]}
            """#)
        #expect(c.raw["systemNamespaces"]?[0]?.string == "kube-system")
        #expect(c.raw["capabilities"]?["portMappings"]?.bool == true)
        #expect(c.delegates[0].name == "k8s-pod-network")
        #expect(c.delegates[0].plugins[1]["capabilities"]?["portMappings"]?.bool == true)
    }

    // MARK: - BridgeConfig

    @Test func bridgeDefaults() throws {
        let b = try BridgeConfig.parse(plugin: JSON.parse(#"{"cniVersion":"1.0.0","name":"n","type":"bridge",\#(hostLocal)}"#))
        #expect(b.bridge.value == "cni0")
        #expect(!b.isGateway && !b.isDefaultGateway && !b.forceAddress && !b.hairpinMode && !b.promiscMode)
        #expect(b.mtu == nil && b.mac == nil && b.networkName == "n")
        #expect(b.ipam["type"]?.string == "host-local" && b.ipam["subnet"]?.string == "10.1.0.0/16")
    }

    @Test func bridgeFullySet() throws {
        let b = try BridgeConfig.parse(plugin: JSON.parse(#"""
            {"type":"bridge","bridge":"br-pods","isDefaultGateway":true,"forceAddress":true,"mtu":9000,
             "hairpinMode":true,"promiscMode":true,"runtimeConfig":{"mac":"0A:58:0A:01:00:05"},
             "ipMasq":false,"vlan":0,"vlanTrunk":[],"enabledad":false,"macspoofchk":false,
             "disableContainerInterface":false,"portIsolation":false,"preserveDefaultVlan":false,"ipMasqBackend":null,\#(hostLocal)}
            """#))
        #expect(b.bridge.value == "br-pods" && b.isGateway && b.isDefaultGateway && b.forceAddress)
        #expect(b.mtu == 9000 && b.hairpinMode && b.promiscMode && b.mac == "0a:58:0a:01:00:05")
    }

    @Test func bridgeMACPrecedence() throws {
        let both = try JSON.parse(#"{"type":"bridge","args":{"cni":{"mac":"02:00:00:00:00:02"}},"runtimeConfig":{"mac":"02:00:00:00:00:01"},\#(hostLocal)}"#)
        #expect(try BridgeConfig.parse(plugin: both, envMAC: "02:00:00:00:00:03").mac == "02:00:00:00:00:01")
        let args = try JSON.parse(#"{"type":"bridge","args":{"cni":{"mac":"02:00:00:00:00:02"}},\#(hostLocal)}"#)
        #expect(try BridgeConfig.parse(plugin: args, envMAC: "02:00:00:00:00:03").mac == "02:00:00:00:00:02")
        let none = try JSON.parse(#"{"type":"bridge",\#(hostLocal)}"#)
        #expect(try BridgeConfig.parse(plugin: none, envMAC: "02:00:00:00:00:03").mac == "02:00:00:00:00:03")
    }

    @Test(arguments: ["ipMasq", "enabledad", "macspoofchk", "disableContainerInterface", "portIsolation", "preserveDefaultVlan"])
    func bridgeUnsupportedBooleans(_ key: String) throws {
        let on = try JSON.parse(#"{"type":"bridge","\#(key)":true,\#(hostLocal)}"#)
        do {
            _ = try BridgeConfig.parse(plugin: on)
            Issue.record("expected code 2 for \(key)")
        } catch {
            #expect(error.code == 2)
            #expect(error.msg.contains(key))
        }
        #expect(bridgeCode(#"{"type":"bridge","\#(key)":false,\#(hostLocal)}"#) == nil)
        #expect(bridgeCode(#"{"type":"bridge","\#(key)":"true",\#(hostLocal)}"#) == 7)
    }

    @Test(arguments: [
        (#""ipMasqBackend":"nftables""#, 2),
        (#""ipMasqBackend":5"#, 7),
        (#""vlan":100"#, 2),
        (#""vlan":0"#, nil),
        (#""vlan":5000"#, 7),
        (#""vlan":"100""#, 7),
        (#""vlanTrunk":[{"id":101}]"#, 2),
        (#""vlanTrunk":[]"#, nil),
        (#""vlanTrunk":{}"#, 7),
    ] as [(String, Int?)])
    func bridgeUnsupportedValues(_ member: String, _ expected: Int?) {
        #expect(bridgeCode(#"{"type":"bridge",\#(member),\#(hostLocal)}"#) == expected)
    }

    @Test(arguments: [
        (#"{"type":"bridge","bridge":"abcdefghijklmnop",\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","bridge":"abcdefghijklmno",\#(hostLocal)}"#, nil),
        (#"{"type":"bridge","bridge":"br/0",\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","bridge":"",\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","bridge":1,\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","mtu":0,\#(hostLocal)}"#, nil),
        (#"{"type":"bridge","mtu":65536,\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","mtu":-1,\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","mtu":1500.5,\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","isGateway":"yes",\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","hairpinMode":1,\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","runtimeConfig":{"mac":"0a:58:0a:01:00"},\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","runtimeConfig":{"mac":"0a-58-0a-01-00-05"},\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","runtimeConfig":{"mac":"01:00:5e:00:00:01"},\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","runtimeConfig":{"mac":"00:00:00:00:00:00"},\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","runtimeConfig":{"mac":"0a:58:0a:01:00:0g"},\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","runtimeConfig":{"mac":7},\#(hostLocal)}"#, 7),
        (#"{"type":"bridge","runtimeConfig":[],\#(hostLocal)}"#, 7),
        (#"{"type":"bridge"}"#, 2),
        (#"{"type":"bridge","ipam":{}}"#, 2),
        (#"{"type":"bridge","ipam":{"type":"dhcp"}}"#, 2),
        (#"{"type":"bridge","ipam":{"type":"whereabouts"}}"#, 2),
        (#"{"type":"bridge","ipam":"host-local"}"#, 7),
        (#"{"type":"bridge","ipam":{"type":3}}"#, 7),
        (#"{"type":"macvlan",\#(hostLocal)}"#, 7),
        (#"[]"#, 7),
    ] as [(String, Int?)])
    func bridgeErrors(_ text: String, _ expected: Int?) {
        #expect(bridgeCode(text) == expected)
    }

    @Test func bridgeIPAMErrorNamesType() {
        do {
            _ = try BridgeConfig.parse(plugin: JSON.parse(#"{"type":"bridge","ipam":{"type":"whereabouts"}}"#))
            Issue.record("expected an error")
        } catch let error as CNIError {
            #expect(error.code == 2 && error.msg.contains("whereabouts"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func wrongTypeNamesTheKey() {
        do {
            _ = try BridgeConfig.parse(plugin: JSON.parse(#"{"type":"bridge","forceAddress":"no",\#(hostLocal)}"#))
            Issue.record("expected an error")
        } catch let error as CNIError {
            #expect(error.code == 7 && error.msg.contains("forceAddress"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
