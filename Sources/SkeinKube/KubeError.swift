// Every failure of SkeinKube: one type, a kind the caller can branch on, and a message for people.
// The engine maps kinds to CNI codes; nothing here ever matches on message text.

public struct KubeError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// No connection could be made or it broke (refused, reset, name not resolved).
        case unreachable
        /// A connect, a request, or the whole call ran past its deadline.
        case timeout
        /// TLS setup, handshake or certificate verification failed.
        case tls
        /// The server answered with this non-success status.
        case http(Int)
        /// The answer could not be decoded (HTTP framing, size limit, JSON shape).
        case decode
        /// The kubeconfig, the in-cluster environment or a credential file is unusable.
        case config
        /// A namespace or object name is not a DNS-1123 name: refused before any URL is built.
        case invalidName
        /// The pod exists but is another pod than the one asked for (its UID differs).
        case uidMismatch
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind): \(message)" }

    /// Worth another attempt of an idempotent request: the server may be restarting or busy.
    var isTransient: Bool {
        switch kind {
        case .unreachable, .timeout: return true
        case .http(let status): return KubeError.isTransient(status: status)
        default: return false
        }
    }

    static func isTransient(status: Int) -> Bool { status == 429 || (500...599).contains(status) }
}
