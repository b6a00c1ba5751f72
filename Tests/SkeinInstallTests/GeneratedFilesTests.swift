import Testing
@testable import SkeinInstall
import SkeinKube
import SkeinModel

@Suite("Generated config and kubeconfig")
struct GeneratedFilesTests {
    @Test(arguments: [
        (["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"], "https://10.96.0.1:443"),
        (["KUBERNETES_SERVICE_HOST": "fd00:10:96::1", "KUBERNETES_SERVICE_PORT": "443"], "https://[fd00:10:96::1]:443"),
        (["KUBERNETES_SERVICE_HOST": "api.example.internal", "KUBERNETES_SERVICE_PORT": "6443"], "https://api.example.internal:6443"),
    ])
    func serverFromTheServiceEnvironment(_ env: [String: String], _ url: String) throws {
        #expect(try GeneratedFiles.serverURL(InstallOptions(), environment: env) == url)
    }

    @Test func serverEnvironmentIsChecked() throws {
        for env in [[:], ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "99999"],
                    ["KUBERNETES_SERVICE_HOST": "10.0.0.1/evil", "KUBERNETES_SERVICE_PORT": "443"]] {
            #expect(throws: InstallError.self) { try GeneratedFiles.serverURL(InstallOptions(), environment: env) }
        }
        var o = InstallOptions()
        o.apiServer = "https://192.0.2.10:6443"
        #expect(try GeneratedFiles.serverURL(o, environment: [:]) == "https://192.0.2.10:6443")
    }

    /// Read back by the client the skein binary uses: token by file (re-read per request), CA by file.
    @Test func kubeconfigReadsBackThroughSkeinKube() throws {
        let text = String(decoding: GeneratedFiles.kubeconfig(server: "https://[fd00::1]:443",
                                                              caPath: "/etc/cni/net.d/skein.d/skein-ca.crt",
                                                              tokenPath: "/etc/cni/net.d/skein.d/skein.token"), as: UTF8.self)
        let config = try KubeConfig.parse(kubeconfig: text, directory: "/etc/cni/net.d/skein.d")
        #expect(config.server == ServerURL(scheme: .https, host: "fd00::1", port: 443))
        #expect(config.token == .file("/etc/cni/net.d/skein.d/skein.token"))
        #expect(config.tls.ca == .file("/etc/cni/net.d/skein.d/skein-ca.crt"))
        #expect(!text.contains("token:"), "no inlined token")
    }

    /// The installed config as the runtime hands it to skein (libcni injects name and cniVersion
    /// into the plugin object) must be accepted by the binary's own parser, and every key the
    /// installer writes must land in the typed field it means (a misspelt key would not).
    @Test func generatedConfigIsOneTheBinaryAccepts() throws {
        let node = try TempNode("parse")
        try node.addDefaultNetwork()
        let flags = ["--log-level=debug", "--log-file=/var/log/skein.log", "--log-to-stderr=false",
                     "--readiness-indicator-file=/run/flannel/subnet.env", "--multus-namespace=infra",
                     "--system-namespaces=kube-system,infra", "--default-networks=mon", "--namespace-isolation",
                     "--global-namespaces=default,shared", "--nad-dir=/etc/skein/nads",
                     "--state-dir=/var/lib/skein2", "--network-name=multi", "--kubeconfig=/etc/skein/kubeconfig"]
        let settingFlags = InstallFlags.table.filter { $0.configKey != nil }
        #expect(Set(settingFlags.map(\.name)) == Set(flags.map { String($0.split(separator: "=")[0]) }), "every config flag is exercised")
        let parsedFlags = try InstallFlags.parse(["install"] + flags).options
        _ = try node.installer { o in
            let keep = o
            o = parsedFlags
            o.hostRoot = keep.hostRoot; o.sourceDir = keep.sourceDir; o.tokenFile = keep.tokenFile; o.caFile = keep.caFile
        }.install()

        let list = try JSON.parse(#require(node.read(node.confDir + "/00-skein.conflist")))
        var plugin = try #require(list["plugins"]?[0]?.object)
        plugin["name"] = list["name"]
        plugin["cniVersion"] = list["cniVersion"]
        let c = try SkeinConfig.parse(.object(plugin))
        #expect(c.name == "multi")
        #expect(c.cniVersion == "0.3.1")
        #expect(c.clusterNetwork == "/etc/cni/net.d/10-flannel.conflist")
        #expect(c.delegates.isEmpty)
        #expect(c.kubeconfig == "/etc/skein/kubeconfig")
        #expect(c.stateDir == "/var/lib/skein2")
        #expect(c.logLevel == .debug)
        #expect(c.logFile == "/var/log/skein.log")
        #expect(c.logToStderr == false)
        #expect(c.readinessIndicatorFile == "/run/flannel/subnet.env")
        #expect(c.multusNamespace == "infra")
        #expect(c.systemNamespaces == ["kube-system", "infra"])
        #expect(c.defaultNetworks == ["mon"])
        #expect(c.namespaceIsolation)
        #expect(c.globalNamespaces == ["default", "shared"])
        #expect(c.nadDir == "/etc/skein/nads")
        #expect(c.capabilities == JSONObject([("bandwidth", .bool(true)), ("portMappings", .bool(true))]))
        #expect(Set(plugin.keys) == Set(settingFlags.compactMap(\.configKey).filter { $0 != "name" }
            + ["type", "clusterNetwork", "capabilities", "name", "cniVersion"]), "no key beyond the ones checked above")
    }

    @Test func configBytesAreAFunctionOfTheInputs() {
        let n = DefaultNetwork(fileName: "10-x.conflist", cniVersion: .string("0.4.0"), cniVersions: nil, capabilities: ["portMappings"])
        #expect(GeneratedFiles.conflist(n, options: InstallOptions()) == GeneratedFiles.conflist(n, options: InstallOptions()))
        let text = String(decoding: GeneratedFiles.conflist(n, options: InstallOptions()), as: UTF8.self)
        #expect(text.hasSuffix("}\n"))
        #expect(text.contains(#""clusterNetwork": "/etc/cni/net.d/10-x.conflist""#))
    }
}
