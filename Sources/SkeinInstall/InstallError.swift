// The installer's one error type. `kind` decides the exit code and whether waiting could help;
// the message is for the operator reading `kubectl logs`, so it names the file and the fix.

public struct InstallError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// A bad command line: exit 2, nothing touched.
        case usage
        /// A file could not be read or written.
        case io
        /// No default network config appeared within --wait-timeout-s.
        case timeout
        /// Another network config sorts before Skein's, so the runtime would never call Skein.
        case conflict
        /// SIGTERM or SIGINT while waiting.
        case interrupted
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    public var exitCode: Int32 { kind == .usage ? 2 : 1 }
}
