// The parsers that read what a runtime, an operator or a pod's owner hands to skein, as fuzz
// targets: bytes in, and the properties the parsed value must have out. Pure (the parsers are),
// so libFuzzer (tools/fuzz/run.sh), the seeded mutator (`Mutator`, for the CI-scaled run) and the
// regression tests all drive the same code.
//
// A finding is either a crash (a trap, an out-of-bounds access under ASan, a hang) or a violated
// property: the parser accepted something that the code after it trusts not to exist (an ifname
// of 16 bytes, a plugin type with a '/', a stateDir with ".."), or a value that does not survive
// serialization. The properties are checked by code written here, not by the parsers' helpers, so
// a parser and its checker cannot share a mistake.

import SkeinModel

public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `JSON.parse` with the default limits (stdin, NAD configs, annotations).
    case json
    /// `YAML.parse` / `YAML.parseAll` (NAD files, kubeconfig).
    case yaml
    /// `CNIRequest.parse`: the environment and stdin of one invocation (input: env lines, NUL, stdin).
    case cniRequest = "cni-request"
    /// `SkeinConfig.parse`, then the built-in plugin parsers on each delegate, `GCRequest.parse`
    /// and `CNIResult.parse` on a prevResult.
    case skeinConfig = "skein-config"
    /// `NetworkSelection.parse` (both annotation forms), then `MetaPlan.build` on the selections.
    case networkSelection = "network-selection"
    /// `NetworkAttachmentDefinition.parse` of one file's text, and `NADDirectory` over it.
    case nad

    /// Runs the parser on `input` and checks what it accepted.
    public func run(_ input: [UInt8]) -> FuzzOutcome {
        var outcome = FuzzOutcome()
        switch self {
        case .json: Self.json(input, &outcome)
        case .yaml: Self.yaml(input, &outcome)
        case .cniRequest: Self.cniRequest(input, &outcome)
        case .skeinConfig: Self.skeinConfig(input, &outcome)
        case .networkSelection: Self.networkSelection(input, &outcome)
        case .nad: Self.nad(input, &outcome)
        }
        return outcome
    }
}

/// What one input did: whether the parser accepted it, and every property it broke.
public struct FuzzOutcome: Sendable, Equatable {
    public var accepted = false
    public var violations: [String] = []

    public init() {}

    mutating func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { violations.append(message()) }
    }
}

/// Independent restatements of the rules the code after the parsers relies on.
enum Rule {
    /// Container IDs and network names: `^[A-Za-z0-9][A-Za-z0-9_.-]*$`, at most 253 bytes.
    static func isCNIName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard let first = u.first, u.count <= 253, isAlnum(first) else { return false }
        return u.allSatisfy { isAlnum($0) || $0 == 0x5F || $0 == 0x2E || $0 == 0x2D }
    }

    static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }

    /// What the kernel takes as a link name: 1–15 bytes, not "." or "..", no '/', ':', NUL or whitespace.
    static func isIfname(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= 15, s != ".", s != ".." else { return false }
        return !s.unicodeScalars.contains { $0 == "/" || $0 == ":" || $0 == "\0" || $0.properties.isWhitespace }
    }

    /// A plugin type is looked up in CNI_PATH: a plain file name.
    static func isPlainType(_ s: String) -> Bool {
        !s.isEmpty && s != "." && !s.contains("..") && !s.utf8.contains(0x2F) && !s.utf8.contains(0)
    }

    /// An absolute path with no ".." component and no NUL.
    static func isConfinedPath(_ s: String) -> Bool {
        s.utf8.first == 0x2F && !s.utf8.contains(0) && !s.split(separator: "/").contains("..")
    }

    /// Nesting of arrays and objects (a scalar is 0).
    static func nesting(_ v: JSON) -> Int {
        switch v {
        case .array(let a): return 1 + (a.map(nesting).max() ?? 0)
        case .object(let o): return 1 + (o.pairs.map { nesting($0.value) }.max() ?? 0)
        default: return 0
        }
    }

    /// A value written by `serializedBytes` reads back as itself, and writes the same bytes again.
    static func roundTrips(_ v: JSON, _ what: String, _ outcome: inout FuzzOutcome) {
        let bytes = v.serializedBytes()
        guard let again = try? JSON.parse(bytes, limits: .stored) else {
            outcome.violations.append("\(what): its serialization is not JSON: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
            return
        }
        outcome.check(again == v, "\(what): serialization round trip changed the value")
        outcome.check(again.serializedBytes() == bytes, "\(what): serialization is not deterministic")
    }
}
