import Foundation
import SkeinModel
import Testing
@testable import SkeinKube

/// The API calls against the fake server (see FakeAPIServer.swift for why a fake): each test starts
/// its own, on a free port with a fresh CA, and stops it in its `defer`.
@Suite struct KubeClientTests {
    static let statusKey = "k8s.v1.cni.cncf.io/network-status"
    static let statusValue = #"[{"name":"default/macvlan-conf","interface":"net1","ips":["10.1.0.5"],"mac":"0a:58:0a:01:00:05"}]"#

    func client(_ server: FakeAPIServer, token: BearerToken? = nil, options: KubeClientOptions = KubeClientOptions()) throws -> KubeClient {
        let config = KubeConfig(server: try .parse(server.url), tls: TLSSettings(ca: .file(server.caPath)), token: token)
        return try KubeClient(config: config, options: options)
    }

    @Test func getPodAndNAD() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let kube = try client(server)
        let pod = try kube.getPod(namespace: "default", name: "web-0").value
        #expect(pod?["metadata"]?["uid"]?.string == "0b7c6a34-uid-web-0")
        let nad = try kube.getNAD(namespace: "default", name: "macvlan-conf").value
        #expect(nad?["spec"]?["config"]?.string?.contains("macvlan") == true)
        #expect(server.requests().map { $0["path"]?.string } == [
            "/api/v1/namespaces/default/pods/web-0",
            "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/macvlan-conf",
        ])
    }

    @Test func missingPodAndNADAreNotFound() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let kube = try client(server)
        #expect(try kube.getPod(namespace: "default", name: "gone") == .notFound)
        #expect(try kube.getNAD(namespace: "default", name: "no-such-net") == .notFound)
        #expect(try kube.getNAD(namespace: "other", name: "macvlan-conf") == .notFound)
    }

    /// No NAD CRD: the server does not serve the resource at all, which is a setup error, not "no NAD".
    @Test func unservedNADResourceIsAnError() throws {
        let server = try FakeAPIServer(control: #"{"noNADs": true}"#)
        defer { server.stop() }
        let kube = try client(server)
        let error = kubeError { () throws(KubeError) in _ = try kube.getNAD(namespace: "default", name: "macvlan-conf") }
        #expect(error?.kind == .http(404))
    }

    @Test func invalidNamesNeverReachTheServer() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let kube = try client(server)
        for (ns, name) in [("default", "../secrets"), ("Default", "web-0"), ("default", "web?x=1"), ("a/b", "c"), ("", "web-0")] {
            let e1 = kubeError { () throws(KubeError) in _ = try kube.getPod(namespace: ns, name: name) }
            let e2 = kubeError { () throws(KubeError) in _ = try kube.getNAD(namespace: ns, name: name) }
            let e3 = kubeError { () throws(KubeError) in try kube.setNetworkStatus(namespace: ns, name: name, uid: nil, value: "[]") }
            #expect(e1?.kind == .invalidName && e2?.kind == .invalidName && e3?.kind == .invalidName, "\(ns)/\(name)")
        }
        #expect(server.requests().isEmpty)
    }

    /// The token file is read for every request: after rotation the same client goes on working.
    @Test func tokenRotation() throws {
        let server = try FakeAPIServer(control: #"{"token": "token-1"}"#)
        defer { server.stop() }
        let tokenPath = server.dir + "/token"
        try write("token-1\n", to: tokenPath)
        let kube = try client(server, token: .file(tokenPath))
        #expect(try kube.getPod(namespace: "default", name: "web-0").value != nil)

        try server.setControl(#"{"token": "token-2"}"#)
        let stale = kubeError { () throws(KubeError) in _ = try kube.getPod(namespace: "default", name: "web-0") }
        #expect(stale?.kind == .http(401))

        try write("token-2\n", to: tokenPath)
        #expect(try kube.getPod(namespace: "default", name: "web-0").value != nil)
        #expect(server.requests().map { $0["auth"]?.string } == ["Bearer token-1", "Bearer token-1", "Bearer token-2"])
        #expect(server.requests().map { $0["status"]?.int } == [200, 401, 200])
    }

    @Test func getRetriesTransientFailures() throws {
        let server = try FakeAPIServer(control: #"{"unavailable": 2}"#)
        defer { server.stop() }
        let kube = try client(server)
        var traced: [String] = []
        kube.trace = { traced.append($0) }
        #expect(try kube.getPod(namespace: "default", name: "web-0").value != nil)
        #expect(server.requests().map { $0["status"]?.int } == [503, 503, 200])
        #expect(traced.count == 2)
    }

    @Test func retriesAreBounded() throws {
        let server = try FakeAPIServer(control: #"{"unavailable": 100}"#)
        defer { server.stop() }
        var options = KubeClientOptions()
        options.maxAttempts = 3
        options.backoffMs = 10
        let kube = try client(server, options: options)
        let error = kubeError { () throws(KubeError) in _ = try kube.getPod(namespace: "default", name: "web-0") }
        #expect(error?.kind == .http(503))
        #expect(server.requests().count == 3)
    }

    @Test func setNetworkStatusWritesTheAnnotation() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let kube = try client(server)
        let written = try kube.setNetworkStatus(namespace: "default", name: "web-0", uid: "0b7c6a34-uid-web-0", value: Self.statusValue)
        #expect(written["metadata"]?["resourceVersion"]?.string == "2")
        let pod = try kube.getPod(namespace: "default", name: "web-0").value
        let annotations = pod?["metadata"]?["annotations"]
        #expect(annotations?[Self.statusKey]?.string == Self.statusValue)
        #expect(annotations?["k8s.v1.cni.cncf.io/networks"]?.string == "macvlan-conf")
        #expect(server.requests().map { "\($0["method"]?.string ?? "") \($0["path"]?.string ?? "")" } == [
            "GET /api/v1/namespaces/default/pods/web-0",
            "PUT /api/v1/namespaces/default/pods/web-0/status",
            "GET /api/v1/namespaces/default/pods/web-0",
        ])
        // The same value again: nothing to write.
        try kube.setNetworkStatus(namespace: "default", name: "web-0", uid: nil, value: Self.statusValue)
        #expect(server.requests().filter { $0["method"]?.string == "PUT" }.count == 1)
    }

    /// A pod without any annotations gets the map created.
    @Test func setNetworkStatusOnAPodWithoutAnnotations() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let written = try client(server).setNetworkStatus(namespace: "kube-system", name: "bare", uid: "uid-bare", value: "[]")
        #expect(written["metadata"]?["annotations"]?.object?.keys == [Self.statusKey])
    }

    /// Conflicts re-read the pod and keep the other writer's change.
    @Test func conflictsAreRetried() throws {
        let server = try FakeAPIServer(control: #"{"conflicts": 3}"#)
        defer { server.stop() }
        let written = try client(server).setNetworkStatus(namespace: "default", name: "web-0", uid: nil, value: Self.statusValue)
        #expect(written["metadata"]?["annotations"]?[Self.statusKey]?.string == Self.statusValue)
        #expect(written["metadata"]?["annotations"]?["other-writer"]?.string == "4")
        let log = server.requests().map { "\($0["method"]?.string ?? "") \($0["status"]?.int ?? 0)" }
        #expect(log == ["GET 200", "PUT 409", "GET 200", "PUT 409", "GET 200", "PUT 409", "GET 200", "PUT 200"])
    }

    @Test func conflictRetriesAreBounded() throws {
        let server = try FakeAPIServer(control: #"{"conflicts": 6}"#)
        defer { server.stop() }
        let kube = try client(server)
        let error = kubeError { () throws(KubeError) in
            try kube.setNetworkStatus(namespace: "default", name: "web-0", uid: nil, value: Self.statusValue)
        }
        #expect(error?.kind == .http(409))
        #expect(server.requests().filter { $0["method"]?.string == "PUT" }.count == 6)
    }

    @Test func anotherPodOfTheSameNameIsLeftAlone() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let kube = try client(server)
        let error = kubeError { () throws(KubeError) in
            try kube.setNetworkStatus(namespace: "default", name: "web-0", uid: "uid-of-a-deleted-pod", value: "[]")
        }
        #expect(error?.kind == .uidMismatch)
        #expect(server.requests().map { $0["method"]?.string } == ["GET"])
    }

    @Test func setNetworkStatusOnAMissingPod() throws {
        let server = try FakeAPIServer()
        defer { server.stop() }
        let kube = try client(server)
        let error = kubeError { () throws(KubeError) in
            try kube.setNetworkStatus(namespace: "default", name: "gone", uid: nil, value: "[]")
        }
        #expect(error?.kind == .http(404))
    }

    @Test func unreachableServerFailsWithinBoundedTime() throws {
        let port = try closedPort()
        let config = KubeConfig(server: try .parse("https://127.0.0.1:\(port)"), tls: TLSSettings(insecureSkipVerify: true))
        let kube = try KubeClient(config: config)
        let start = Date()
        let error = kubeError { () throws(KubeError) in _ = try kube.getPod(namespace: "default", name: "web-0") }
        let elapsed = Date().timeIntervalSince(start)
        #expect(error?.kind == .unreachable)
        // Four attempts, 100 + 200 + 400 ms of backoff: well under the call's 10 s deadline.
        #expect(elapsed > 0.6 && elapsed < 4, "\(elapsed)")
    }

    @Test func hangingServerHitsTheCallDeadline() throws {
        let server = try FakeAPIServer(control: #"{"hang": true}"#)
        defer { server.stop() }
        var options = KubeClientOptions()
        options.callTimeoutMs = 1500
        options.attemptTimeoutMs = 600
        let kube = try client(server, options: options)
        let start = Date()
        let error = kubeError { () throws(KubeError) in _ = try kube.getPod(namespace: "default", name: "web-0") }
        let elapsed = Date().timeIntervalSince(start)
        #expect(error?.kind == .timeout)
        // The server would hang for 60 s. Two 0.6 s attempts with 0.1 s between them; a third would
        // not fit in what is left of the 1.5 s call after the next backoff, so the call ends there.
        #expect(elapsed >= 1.25 && elapsed < 4, "\(elapsed)")
        #expect(server.requests().first?["status"]?.string == "hang")
    }

    /// End to end from kubeconfig files: YAML with inline data and client-certificate auth, JSON
    /// with file paths relative to the kubeconfig and a token file.
    @Test func kubeconfigDrivesTheClient() throws {
        let server = try FakeAPIServer(control: #"{"token": "from-file"}"#)
        defer { server.stop() }
        func data(_ path: String) throws -> String { try Data(contentsOf: URL(fileURLWithPath: path)).base64EncodedString() }
        try write("""
            apiVersion: v1
            kind: Config
            current-context: node
            clusters:
            - name: test
              cluster:
                server: \(server.url)
                certificate-authority-data: \(try data(server.caPath))
            contexts:
            - name: node
              context:
                cluster: test
                user: node
            users:
            - name: node
              user:
                client-certificate-data: \(try data(server.clientCertPath))
                client-key-data: \(try data(server.clientKeyPath))
            """, to: server.dir + "/yaml.kubeconfig")
        try FileManager.default.createDirectory(atPath: server.dir + "/conf", withIntermediateDirectories: true)
        try write("from-file", to: server.dir + "/conf/token")
        try write("""
            {"current-context":"sa","clusters":[{"name":"t","cluster":{"server":"\(server.url)","certificate-authority":"../ca.crt"}}],
             "contexts":[{"name":"sa","context":{"cluster":"t","user":"sa"}}],"users":[{"name":"sa","user":{"tokenFile":"token"}}]}
            """, to: server.dir + "/conf/json.kubeconfig")
        for path in [server.dir + "/yaml.kubeconfig", server.dir + "/conf/json.kubeconfig"] {
            let kube = try KubeClient(config: try KubeConfig.load(kubeconfigPath: path))
            #expect(try kube.getPod(namespace: "default", name: "web-0").value != nil, "\(path)")
        }
        let log = server.requests()
        #expect(log.map { $0["status"]?.int } == [200, 200])
        #expect(log[0]["cn"]?.string == "system:node:test" && log[0]["auth"] == .null)
        #expect(log[1]["auth"]?.string == "Bearer from-file")
    }

    @Test func inClusterConfigDrivesTheClient() throws {
        let server = try FakeAPIServer(control: #"{"token": "sa-token"}"#)
        defer { server.stop() }
        let sa = server.dir + "/serviceaccount"
        try FileManager.default.createDirectory(atPath: sa, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: server.caPath, toPath: sa + "/ca.crt")
        try write("sa-token", to: sa + "/token")
        let env = ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": String(server.port)]
        let kube = try KubeClient(config: try KubeConfig.inCluster(environment: { env[$0] }, serviceAccountDir: sa))
        #expect(try kube.getNAD(namespace: "default", name: "macvlan-conf").value != nil)
        #expect(server.requests().first?["auth"]?.string == "Bearer sa-token")
    }
}
