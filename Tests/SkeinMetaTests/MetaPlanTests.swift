import Testing
import SkeinModel
@testable import SkeinMeta

private let flannel = #"{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel","delegate":{"hairpinMode":true,"isDefaultGateway":true}},{"type":"portmap","capabilities":{"portMappings":true}}]}"#

/// How the engine resolves: a NAD (from nadDir here), else a network of that name in confDir.
private func resolver(nads: [String] = Walkthrough.all, extra: [(String, String)] = [],
                      confDir: [(String, String)] = [("10-flannel.conflist", flannel)]) -> MetaPlan.Resolver {
    let files = nads.enumerated().map { ("\($0.offset).yaml", $0.element) } + extra
    let dir = NADDirectory(files: files.map { (name: $0.0, text: $0.1) }, fallbackVersion: "0.3.1")
    let conf = confDir.map { (name: $0.0, text: $0.1) }
    return { (namespace, name) throws(CNIError) -> DelegateConfig in
        if let nad = try dir.definition(namespace: namespace, name: name) {
            if case .delegate(let d) = nad.config { return d }
            if let d = try ConfDirectory.find(nad.name, files: conf, fallbackVersion: "0.3.1") { return d }
        } else if let d = try ConfDirectory.find(name, files: conf, fallbackVersion: "0.3.1") {
            return d
        }
        throw .invalidConfig("cannot find a network-attachment-definition (\(name)) in namespace (\(namespace))")
    }
}

private func config(_ members: String) throws -> SkeinConfig {
    try SkeinConfig.parse(JSON.parse(#"{"cniVersion":"0.3.1","name":"multus-cni-network","type":"skein",\#(members)}"#))
}

private let thin = #""kubeconfig":"/etc/cni/net.d/multus.d/multus.kubeconfig","delegates":[\#(flannel)]"#
private let thick = #""clusterNetwork":"cbr0""#

private func plan(_ c: SkeinConfig, namespace: String = "default", _ annotations: [String: String] = [:],
                  resolve: MetaPlan.Resolver = resolver()) throws -> MetaPlan {
    try MetaPlan.build(config: c, podNamespace: namespace, annotations: annotations, ifname: "eth0", resolve: resolve)
}

private func failure(_ c: SkeinConfig, namespace: String = "default", _ annotations: [String: String]) -> CNIError? {
    do { _ = try MetaPlan.build(config: c, podNamespace: namespace, annotations: annotations, ifname: "eth0", resolve: resolver()); return nil }
    catch { return error }
}

private let networks = NetworkSelection.annotationKey

@Suite struct MetaPlanTests {
    // MARK: - Golden: the walkthrough's net-pod

    @Test func walkthroughNetPod() throws {
        let p = try plan(try config(thin), Walkthrough.podAnnotations)
        #expect(p.attachments.map(\.network) == ["cbr0", "default/ipvlan-def"])
        #expect(p.attachments.map(\.ifname) == ["eth0", "net1"])
        #expect(p.attachments.map(\.isDefault) == [true, false])
        #expect(p.attachments.allSatisfy { !$0.dropDefaultRoute && $0.defaultGateways.isEmpty && $0.cniArgs.isEmpty })
        let ipvlan = p.attachments[1]
        #expect(ipvlan.pluginConfigs() == [try JSON.parse(#"""
            {"cniVersion":"0.3.1","type":"ipvlan","master":"enp0s9","mode":"l2",
             "ipam":{"type":"host-local","subnet":"192.168.200.0/24","rangeStart":"192.168.200.201",
                     "rangeEnd":"192.168.200.205","gateway":"192.168.200.1"},
             "name":"ipvlan-def"}
            """#)])
        #expect(p.attachments[0].delegate.plugins.map { $0["type"]?.string } == ["flannel", "portmap"])
    }

    @Test func thickClusterNetworkGivesTheSamePlan() throws {
        let thinPlan = try plan(try config(thin), Walkthrough.podAnnotations)
        let thickPlan = try plan(try config(thick), Walkthrough.podAnnotations)
        #expect(thinPlan == thickPlan)
    }

    // MARK: - Order and names

    @Test func clusterThenDefaultNetworksThenAnnotation() throws {
        let c = try config(thick + #","defaultNetworks":["bridge-conf"],"multusNamespace":"default""#)
        let p = try plan(c, [networks: "macvlan-conf,ipvlan@data0,ipvlan-def"])
        #expect(p.attachments.map(\.network) == ["cbr0", "default/bridge-conf", "default/macvlan-conf", "default/ipvlan", "default/ipvlan-def"])
        #expect(p.attachments.map(\.ifname) == ["eth0", "net1", "net2", "data0", "net4"])
    }

    @Test func systemNamespacesGetNoDefaultNetworks() throws {
        let c = try config(thick + #","defaultNetworks":["bridge-conf"],"multusNamespace":"default","systemNamespaces":["infra"]"#)
        let p = try plan(c, namespace: "infra", [networks: "infra/ipvlan-def"],
                         resolve: resolver(extra: [("i.yaml", moved(Walkthrough.ipvlanDef, to: "infra"))]))
        #expect(p.attachments.map(\.network) == ["cbr0", "infra/ipvlan-def"])
        #expect(p.attachments.map(\.ifname) == ["eth0", "net1"])
    }

    @Test func configDelegatesAfterTheFirstAreAttachedToo() throws {
        let c = try config(#""delegates":[\#(flannel),{"name":"side","type":"ptp","ipam":{"type":"host-local","subnet":"10.9.0.0/24"}}]"#)
        let p = try plan(c, [networks: "ipvlan-def"])
        #expect(p.attachments.map(\.network) == ["cbr0", "side", "default/ipvlan-def"])
        #expect(p.attachments.map(\.ifname) == ["eth0", "net1", "net2"])
        #expect(p.attachments.map(\.isDefault) == [true, false, false])
    }

    @Test func theSameNetworkTwice() throws {
        let p = try plan(try config(thin), [networks: "ipvlan-def,ipvlan-def"])
        #expect(p.attachments.map(\.ifname) == ["eth0", "net1", "net2"])
    }

    @Test(arguments: ["ipvlan-def@eth0", "ipvlan-def@net2,macvlan", "ipvlan-def@x,macvlan@x"])
    func duplicateInterfaceNamesFail(_ annotation: String) {
        let error = failure(try! config(thin), [networks: annotation])
        #expect(error?.code == 7 && error?.msg.contains("is used twice") == true, "\(String(describing: error))")
    }

    @Test func missingNetworkIsTheResolversError() {
        #expect(failure(try! config(thin), [networks: "nope"])?.msg.contains("cannot find") == true)
    }

    @Test func badAnnotationFails() {
        #expect(failure(try! config(thin), [networks: "Bad_Name"])?.code == 7)
    }

    // MARK: - Default network annotation

    @Test func defaultNetworkAnnotationReplacesTheClusterNetwork() throws {
        let c = try config(thin + #","multusNamespace":"default""#)
        let p = try plan(c, [NetworkSelection.defaultNetworkAnnotationKey: "bridge-conf", networks: "ipvlan-def"])
        #expect(p.attachments.map(\.network) == ["default/bridge-conf", "default/ipvlan-def"])
        #expect(p.attachments.map(\.ifname) == ["eth0", "net1"] && p.attachments[0].isDefault)
    }

    @Test func defaultNetworkAnnotationRules() {
        let c = try! config(thin + #","multusNamespace":"default""#)
        let key = NetworkSelection.defaultNetworkAnnotationKey
        #expect(failure(c, [key: "bridge-conf,macvlan"])?.msg.contains("more than one") == true)
        #expect(failure(c, [key: "other/bridge-conf"])?.msg.contains("must name a NetworkAttachmentDefinition in default") == true)
        #expect(failure(try! config(thin), [key: "bridge-conf"])?.msg.contains("cannot find") == true)
        #expect(failure(c, [key: "  "]) == nil)
    }

    // MARK: - Namespace isolation

    @Test func namespaceIsolation() throws {
        let tenant = moved(Walkthrough.ipvlanDef, to: "tenant")
        let resolve = resolver(extra: [("t.yaml", tenant)])
        let isolated = try config(thin + #","namespaceIsolation":true"#)
        #expect(try plan(isolated, namespace: "tenant", [networks: "ipvlan-def,default/macvlan"], resolve: resolve).attachments.count == 3)
        do {
            _ = try plan(isolated, namespace: "other", [networks: "tenant/ipvlan-def"], resolve: resolve)
            Issue.record("isolation not enforced")
        } catch let error as CNIError {
            #expect(error.code == 7 && error.msg.contains("namespace isolation"))
        }
        let global = try config(thin + #","namespaceIsolation":true,"globalNamespaces":"default,tenant""#)
        #expect(try plan(global, namespace: "other", [networks: "tenant/ipvlan-def"], resolve: resolve).attachments.count == 2)
        let open = try config(thin)
        #expect(try plan(open, namespace: "other", [networks: "tenant/ipvlan-def"], resolve: resolve).attachments.count == 2)
    }

    // MARK: - Runtime data

    @Test func selectionRequestsReachTheDelegate() throws {
        let c = try config(thin + #","runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":8080}],"dns":{"nameservers":["10.96.0.10"]}}"#)
        let annotation = #"""
            [{"name":"macvlan-conf","ips":["172.17.9.245/24"],"mac":"02:00:00:00:00:01","cni-args":{"k":"v"},
              "bandwidth":{"ingressRate":1,"ingressBurst":2,"egressRate":3,"egressBurst":4},"infiniband-guid":"00:11:22:33:44:55:66:77"}]
            """#
        let p = try plan(c, [networks: annotation])
        let cluster = p.attachments[0], extra = p.attachments[1]
        // The cluster network gets the runtime's runtimeConfig only, as Multus.
        #expect(cluster.runtimeConfig == c.runtimeConfig && cluster.cniArgs.isEmpty && cluster.argsCNI == nil)
        #expect(extra.runtimeConfig["ips"] == .array([.string("172.17.9.245/24")]))
        #expect(extra.runtimeConfig["mac"]?.string == "02:00:00:00:00:01")
        #expect(extra.runtimeConfig["bandwidth"]?["egressBurst"]?.int == 4)
        #expect(extra.runtimeConfig["infinibandGUID"]?.string == "00:11:22:33:44:55:66:77")
        #expect(extra.runtimeConfig["portMappings"]?[0]?["hostPort"]?.int == 80)
        #expect(extra.cniArgs == ["MAC=02:00:00:00:00:01", "IP=172.17.9.245/24"])
        #expect(extra.argsCNI?["k"]?.string == "v")
        // macvlan declares no capabilities: no runtimeConfig, but args.cni is injected.
        let stdin = extra.pluginConfigs()[0]
        #expect(stdin["runtimeConfig"] == nil && stdin["args"]?["cni"]?["k"]?.string == "v")
        // The cluster network's portmap declares portMappings and gets exactly that.
        let portmap = cluster.pluginConfigs()[1]
        #expect(portmap["runtimeConfig"] == .obj([("portMappings", c.runtimeConfig["portMappings"]!)]))
        #expect(cluster.pluginConfigs()[0]["runtimeConfig"] == nil)
    }

    @Test func pluginConfigFollowsLibcni() throws {
        let a = MetaAttachment(network: "n", ifname: "net1", delegate: DelegateConfig(name: "n", cniVersion: "1.0.0", plugins: [], isConflist: false),
                               runtimeConfig: JSONObject([("mac", .string("02:00:00:00:00:09")), ("ips", .array([.string("10.0.0.9/24")]))]),
                               argsCNI: JSONObject([("ips", .array([.string("10.0.0.9/24")])), ("new", .bool(true))]))
        let plugin = try JSON.parse(#"""
            {"type":"bridge","capabilities":{"mac":true,"ips":false,"portMappings":true},
             "runtimeConfig":{"stale":1},"args":{"cni":{"ips":["1.1.1.1/32"],"keep":1},"other":{}}}
            """#)
        #expect(a.pluginConfig(plugin) == (try JSON.parse(#"""
            {"type":"bridge","capabilities":{"mac":true,"ips":false,"portMappings":true},
             "runtimeConfig":{"mac":"02:00:00:00:00:09"},"args":{"cni":{"ips":["10.0.0.9/24"],"keep":1,"new":true},"other":{}}}
            """#)))
        // Nothing declared that we have: runtimeConfig is left as written.
        let other = try JSON.parse(#"{"type":"x","capabilities":{"bandwidth":true},"runtimeConfig":{"a":1}}"#)
        #expect(a.pluginConfig(other)["runtimeConfig"] == .obj([("a", .int(1))]))
    }

    @Test func cniArgsString() {
        var a = MetaAttachment(network: "n", ifname: "net1", delegate: DelegateConfig(name: "n", cniVersion: "1.0.0", plugins: [], isConflist: false))
        let base = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=net-pod;IP=9.9.9.9"
        #expect(a.cniArgs(base: base) == base)
        a.cniArgs = ["MAC=02:00:00:00:00:01", "IP=10.0.0.5/24,fd00::5"]
        #expect(a.cniArgs(base: base) == "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=net-pod;MAC=02:00:00:00:00:01;IP=10.0.0.5/24,fd00::5")
        #expect(a.cniArgs(base: "") == "IgnoreUnknown=true;MAC=02:00:00:00:00:01;IP=10.0.0.5/24,fd00::5")
    }

    // MARK: - Default route

    @Test func defaultRouteMovesToTheChosenNetwork() throws {
        let p = try plan(try config(thin), [networks: #"[{"name":"macvlan-conf","default-route":["172.17.9.1"]},{"name":"ipvlan-def"}]"#])
        #expect(p.attachments.map(\.dropDefaultRoute) == [true, true, true])
        #expect(p.attachments.map(\.defaultGateways) == [[], [IPAddress("172.17.9.1")!], []])
    }

    @Test func dualStackDefaultRoutesOnTwoNetworks() throws {
        let p = try plan(try config(thin), [networks: #"[{"name":"macvlan-conf","default-route":["172.17.9.1"]},{"name":"ipvlan-def","default-route":["fd00::1"]}]"#])
        #expect(p.attachments.map(\.defaultGateways) == [[], [IPAddress("172.17.9.1")!], [IPAddress("fd00::1")!]])
        #expect(p.attachments.allSatisfy { $0.dropDefaultRoute })
    }

    @Test func emptyDefaultRouteKeepsThatNetworksOwn() throws {
        let p = try plan(try config(thin), [networks: #"[{"name":"macvlan-conf","default-route":[]},{"name":"ipvlan-def"}]"#])
        #expect(p.attachments.map(\.dropDefaultRoute) == [true, false, true])
        #expect(p.attachments.allSatisfy { $0.defaultGateways.isEmpty })
    }

    @Test(arguments: [
        #"[{"name":"macvlan-conf","default-route":["172.17.9.1","172.17.9.2"]}]"#,
        #"[{"name":"macvlan-conf","default-route":["172.17.9.1"]},{"name":"ipvlan-def","default-route":["192.168.200.1"]}]"#,
        #"[{"name":"macvlan-conf","default-route":["fd00::1"]},{"name":"ipvlan-def","default-route":["fd00::2"]}]"#,
    ])
    func ecmpIsRefused(_ annotation: String) {
        let error = failure(try! config(thin), [networks: annotation])
        #expect(error?.code == 7 && error?.msg.contains("ECMP") == true)
    }

    @Test func emptyDefaultRouteMustBeAlone() {
        let error = failure(try! config(thin), [networks: #"[{"name":"macvlan-conf","default-route":[]},{"name":"ipvlan-def","default-route":["192.168.200.1"]}]"#])
        #expect(error?.code == 7 && error?.msg.contains("empty list") == true)
    }

    @Test func defaultNetworkAnnotationMayCarryTheDefaultRoute() throws {
        let c = try config(thin + #","multusNamespace":"default""#)
        let p = try plan(c, [NetworkSelection.defaultNetworkAnnotationKey: #"[{"name":"macvlan-conf","default-route":["172.17.9.1"]}]"#,
                             networks: "ipvlan-def"])
        #expect(p.attachments.map(\.defaultGateways) == [[IPAddress("172.17.9.1")!], []])
        #expect(p.attachments.map(\.dropDefaultRoute) == [true, true])
    }
}

/// The same NAD text with `metadata.namespace` set.
private func moved(_ nad: String, to namespace: String) -> String {
    nad.split(separator: "\n", omittingEmptySubsequences: false).flatMap { line -> [String] in
        line.hasPrefix("  name: ") ? [String(line), "  namespace: \(namespace)"] : [String(line)]
    }.joined(separator: "\n")
}
