import SkeinModel

// The audit export's two encodings of an AuditRecord — JSON Lines and CSV (RFC 4180) — and a
// streaming reader for both. Both encode the same named columns, so `audit verify` checks one
// column list whatever the file's format.

public enum AuditFormat: String, Sendable {
    case jsonl
    case csv

    public static let columns = ["seq", "exportPrev", "hash", "prev", "time", "timeNs", "node", "type", "cause",
                                 "namespace", "pod", "podUID", "containerID", "ifname", "network", "ips", "mac",
                                 "outcome", "code", "error", "durationMs", "keys", "raw"]

    /// The header line of a CSV export (CRLF-terminated, as RFC 4180 has it).
    public static var csvHeader: [UInt8] { Array((columns.joined(separator: ",") + "\r\n").utf8) }

    public func encode(_ r: AuditRecord) -> [UInt8] {
        switch self {
        case .jsonl:
            var out = r.json.serializedBytes()
            out.append(0x0A)
            return out
        case .csv:
            var out: [UInt8] = []
            for (i, value) in r.columns.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                CSV.appendField(value, to: &out)
            }
            out.append(contentsOf: [0x0D, 0x0A])
            return out
        }
    }
}

extension AuditRecord {
    /// Column values as text, in `AuditFormat.columns` order: lists joined by single spaces, absent
    /// values empty. This is the form `audit verify` compares.
    public var columns: [String] {
        [String(seq), String(exportPrev), hash, prev, time, String(timeNs), node, type, cause,
         namespace ?? "", pod ?? "", podUID ?? "", containerID ?? "", ifname ?? "", network ?? "",
         ips.joined(separator: " "), mac ?? "", outcome, code.map(String.init) ?? "", message ?? "",
         durationMs.map(String.init) ?? "", keys.joined(separator: " "), Base64.encode(raw)]
    }

    /// One JSON object with every column (null when absent, arrays for ips and keys).
    public var json: JSON {
        func s(_ v: String?) -> JSON { v.map { JSON.string($0) } ?? .null }
        func n<I: BinaryInteger>(_ v: I?) -> JSON { v.map { JSON.int($0) } ?? .null }
        return .obj([
            ("seq", .int(seq)), ("exportPrev", .int(exportPrev)), ("hash", .string(hash)), ("prev", .string(prev)),
            ("time", .string(time)), ("timeNs", .int(timeNs)), ("node", .string(node)), ("type", .string(type)),
            ("cause", .string(cause)), ("namespace", s(namespace)), ("pod", s(pod)), ("podUID", s(podUID)),
            ("containerID", s(containerID)), ("ifname", s(ifname)), ("network", s(network)),
            ("ips", .array(ips.map { .string($0) })), ("mac", s(mac)), ("outcome", .string(outcome)),
            ("code", n(code)), ("error", s(message)), ("durationMs", n(durationMs)),
            ("keys", .array(keys.map { .string($0) })), ("raw", .string(Base64.encode(raw))),
        ])
    }
}

/// One JSONL object as column texts (the inverse of `AuditRecord.json` under `columns`).
func jsonlColumns(_ json: JSON) -> [String: String]? {
    guard case .object(let o) = json else { return nil }
    var out: [String: String] = [:]
    for (key, value) in o.pairs {
        switch value {
        case .null: out[key] = ""
        case .string(let s): out[key] = s
        case .number(let n): out[key] = n
        case .bool(let b): out[key] = b ? "true" : "false"
        case .array(let a):
            var parts: [String] = []
            for v in a {
                guard let s = v.string else { return nil }
                parts.append(s)
            }
            out[key] = parts.joined(separator: " ")
        case .object: return nil
        }
    }
    return out
}

public enum CSV {
    /// RFC 4180: a field with a comma, quote, CR or LF is quoted, and its quotes doubled.
    public static func appendField(_ value: String, to out: inout [UInt8]) {
        let bytes = Array(value.utf8)
        let special = bytes.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0D || $0 == 0x0A }
        guard special else { out.append(contentsOf: bytes); return }
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            if b == UInt8(ascii: "\"") { out.append(b) }
            out.append(b)
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// A record read back from an export: its column texts and the line it starts on (1-based).
public struct AuditLine: Sendable {
    public var line: Int
    public var fields: [String: String]
}

public struct AuditParseError: Error, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

/// Splits a byte stream into export records as it arrives (bounded memory: one record buffered).
/// The format is taken from the first byte: `{` is JSON Lines, anything else CSV with a header.
public struct AuditReader {
    public private(set) var format: AuditFormat?
    private var field: [UInt8] = []
    private var row: [String] = []
    private var inQuotes = false
    private var line = 1
    private var recordLine = 1
    private var header: [String]?

    public init() {}

    /// Feeds bytes; `emit` receives each complete record.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (AuditLine) throws -> Void) throws {
        for b in bytes {
            if format == nil {
                if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { if b == 0x0A { line += 1; recordLine = line }; continue }
                format = b == UInt8(ascii: "{") ? .jsonl : .csv
            }
            if format == .jsonl { try jsonlByte(b, emit) } else { try csvByte(b, emit) }
        }
    }

    /// Ends the stream: a last record without a newline still counts; an open quote is an error.
    public mutating func finish(_ emit: (AuditLine) throws -> Void) throws {
        if format == .jsonl, !field.isEmpty { try jsonlByte(0x0A, emit) }
        if format == .csv {
            guard !inQuotes else { throw AuditParseError(line: recordLine, message: "unterminated quoted field") }
            if !field.isEmpty || !row.isEmpty { try csvByte(0x0A, emit) }
        }
    }

    private mutating func jsonlByte(_ b: UInt8, _ emit: (AuditLine) throws -> Void) throws {
        guard b == 0x0A else { field.append(b); return }
        defer { field.removeAll(keepingCapacity: true); line += 1; recordLine = line }
        if field.last == 0x0D { field.removeLast() }
        guard field.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return }
        let json: JSON
        do { json = try JSON.parse(field, limits: .stored) } catch {
            throw AuditParseError(line: line, message: "not a JSON object: \(error.description)")
        }
        guard let cols = jsonlColumns(json) else { throw AuditParseError(line: line, message: "not an export record") }
        try emit(AuditLine(line: line, fields: cols))
    }

    private mutating func csvByte(_ b: UInt8, _ emit: (AuditLine) throws -> Void) throws {
        if b == 0x0A { line += 1 }
        if inQuotes {
            // A quote inside quotes either doubles (kept as one) or closes; the next byte decides,
            // so a closing quote is held as the state "field ends with an odd quote".
            if b == UInt8(ascii: "\"") { inQuotes = false; quoteClosed = true; return }
            field.append(b)
            return
        }
        if b == UInt8(ascii: "\""), quoteClosed { field.append(b); inQuotes = true; quoteClosed = false; return }
        quoteClosed = false
        switch b {
        case UInt8(ascii: "\""):
            guard field.isEmpty else { throw AuditParseError(line: line, message: "quote inside an unquoted field") }
            inQuotes = true
        case UInt8(ascii: ","):
            row.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
        case 0x0A:
            if field.last == 0x0D { field.removeLast() }
            row.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            let done = row
            let at = recordLine
            row.removeAll(keepingCapacity: true)
            recordLine = line
            try csvRow(done, line: at, emit)
        default: field.append(b)
        }
    }

    private var quoteClosed = false

    private mutating func csvRow(_ values: [String], line at: Int, _ emit: (AuditLine) throws -> Void) throws {
        if values == [""] { return }
        guard let header else {
            guard values == AuditFormat.columns else {
                throw AuditParseError(line: at, message: "not an audit export: the CSV header must be \(AuditFormat.columns.joined(separator: ","))")
            }
            self.header = values
            return
        }
        guard values.count == header.count else {
            throw AuditParseError(line: at, message: "\(values.count) fields, the header has \(header.count)")
        }
        var cols: [String: String] = [:]
        for (k, v) in zip(header, values) { cols[k] = v }
        try emit(AuditLine(line: at, fields: cols))
    }
}
