import Glibc
import SkeinModel

/// A bearer token, by value or by file.
public enum BearerToken: Equatable, Sendable {
    case literal(String)
    /// Re-read before every request, never cached: kubelet rotates projected service-account tokens
    /// in place, and a token read once would start failing an hour later.
    case file(String)
}

/// Where the API server is and how to talk to it: from a kubeconfig file or the in-cluster environment.
public struct KubeConfig: Equatable, Sendable {
    public var server: ServerURL
    public var tls: TLSSettings
    public var token: BearerToken?
    /// The kubeconfig context's namespace, or the service account's; nil when not given.
    public var namespace: String?

    public init(server: ServerURL, tls: TLSSettings, token: BearerToken? = nil, namespace: String? = nil) {
        self.server = server
        self.tls = tls
        self.token = token
        self.namespace = namespace
    }

    public static let serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The process environment, for `inCluster`.
    public static func processEnvironment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// As a pod with a service account sees the API: KUBERNETES_SERVICE_HOST/PORT, and the mounted
    /// token and CA. The token must be readable now (a missing mount is a config error up front),
    /// and is read again for every request.
    public static func inCluster(environment: (String) -> String? = processEnvironment,
                                 serviceAccountDir: String = serviceAccountDir) throws(KubeError) -> KubeConfig {
        guard let host = environment("KUBERNETES_SERVICE_HOST"), !host.isEmpty,
              let port = environment("KUBERNETES_SERVICE_PORT"), !port.isEmpty else {
            throw KubeError(.config, "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
        }
        let token = BearerToken.file(serviceAccountDir + "/token")
        _ = try token.read()
        let namespace = try? readFile(serviceAccountDir + "/namespace", limit: 256)
        return KubeConfig(server: try .inCluster(host: host, port: port),
                          tls: TLSSettings(ca: .file(serviceAccountDir + "/ca.crt")),
                          token: token,
                          namespace: namespace.map { String(decoding: $0, as: UTF8.self).trimmingWhitespace() }.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// The value for the Authorization header, read now (files are never cached).
    func authorization() throws(KubeError) -> String? {
        try token.map { (t) throws(KubeError) -> String in "Bearer " + (try t.read()) }
    }
}

extension BearerToken {
    func read() throws(KubeError) -> String {
        let text: String
        switch self {
        case .literal(let s): text = s
        case .file(let path): text = String(decoding: try readFile(path, limit: 64 << 10), as: UTF8.self)
        }
        let token = text.trimmingWhitespace()
        let source = if case .file(let path) = self { "token file \(path)" } else { "token" }
        guard !token.isEmpty else { throw KubeError(.config, "\(source) is empty") }
        // Printable ASCII only: anything else could not be a JWT or an opaque token, and a CR/LF
        // inside would split the request header.
        guard token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw KubeError(.config, "\(source) contains whitespace or non-printable characters")
        }
        return token
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
