import Glibc

/// One HTTP response, body complete (de-chunked).
public struct HTTPResponse: Sendable {
    public let status: Int
    /// Names lowercased, in arrival order.
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.name == n }?.value
    }
}

/// A synchronous HTTP/1.1 client for one server: one connection per request (`Connection: close`),
/// the whole request — connect, handshake, send, receive — bounded by one deadline. A CNI call makes
/// a handful of requests in its life, so pooling would buy nothing and cost a state machine.
public final class HTTPClient {
    public let server: ServerURL
    let tls: TLSContext?
    public var connectTimeoutMs: Int
    public var maxResponseBytes: Int

    /// `tls` is used for https:// servers only; its CA and client identity are loaded here, once.
    public init(server: ServerURL, tls: TLSSettings = TLSSettings(), connectTimeoutMs: Int = 2000,
                maxResponseBytes: Int = 8 << 20) throws(KubeError) {
        self.server = server
        self.tls = server.scheme == .https ? try TLSContext(tls) : nil
        self.connectTimeoutMs = connectTimeoutMs
        self.maxResponseBytes = maxResponseBytes
    }

    /// `path` is appended to the server's path prefix; it may carry a query.
    public func request(_ method: String, path: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                        timeoutMs: Int) throws(KubeError) -> HTTPResponse {
        try request(method, path: path, headers: headers, body: body, deadline: .after(ms: timeoutMs))
    }

    public func request(_ method: String, path: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                        deadline: Deadline) throws(KubeError) -> HTTPResponse {
        let head = try requestHead(method, path: path, headers: headers, bodyCount: body?.count)
        return try withSIGPIPEBlocked { () throws(KubeError) -> HTTPResponse in
            let stream = try connect(deadline: deadline)
            try stream.write(head + (body ?? []), deadline: deadline)
            var reader = ResponseReader(stream: stream, deadline: deadline, limit: maxResponseBytes)
            return try reader.response(isHead: method == "HEAD")
        }
    }

    private func connect(deadline: Deadline) throws(KubeError) -> ByteStream {
        let connectDeadline = Deadline.after(ms: connectTimeoutMs)
        if let tls {
            return try TLSConnection.connect(host: server.host, port: server.port, context: tls,
                                             connectDeadline: connectDeadline, deadline: deadline)
        }
        return try TCPSocket.connect(host: server.host, port: server.port, deadline: min(connectDeadline, deadline))
    }

    func requestHead(_ method: String, path: String, headers: [(String, String)], bodyCount: Int?) throws(KubeError) -> [UInt8] {
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            throw KubeError(.config, "invalid HTTP method \"\(method)\"")
        }
        guard path.hasPrefix("/"), path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw KubeError(.config, "invalid request path \"\(path)\"")
        }
        var text = "\(method) \(server.pathPrefix)\(path) HTTP/1.1\r\nHost: \(server.hostHeader)\r\n"
        text += "User-Agent: skein\r\nConnection: close\r\n"
        for (name, value) in headers {
            // A header value from a token file must not be able to smuggle another header line.
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }),
                  value.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }) else {
                throw KubeError(.config, "invalid HTTP header \"\(name)\"")
            }
            text += "\(name): \(value)\r\n"
        }
        if let bodyCount { text += "Content-Length: \(bodyCount)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }
}

/// OpenSSL writes with plain write(2): a server that closed first would raise SIGPIPE and kill the
/// plugin. Blocking it on this thread for the request (and swallowing one raised meanwhile) turns
/// that into EPIPE without touching the process's signal handlers, which belong to the caller.
func withSIGPIPEBlocked<T>(_ body: () throws(KubeError) -> T) throws(KubeError) -> T {
    var block = sigset_t()
    var old = sigset_t()
    sigemptyset(&block)
    sigaddset(&block, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &block, &old)
    defer {
        if sigismember(&old, SIGPIPE) == 0 {
            var pending = sigset_t()
            sigpending(&pending)
            if sigismember(&pending, SIGPIPE) == 1 {
                var zero = timespec(tv_sec: 0, tv_nsec: 0)
                _ = sigtimedwait(&block, nil, &zero)
            }
        }
        pthread_sigmask(SIG_SETMASK, &old, nil)
    }
    return try body()
}
