import SkeinModel

/// An object that may legitimately be absent (a pod deleted meanwhile, a NAD nobody created).
public enum KubeResult<Value> {
    case found(Value)
    case notFound

    public var value: Value? {
        if case .found(let v) = self { return v }
        return nil
    }
}

extension KubeResult: Equatable where Value: Equatable {}
extension KubeResult: Sendable where Value: Sendable {}

/// Time and retry budgets. The defaults suit a CNI ADD: the runtime waits minutes, but a pod start
/// should fail fast and clearly when the API server is down rather than hang.
public struct KubeClientOptions: Equatable, Sendable {
    /// Everything one client call does (retries, conflict re-reads) ends by then.
    public var callTimeoutMs = 10_000
    public var connectTimeoutMs = 2_000
    /// One HTTP exchange (connect, TLS, request, response).
    public var attemptTimeoutMs = 5_000
    /// Attempts of one request on transient failures (unreachable, timeout, 5xx, 429).
    public var maxAttempts = 4
    /// Re-reads of the pod after a 409 Conflict on the status write.
    public var maxConflictRetries = 5
    /// First pause between attempts; doubles each time, at most 1 s.
    public var backoffMs = 100
    public var maxResponseBytes = 8 << 20

    public init() {}
}

/// The few Kubernetes API calls a multi-network plugin makes: read a pod, read a
/// NetworkAttachmentDefinition, write the pod's network-status annotation.
public final class KubeClient {
    public let config: KubeConfig
    public let options: KubeClientOptions
    /// Told about every retry (for the plugin's log); nil keeps quiet.
    public var trace: ((String) -> Void)?
    let http: HTTPClient

    public static let networkStatusAnnotation = "k8s.v1.cni.cncf.io/network-status"

    /// Loads the CA and client identity now: a bad certificate is a config error here, not at first use.
    public init(config: KubeConfig, options: KubeClientOptions = KubeClientOptions()) throws(KubeError) {
        self.config = config
        self.options = options
        self.http = try HTTPClient(server: config.server, tls: config.tls, connectTimeoutMs: options.connectTimeoutMs,
                                   maxResponseBytes: options.maxResponseBytes)
    }

    public func getPod(namespace: String, name: String) throws(KubeError) -> KubeResult<JSON> {
        let path = try KubeClient.podPath(namespace: namespace, name: name)
        return try get(path, deadline: .after(ms: options.callTimeoutMs))
    }

    public func getNAD(namespace: String, name: String) throws(KubeError) -> KubeResult<JSON> {
        try KubeName.checkLabel(namespace, what: "namespace")
        try KubeName.checkSubdomain(name, what: "network-attachment-definition name")
        let path = "/apis/k8s.cni.cncf.io/v1/namespaces/\(namespace)/network-attachment-definitions/\(name)"
        return try get(path, deadline: .after(ms: options.callTimeoutMs))
    }

    static func podPath(namespace: String, name: String) throws(KubeError) -> String {
        try KubeName.checkLabel(namespace, what: "namespace")
        try KubeName.checkSubdomain(name, what: "pod name")
        return "/api/v1/namespaces/\(namespace)/pods/\(name)"
    }

    /// A GET with retries; 404 for the named object is `.notFound`.
    func get(_ path: String, deadline: Deadline) throws(KubeError) -> KubeResult<JSON> {
        let response = try withRetries("GET \(path)", deadline: deadline) { () throws(KubeError) -> HTTPResponse in
            try exchange("GET", path, body: nil, deadline: deadline)
        }
        switch response.status {
        case 200: return .found(try decodeObject(response, "GET \(path)"))
        case 404: return try notFound(response, path: path)
        default: throw statusError(response, "GET \(path)")
        }
    }

    /// One HTTP exchange with the credentials read now; transient answers (5xx, 429) become errors
    /// so that `withRetries` sees them.
    func exchange(_ method: String, _ path: String, body: [UInt8]?, deadline: Deadline) throws(KubeError) -> HTTPResponse {
        guard !deadline.isExpired else { throw KubeError(.timeout, "\(method) \(path): call deadline passed") }
        var headers = [("Accept", "application/json")]
        if let auth = try config.authorization() { headers.append(("Authorization", auth)) }
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let attempt = min(Deadline.after(ms: options.attemptTimeoutMs), deadline)
        let response = try http.request(method, path: path, headers: headers, body: body, deadline: attempt)
        if KubeError.isTransient(status: response.status) { throw statusError(response, "\(method) \(path)") }
        return response
    }

    /// Runs `body` until it succeeds, fails for good, or the attempts or the deadline run out.
    func withRetries<T>(_ what: String, deadline: Deadline, _ body: () throws(KubeError) -> T) throws(KubeError) -> T {
        var delay = options.backoffMs
        var attempt = 1
        while true {
            do throws(KubeError) {
                return try body()
            } catch {
                guard error.isTransient, attempt < options.maxAttempts, deadline.remainingMs > delay else { throw error }
                trace?("\(what): \(error.message); attempt \(attempt + 1) of \(options.maxAttempts) in \(delay) ms")
                backoff(ms: delay, before: deadline)
                attempt += 1
                delay = min(delay * 2, 1000)
            }
        }
    }
}
