// The API server's address as a kubeconfig or the in-cluster environment gives it:
// `https://host[:port][/path-prefix]`, host a name, an IPv4 literal or a bracketed IPv6 literal.
// Proxies in front of several clusters (Rancher) put a path prefix before `/api`; it is kept.

public struct ServerURL: Equatable, Sendable, CustomStringConvertible {
    public enum Scheme: String, Sendable { case http, https }

    public let scheme: Scheme
    /// Without brackets for IPv6 (what connect and certificate verification want).
    public let host: String
    public let port: UInt16
    /// Empty, or starts with "/" and does not end with one.
    public let pathPrefix: String

    public init(scheme: Scheme, host: String, port: UInt16, pathPrefix: String = "") {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix
    }

    public static func parse(_ text: String) throws(KubeError) -> ServerURL {
        let scheme: Scheme
        var rest: Substring
        if text.hasPrefix("https://") {
            scheme = .https; rest = text.dropFirst(8)
        } else if text.hasPrefix("http://") {
            scheme = .http; rest = text.dropFirst(7)
        } else {
            throw KubeError(.config, "server \"\(text)\": only https:// and http:// URLs are supported")
        }
        var prefix = ""
        if let slash = rest.firstIndex(of: "/") {
            prefix = String(rest[slash...])
            rest = rest[..<slash]
            while prefix.hasSuffix("/") { prefix.removeLast() }
            guard prefix.utf8.allSatisfy(isPathByte) else {
                throw KubeError(.config, "server \"\(text)\": the path may not contain queries, spaces or control characters")
            }
        }
        let (host, port) = try splitHostPort(rest, defaultPort: scheme == .https ? 443 : 80, url: text)
        return ServerURL(scheme: scheme, host: host, port: port, pathPrefix: prefix)
    }

    /// From KUBERNETES_SERVICE_HOST/PORT, which give a bare IPv6 literal without brackets.
    public static func inCluster(host: String, port: String) throws(KubeError) -> ServerURL {
        let h = host.contains(":") ? "[\(host)]" : host
        return try parse("https://\(h):\(port)")
    }

    static func splitHostPort(_ authority: Substring, defaultPort: UInt16, url: String) throws(KubeError) -> (String, UInt16) {
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw KubeError(.config, "server \"\(url)\": unterminated [") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw KubeError(.config, "server \"\(url)\": junk after ]") }
                portText = after.dropFirst()
            }
            guard IPLiteral.isIPv6(String(host)) else { throw KubeError(.config, "server \"\(url)\": invalid IPv6 literal") }
        } else {
            host = authority
            if let colon = authority.lastIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            }
            guard !host.isEmpty, host.utf8.allSatisfy(isHostByte) else {
                throw KubeError(.config, "server \"\(url)\": invalid host")
            }
        }
        var port = defaultPort
        if let portText {
            guard let p = UInt16(portText), p > 0 else { throw KubeError(.config, "server \"\(url)\": invalid port") }
            port = p
        }
        return (String(host), port)
    }

    /// `Host` header value: brackets for IPv6, the port only when it is not the scheme's default.
    var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        let defaultPort: UInt16 = scheme == .https ? 443 : 80
        return port == defaultPort ? h : "\(h):\(port)"
    }

    public var description: String { "\(scheme.rawValue)://\(hostHeader)\(pathPrefix)" }
}

private func isHostByte(_ c: UInt8) -> Bool {
    switch c {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
         UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
        return true
    default:
        return false
    }
}

/// Bytes allowed in a request path we build or forward: visible ASCII except the query/fragment marks.
func isPathByte(_ c: UInt8) -> Bool {
    c > 0x20 && c < 0x7F && c != UInt8(ascii: "?") && c != UInt8(ascii: "#")
}
