// The CNI error result: what the runtime sees on stdout when a command fails.
//
// Codes 0–99 are reserved by the spec (SPEC.md "Error"); libcni adds 8 (invalid netns) and
// 999 (internal), which are not in the spec and so get no constructor here.

public struct CNIError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int
    public var msg: String
    public var details: String

    public init(code: Int, msg: String, details: String = "") {
        self.code = code
        self.msg = msg
        self.details = details
    }

    public var description: String { details.isEmpty ? "CNI error \(code): \(msg)" : "CNI error \(code): \(msg); \(details)" }

    public static func incompatibleVersion(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: 1, msg: msg, details: details)
    }

    /// The spec requires the message to name the key and value of the unsupported field.
    public static func unsupportedField(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: 2, msg: msg, details: details)
    }

    public static func unknownContainer(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: 3, msg: msg, details: details)
    }

    public static func invalidEnvironment(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: 4, msg: msg, details: details)
    }

    public static func ioFailure(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: 5, msg: msg, details: details)
    }

    public static func decodingFailure(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: 6, msg: msg, details: details)
    }

    public static func invalidConfig(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: 7, msg: msg, details: details)
    }

    public static func tryAgainLater(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: 11, msg: msg, details: details)
    }

    /// STATUS: the plugin cannot serve ADD now.
    public static func notAvailable(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: 50, msg: msg, details: details)
    }

    /// STATUS: not available, and existing containers may have limited connectivity.
    public static func notAvailableLimitedConnectivity(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: 51, msg: msg, details: details)
    }

    /// `details` is `omitempty` in the reference `types.Error`, so an empty one is left out.
    public func json(version: String) -> JSON {
        var pairs: [(String, JSON)] = [("cniVersion", .string(version)), ("code", .int(code)), ("msg", .string(msg))]
        if !details.isEmpty { pairs.append(("details", .string(details))) }
        return .obj(pairs)
    }
}
