// A small JSON value type with a strict, bounded parser and a deterministic serializer.
//
// Foundation's JSONDecoder costs ≈ 1 ms of start-up and ≈ 3.5 MB of RSS in a static binary
// (see swift-platform-notes): too much for a process the runtime execs on every pod start.
// Numbers keep their literal text so that configs pass through to delegates unchanged.

public struct JSONObject: Equatable, Sendable {
    public var pairs: [(key: String, value: JSON)]

    public init(_ pairs: [(String, JSON)] = []) {
        self.pairs = pairs.map { (key: $0.0, value: $0.1) }
    }

    public var keys: [String] { pairs.map(\.key) }
    public var isEmpty: Bool { pairs.isEmpty }

    /// Lookup is linear: CNI objects have a handful of keys, and order must be preserved.
    public subscript(key: String) -> JSON? {
        get {
            for pair in pairs where pair.key == key { return pair.value }
            return nil
        }
        set {
            if let i = pairs.firstIndex(where: { $0.key == key }) {
                if let newValue { pairs[i].value = newValue } else { pairs.remove(at: i) }
            } else if let newValue {
                pairs.append((key: key, value: newValue))
            }
        }
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        guard a.pairs.count == b.pairs.count else { return false }
        for (x, y) in zip(a.pairs, b.pairs) where x.key != y.key || x.value != y.value { return false }
        return true
    }
}

public enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    public static func int<I: BinaryInteger>(_ v: I) -> JSON { .number(String(v)) }
    public static func obj(_ pairs: [(String, JSON)]) -> JSON { .object(JSONObject(pairs)) }

    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public subscript(index: Int) -> JSON? {
        if case .array(let a) = self, a.indices.contains(index) { return a[index] }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var array: [JSON]? { if case .array(let a) = self { return a }; return nil }
    public var object: JSONObject? { if case .object(let o) = self { return o }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// Integers only: "1.0" or "1e3" are not ints (a config that says mtu 1.5 is wrong, not 1).
    public var int: Int? { if case .number(let n) = self { return Int(n) }; return nil }
    public var uint64: UInt64? { if case .number(let n) = self { return UInt64(n) }; return nil }
    public var double: Double? { if case .number(let n) = self { return Double(n) }; return nil }

    /// The JSON type name, for error messages ("expected a string, got number").
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

public struct JSONError: Error, Equatable, CustomStringConvertible {
    public let offset: Int
    public let message: String
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

public struct JSONLimits: Sendable {
    public var maxDepth: Int
    public var maxBytes: Int
    public static let `default` = JSONLimits(maxDepth: 64, maxBytes: 1 << 20)
    /// For what Skein itself wrote (journal records and rows): they embed a config that passed
    /// `default`, plus a few levels and some bytes of envelope, and must never fail to decode again.
    public static let stored = JSONLimits(maxDepth: 256, maxBytes: 1 << 30)
    public init(maxDepth: Int, maxBytes: Int) { self.maxDepth = maxDepth; self.maxBytes = maxBytes }
}

extension JSON {
    public static func parse(_ text: String, limits: JSONLimits = .default) throws(JSONError) -> JSON {
        try parse(Array(text.utf8), limits: limits)
    }

    public static func parse(_ bytes: [UInt8], limits: JSONLimits = .default) throws(JSONError) -> JSON {
        guard bytes.count <= limits.maxBytes else {
            throw JSONError(offset: limits.maxBytes, message: "document larger than \(limits.maxBytes) bytes")
        }
        return try bytes.withUnsafeBufferPointer { (buf) throws(JSONError) -> JSON in
            var p = JSONParser(buf: buf, maxDepth: limits.maxDepth)
            p.skipSpace()
            let v = try p.value(depth: 0)
            p.skipSpace()
            guard p.i == buf.count else { throw p.error("trailing characters after the document") }
            return v
        }
    }
}

struct JSONParser {
    let buf: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var i = 0

    init(buf: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.buf = buf
        self.maxDepth = maxDepth
    }

    func error(_ m: String) -> JSONError { JSONError(offset: i, message: m) }

    mutating func skipSpace() {
        while i < buf.count {
            switch buf[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    mutating func expect(_ literal: StaticString) throws(JSONError) {
        let n = literal.utf8CodeUnitCount
        guard i + n <= buf.count else { throw error("unexpected end of input") }
        let p = literal.utf8Start
        for k in 0..<n where buf[i + k] != p[k] { throw error("invalid literal") }
        i += n
    }

    mutating func value(depth: Int) throws(JSONError) -> JSON {
        guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth)") }
        guard i < buf.count else { throw error("unexpected end of input") }
        switch buf[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error("unexpected character")
        }
    }

    mutating func object(depth: Int) throws(JSONError) -> JSON {
        i += 1
        var obj = JSONObject()
        // Duplicate-key detection: a linear scan while the object is small (CNI objects are), a set
        // beyond, so a hostile object with 100,000 keys costs O(n), not O(n²).
        var seen: Set<String>?
        skipSpace()
        if i < buf.count, buf[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
        while true {
            skipSpace()
            guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try string()
            skipSpace()
            guard i < buf.count, buf[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipSpace()
            let v = try value(depth: depth + 1)
            // Duplicate keys are ambiguous (Go keeps the last, others the first): refuse them.
            if obj.pairs.count == 16 { seen = Set(obj.pairs.map(\.key)) }
            if seen != nil {
                // insert(_:) on the optional in place: binding it first would copy the set each time.
                if !seen!.insert(key).inserted { throw error("duplicate key \"\(key)\"") }
            } else if obj[key] != nil {
                throw error("duplicate key \"\(key)\"")
            }
            obj.pairs.append((key: key, value: v))
            skipSpace()
            guard i < buf.count else { throw error("unexpected end of input") }
            if buf[i] == UInt8(ascii: ",") { i += 1; continue }
            if buf[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
            throw error("expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws(JSONError) -> JSON {
        i += 1
        var out: [JSON] = []
        skipSpace()
        if i < buf.count, buf[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
        while true {
            skipSpace()
            out.append(try value(depth: depth + 1))
            skipSpace()
            guard i < buf.count else { throw error("unexpected end of input") }
            if buf[i] == UInt8(ascii: ",") { i += 1; continue }
            if buf[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
            throw error("expected ',' or ']'")
        }
    }

    mutating func number() throws(JSONError) -> String {
        let start = i
        if buf[i] == UInt8(ascii: "-") { i += 1 }
        guard i < buf.count else { throw error("truncated number") }
        if buf[i] == UInt8(ascii: "0") {
            i += 1
        } else if isDigit(buf[i]) {
            while i < buf.count, isDigit(buf[i]) { i += 1 }
        } else {
            throw error("invalid number")
        }
        if i < buf.count, buf[i] == UInt8(ascii: ".") {
            i += 1
            guard i < buf.count, isDigit(buf[i]) else { throw error("invalid fraction") }
            while i < buf.count, isDigit(buf[i]) { i += 1 }
        }
        if i < buf.count, buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E") {
            i += 1
            if i < buf.count, buf[i] == UInt8(ascii: "+") || buf[i] == UInt8(ascii: "-") { i += 1 }
            guard i < buf.count, isDigit(buf[i]) else { throw error("invalid exponent") }
            while i < buf.count, isDigit(buf[i]) { i += 1 }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
    }

    func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    mutating func string() throws(JSONError) -> String {
        i += 1
        let start = i
        // Fast path: no escapes. Validate UTF-8 strictly: invalid bytes are a decode error, not U+FFFD.
        while i < buf.count {
            let c = buf[i]
            if c == UInt8(ascii: "\"") {
                let s = try validated(start, i)
                i += 1
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw error("control character in string") }
            i += 1
        }
        var bytes = Array(UnsafeBufferPointer(rebasing: buf[start..<i]))
        while i < buf.count {
            let c = buf[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                guard let s = String(validating: bytes, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
                return s
            }
            if c < 0x20 { throw error("control character in string") }
            if c == UInt8(ascii: "\\") {
                try escape(into: &bytes)
            } else {
                bytes.append(c)
                i += 1
            }
        }
        throw error("unterminated string")
    }

    func validated(_ from: Int, _ to: Int) throws(JSONError) -> String {
        let slice = UnsafeBufferPointer(rebasing: buf[from..<to])
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw JSONError(offset: from, message: "invalid UTF-8 in string")
        }
        return s
    }

    mutating func escape(into bytes: inout [UInt8]) throws(JSONError) {
        i += 1
        guard i < buf.count else { throw error("unterminated escape") }
        let c = buf[i]
        i += 1
        switch c {
        case UInt8(ascii: "\""): bytes.append(0x22)
        case UInt8(ascii: "\\"): bytes.append(0x5C)
        case UInt8(ascii: "/"): bytes.append(0x2F)
        case UInt8(ascii: "b"): bytes.append(0x08)
        case UInt8(ascii: "f"): bytes.append(0x0C)
        case UInt8(ascii: "n"): bytes.append(0x0A)
        case UInt8(ascii: "r"): bytes.append(0x0D)
        case UInt8(ascii: "t"): bytes.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
                guard i + 1 < buf.count, buf[i] == UInt8(ascii: "\\"), buf[i + 1] == UInt8(ascii: "u") else {
                    throw error("unpaired surrogate")
                }
                i += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw error("unpaired surrogate")
            }
            guard let u = Unicode.Scalar(scalar) else { throw error("invalid code point") }
            bytes.append(contentsOf: String(Character(u)).utf8)
        default:
            throw error("invalid escape")
        }
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        guard i + 4 <= buf.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = buf[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid hex digit")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }
}

// MARK: - Serialization

extension JSON {
    /// Compact, deterministic: keys in stored order, no whitespace. Used for hashing, so it must not change.
    public func serialized() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public func serializedBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    public func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .string(let s): JSON.writeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (k, v) in a.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                v.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (k, pair) in o.pairs.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                JSON.writeString(pair.key, into: &out)
                out.append(UInt8(ascii: ":"))
                pair.value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Runs of bytes that need no escaping are copied at once: events are mostly such runs, and a
    /// byte-by-byte append (with a lookup table allocated per string) was a third of an ADD's
    /// instructions. The bytes written are exactly the escaping below (events are hashed).
    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        var s = s
        s.withUTF8 { buf in
            var start = 0
            for i in 0..<buf.count {
                let c = buf[i]
                guard c == 0x22 || c == 0x5C || c < 0x20 else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<i]))
                start = i + 1
                switch c {
                case 0x22: out.append(0x5C); out.append(0x22)
                case 0x5C: out.append(0x5C); out.append(0x5C)
                case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
                default:
                    out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hexDigit(c >> 4), hexDigit(c & 15)])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<buf.count]))
        }
        out.append(0x22)
    }

    private static func hexDigit(_ d: UInt8) -> UInt8 { d < 10 ? 0x30 + d : 0x57 + d }

    /// Indented output for people (skein-journal); never hashed.
    public func pretty(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1)
        let end = String(repeating: "  ", count: indent)
        switch self {
        case .array(let a) where !a.isEmpty:
            return "[\n" + a.map { pad + $0.pretty(indent: indent + 1) }.joined(separator: ",\n") + "\n\(end)]"
        case .object(let o) where !o.isEmpty:
            let body = o.pairs.map { pair -> String in
                pad + JSON.string(pair.key).serialized() + ": " + pair.value.pretty(indent: indent + 1)
            }
            return "{\n" + body.joined(separator: ",\n") + "\n\(end)}"
        default:
            return serialized()
        }
    }
}
