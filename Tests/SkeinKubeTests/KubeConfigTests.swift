import Foundation
import SkeinModel
import Testing
@testable import SkeinKube

@Suite struct KubeConfigTests {
    static let yaml = """
        apiVersion: v1
        kind: Config
        current-context: skein@prod   # the one used
        clusters:
        - name: prod
          cluster:
            server: https://10.96.0.1:6443
            certificate-authority-data: \(b64("CA PEM"))
            tls-server-name: kubernetes.default.svc
        - name: other
          cluster:
            server: https://other.example:443
            insecure-skip-tls-verify: true
        contexts:
        - name: skein@prod
          context: {cluster: prod, user: skein, namespace: kube-system}
        - name: other
          context:
            cluster: other
            user: token-user
        users:
        - name: skein
          user:
            client-certificate-data: \(b64("CERT PEM"))
            client-key-data: \(b64("KEY PEM"))
        - name: token-user
          user:
            token: abc.def-ghi
        """

    @Test func yamlWithDataForms() throws {
        let c = try KubeConfig.parse(kubeconfig: Self.yaml, directory: "/etc/cni/net.d/skein.d")
        #expect(c.server == ServerURL(scheme: .https, host: "10.96.0.1", port: 6443))
        #expect(c.tls == TLSSettings(ca: .pem(Array("CA PEM".utf8)), clientCertificate: .pem(Array("CERT PEM".utf8)),
                                     clientKey: .pem(Array("KEY PEM".utf8)), serverName: "kubernetes.default.svc"))
        #expect(c.token == nil)
        #expect(c.namespace == "kube-system")
    }

    @Test func contextOverrideTokenAndInsecure() throws {
        let c = try KubeConfig.parse(kubeconfig: Self.yaml, directory: "/x", context: "other")
        #expect(c.server.host == "other.example")
        #expect(c.tls == TLSSettings(insecureSkipVerify: true))
        #expect(c.token == .literal("abc.def-ghi"))
        #expect(try c.authorization() == "Bearer abc.def-ghi")
    }

    /// JSON form (what Multus' generated kubeconfig can be), file forms, relative paths.
    @Test func jsonWithFileFormsAndRelativePaths() throws {
        let json = """
            {"apiVersion":"v1","kind":"Config","current-context":"c",
             "clusters":[{"name":"k","cluster":{"server":"https://[fd00::10]","certificate-authority":"pki/ca.crt"}}],
             "contexts":[{"name":"c","context":{"cluster":"k","user":"u"}}],
             "users":[{"name":"u","user":{"client-certificate":"/abs/client.crt","client-key":"client.key",
                                          "token":"ignored","tokenFile":"token"}}]}
            """
        let c = try KubeConfig.parse(kubeconfig: json, directory: "/etc/skein")
        #expect(c.server == ServerURL(scheme: .https, host: "fd00::10", port: 443))
        #expect(c.tls.ca == .file("/etc/skein/pki/ca.crt"))
        #expect(c.tls.clientCertificate == .file("/abs/client.crt"))
        #expect(c.tls.clientKey == .file("/etc/skein/client.key"))
        // As client-go: the file wins over the inline token.
        #expect(c.token == .file("/etc/skein/token"))
        #expect(c.namespace == nil)
    }

    @Test func dataFormWinsOverFileForm() throws {
        let json = """
            {"current-context":"c","clusters":[{"name":"k","cluster":{"server":"https://h",
              "certificate-authority":"ca.crt","certificate-authority-data":"\(b64("inline"))"}}],
             "contexts":[{"name":"c","context":{"cluster":"k"}}]}
            """
        #expect(try KubeConfig.parse(kubeconfig: json, directory: "/d").tls.ca == .pem(Array("inline".utf8)))
    }

    @Test func loadResolvesAgainstTheFilesDirectory() throws {
        let dir = try makeTempDir("skein-kubeconfig")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write("""
            current-context: c
            clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443", certificate-authority: ca.crt}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            users: [{name: u, user: {tokenFile: sa/token}}]
            """, to: dir + "/kubeconfig")
        let c = try KubeConfig.load(kubeconfigPath: dir + "/kubeconfig")
        #expect(c.tls.ca == .file(dir + "/ca.crt"))
        #expect(c.token == .file(dir + "/sa/token"))
    }

    @Test func unusableKubeconfigsAreConfigErrors() {
        let base = #""clusters":[{"name":"k","cluster":{"server":"https://h","certificate-authority-data":"\#(b64("x"))"}}]"#
        let cases: [String] = [
            "{\(base)}",                                                                        // no current-context
            #"{"current-context":"nope",\#(base),"contexts":[]}"#,                              // unknown context
            #"{"current-context":"c","contexts":[{"name":"c","context":{"cluster":"zz"}}],\#(base)}"#,
            #"{"current-context":"c","contexts":[{"name":"c","context":{"cluster":"k","user":"u"}}],\#(base),"users":[{"name":"u","user":{"exec":{"command":"aws"}}}]}"#,
            #"{"current-context":"c","contexts":[{"name":"c","context":{"cluster":"k"}}],"clusters":[{"name":"k","cluster":{"server":"https://h","certificate-authority-data":"!!"}}]}"#,
            #"{"current-context":"c","contexts":[{"name":"c","context":{"cluster":"k"}}],"clusters":[{"name":"k","cluster":{"server":"https://h","certificate-authority":"/ca","insecure-skip-tls-verify":true}}]}"#,
            #"{"current-context":"c","contexts":[{"name":"c","context":{"cluster":"k"}}],"clusters":[{"name":"k","cluster":{"server":"ftp://h"}}]}"#,
            #"{"current-context":"c","contexts":[{"name":"c","context":{"cluster":"k","user":"u"}}],\#(base),"users":[{"name":"u","user":{"token":"a b"}}]}"#,
            "current-context: [unterminated",
        ]
        for text in cases {
            let error = kubeError { () throws(KubeError) in _ = try KubeConfig.parse(kubeconfig: text, directory: "/") }
            #expect(error?.kind == .config, "\(text)")
        }
    }

    @Test func inClusterFromEnvironmentAndServiceAccount() throws {
        let dir = try makeTempDir("skein-sa")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write("tok-1\n", to: dir + "/token")
        try write("kube-system\n", to: dir + "/namespace")
        let env = ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"]
        let c = try KubeConfig.inCluster(environment: { env[$0] }, serviceAccountDir: dir)
        #expect(c.server == ServerURL(scheme: .https, host: "fd00::1", port: 443))
        #expect(c.tls == TLSSettings(ca: .file(dir + "/ca.crt")))
        #expect(c.token == .file(dir + "/token"))
        #expect(c.namespace == "kube-system")
        #expect(try c.authorization() == "Bearer tok-1")
        // Read again on every request: a rotated token is used at once.
        try write("tok-2", to: dir + "/token")
        #expect(try c.authorization() == "Bearer tok-2")
    }

    @Test func inClusterNeedsEnvironmentAndToken() throws {
        let dir = try makeTempDir("skein-sa")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let noEnv = kubeError { () throws(KubeError) in _ = try KubeConfig.inCluster(environment: { _ in nil }, serviceAccountDir: dir) }
        #expect(noEnv?.kind == .config)
        let env = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
        let noToken = kubeError { () throws(KubeError) in _ = try KubeConfig.inCluster(environment: { env[$0] }, serviceAccountDir: dir) }
        #expect(noToken?.kind == .config)
        try write("\n", to: dir + "/token")
        let empty = kubeError { () throws(KubeError) in _ = try KubeConfig.inCluster(environment: { env[$0] }, serviceAccountDir: dir) }
        #expect(empty?.kind == .config)
    }
}

func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

/// The KubeError a body throws, or nil if it returns.
func kubeError(_ body: () throws(KubeError) -> Void) -> KubeError? {
    do { try body(); return nil } catch { return error }
}
