// A YAML subset parser for Kubernetes objects and kubeconfig files, producing the project's JSON.
//
// Block and flow collections, plain/quoted/literal/folded scalars, comments and `---` streams.
// Anchors, aliases, tags and directives are refused: Kubernetes objects never need them, and
// aliases are how a few hundred bytes of YAML expand into gigabytes ("billion laughs").
// Plain scalars are typed by the YAML 1.2 core schema, so `yes`/`on` stay strings.

/// A YAML syntax error with the 1-based line it was found on.
public struct YAMLError: Error, Equatable, Sendable, CustomStringConvertible {
    public let line: Int
    public let message: String
    public init(line: Int, message: String) { self.line = line; self.message = message }
    public var description: String { "invalid YAML at line \(line): \(message)" }
}

/// Parses YAML text (the subset Kubernetes tools write) into `JSON`.
public enum YAML {
    public static let maxDepth = 64
    public static let maxBytes = 1 << 20

    /// Exactly one document; an empty stream is null.
    public static func parse(_ text: String) throws(YAMLError) -> JSON {
        let docs = try documents(text)
        if docs.count > 1 {
            throw YAMLError(line: docs[1].line, message: "expected one document, found \(docs.count)")
        }
        return docs.first?.value ?? .null
    }

    /// Every non-empty document of a `---`-separated stream, in order (empty ones are skipped, as kubectl does).
    public static func parseAll(_ text: String) throws(YAMLError) -> [JSON] {
        try documents(text).map(\.value)
    }

    static func documents(_ text: String) throws(YAMLError) -> [(line: Int, value: JSON)] {
        guard text.utf8.count <= maxBytes else {
            throw YAMLError(line: 1, message: "document larger than \(maxBytes) bytes")
        }
        var bytes = Array(text.utf8)
        if bytes.contains(cr) {
            // CRLF and lone CR are line breaks too; one form keeps the scanner simple.
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            for (k, c) in bytes.enumerated() where !(c == cr && k + 1 < bytes.count && bytes[k + 1] == lf) {
                out.append(c == cr ? lf : c)
            }
            bytes = out
        }
        var p = YAMLParser(bytes)
        return try p.stream()
    }
}

private let lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r"), space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
private let hash = UInt8(ascii: "#"), colon = UInt8(ascii: ":"), dash = UInt8(ascii: "-"), comma = UInt8(ascii: ",")
private let squote = UInt8(ascii: "'"), dquote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")

private func isWhite(_ c: UInt8) -> Bool { c == space || c == tab }
/// Space, tab, line break or end of input: what must follow `-`, `:` and `?` for them to be indicators.
private func isBlank(_ c: UInt8?) -> Bool { c == nil || c == space || c == tab || c == lf }
private func isFlowIndicator(_ c: UInt8) -> Bool { c == comma || c == 0x5B || c == 0x5D || c == 0x7B || c == 0x7D }

struct YAMLParser {
    let b: [UInt8]
    var i = 0
    var line = 1
    var lineStart = 0

    init(_ bytes: [UInt8]) {
        b = bytes
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3; lineStart = 3 }
    }

    var column: Int { i - lineStart }
    func peek(_ k: Int = 0) -> UInt8? { i + k < b.count ? b[i + k] : nil }
    func fail(_ message: String) -> YAMLError { YAMLError(line: line, message: message) }
    mutating func newline() { i += 1; line += 1; lineStart = i }
    mutating func skipWhite() { while i < b.count, isWhite(b[i]) { i += 1 } }
    mutating func skipComment() { while i < b.count, b[i] != lf { i += 1 } }

    var atDocumentMarker: Bool {
        guard i == lineStart, i + 3 <= b.count, isBlank(peek(3)) else { return false }
        return (b[i] == dash && b[i + 1] == dash && b[i + 2] == dash)
            || (b[i] == 0x2E && b[i + 1] == 0x2E && b[i + 2] == 0x2E)
    }

    /// True when the cursor is on content of the current document (not its end).
    var atContent: Bool { i < b.count && !atDocumentMarker }

    mutating func stream() throws(YAMLError) -> [(line: Int, value: JSON)] {
        var docs: [(line: Int, value: JSON)] = []
        while true {
            _ = try skipBlankLines()
            guard i < b.count else { return docs }
            if atDocumentMarker && b[i] == 0x2E {
                i += 3
                try finishLine()
                continue
            }
            if atDocumentMarker {
                i += 3
                skipWhite()
                if i == b.count || b[i] == lf || b[i] == hash {
                    guard try endLine() else { continue }
                }
            }
            if column == 0 && b[i] == UInt8(ascii: "%") { throw fail("directives (%) are not supported") }
            let start = line
            docs.append((start, try node(parent: -1, depth: 0, inline: false)))
            if atContent { throw fail("bad indentation: content outside the document's top-level node") }
        }
    }

    /// Moves past spaces, comments and empty lines to the next content; false at the end of input
    /// or at a document marker.
    mutating func skipBlankLines() throws(YAMLError) -> Bool {
        while i < b.count {
            if atDocumentMarker { return false }
            let c = b[i]
            if isWhite(c) {
                i += 1
            } else if c == lf {
                newline()
            } else if c == hash {
                skipComment()
            } else {
                let indent = b[lineStart..<i]
                if indent.contains(tab) && indent.allSatisfy(isWhite) {
                    throw fail("tabs must not be used for indentation")
                }
                return true
            }
        }
        return false
    }

    /// After a value only spaces and a comment may follow on its line.
    mutating func finishLine() throws(YAMLError) {
        skipWhite()
        guard i < b.count, b[i] != lf else { return }
        guard b[i] == hash, i == lineStart || isWhite(b[i - 1]) else {
            throw fail("unexpected text after a value")
        }
        skipComment()
    }

    /// `finishLine` then `skipBlankLines`: the cursor ends on the next content, as every block node leaves it.
    mutating func endLine() throws(YAMLError) -> Bool {
        try finishLine()
        return try skipBlankLines()
    }

    /// Characters that cannot start a plain scalar, with the reason for refusing them.
    func refusal(_ c: UInt8) -> YAMLError? {
        switch c {
        case UInt8(ascii: "&"): return fail("anchors (&) are not supported")
        case UInt8(ascii: "*"): return fail("aliases (*) are not supported")
        case UInt8(ascii: "!"): return fail("tags (!) are not supported")
        case UInt8(ascii: "%"): return fail("'%' cannot start a plain scalar (directives are not supported); quote the value")
        case UInt8(ascii: "@"), UInt8(ascii: "`"): return fail("'@' and '`' are reserved; quote the value")
        case UInt8(ascii: "?") where isBlank(peek(1)): return fail("explicit keys (\"? \") are not supported")
        case colon where isBlank(peek(1)): return fail("a mapping key is missing before ':'")
        case comma, 0x5D, 0x7D: return fail("unexpected '\(Character(Unicode.Scalar(c)))'")
        default: return nil
        }
    }
}

// MARK: - Block structure

extension YAMLParser {
    /// The node whose first character is at the cursor. Its continuation lines must be indented more
    /// than `parent`; `inline` is a mapping value on its key's line, where no block collection may start.
    mutating func node(parent: Int, depth: Int, inline: Bool) throws(YAMLError) -> JSON {
        guard depth <= YAML.maxDepth else { throw fail("nesting deeper than \(YAML.maxDepth)") }
        let c = b[i]
        if let error = refusal(c) { throw error }
        switch c {
        case UInt8(ascii: "|"), UInt8(ascii: ">"):
            return try blockScalar(parent: parent)
        case 0x5B, 0x7B:
            let value = try flow(depth: depth)
            _ = try endLine()
            return value
        case dash where isBlank(peek(1)):
            guard !inline else { throw fail("a block sequence cannot start on its key's line") }
            return try blockSequence(indent: column, depth: depth)
        default:
            break
        }
        let saved = (i, line, lineStart)
        let indent = column
        if let key = try mappingKey() {
            guard !inline else { throw fail("mapping values are not allowed here (quote a value containing ': ')") }
            return try blockMapping(indent: indent, firstKey: key, depth: depth)
        }
        (i, line, lineStart) = saved
        if c == squote || c == dquote {
            let s = try quoted()
            _ = try endLine()
            return .string(s)
        }
        return try plainScalar(parent: parent)
    }

    /// Reads `key:` at the cursor and returns the key, or nil when the cursor is not at a mapping key.
    mutating func mappingKey() throws(YAMLError) -> String? {
        let key: String
        if b[i] == squote || b[i] == dquote {
            key = try quoted()
            skipWhite()
        } else {
            guard b[i] != dash || !isBlank(peek(1)) else { return nil }
            let scanned = scanPlainLine()
            guard scanned.atColon else { return nil }
            key = scanned.text
        }
        guard i < b.count, b[i] == colon, isBlank(peek(1)) else { return nil }
        i += 1
        return key
    }

    mutating func blockMapping(indent: Int, firstKey: String, depth: Int) throws(YAMLError) -> JSON {
        var object = JSONObject()
        var seen = Set<String>()
        var key = firstKey
        while true {
            guard seen.insert(key).inserted else { throw fail("duplicate key \"\(key)\"") }
            let value = try mappingValue(indent: indent, depth: depth)
            object.pairs.append((key: key, value: value))
            guard atContent, column >= indent else { return .object(object) }
            guard column == indent else { throw fail("bad indentation of a mapping entry") }
            guard let next = try mappingKey() else { throw fail("expected a mapping entry (\"key: value\")") }
            key = next
        }
    }

    /// The value after `key:`: on the same line, or on the lines below, indented more — or a block
    /// sequence at the key's own indentation, as kubectl writes `containers:` / `- name: …`.
    mutating func mappingValue(indent: Int, depth: Int) throws(YAMLError) -> JSON {
        skipWhite()
        guard i == b.count || b[i] == lf || b[i] == hash else {
            return try node(parent: indent, depth: depth + 1, inline: true)
        }
        guard try endLine() else { return .null }
        if column > indent { return try node(parent: indent, depth: depth + 1, inline: false) }
        if column == indent && b[i] == dash && isBlank(peek(1)) {
            guard depth + 1 <= YAML.maxDepth else { throw fail("nesting deeper than \(YAML.maxDepth)") }
            return try blockSequence(indent: indent, depth: depth + 1)
        }
        return .null
    }

    mutating func blockSequence(indent: Int, depth: Int) throws(YAMLError) -> JSON {
        var items: [JSON] = []
        while true {
            i += 1
            skipWhite()
            if i == b.count || b[i] == lf || b[i] == hash {
                if try endLine(), column > indent {
                    items.append(try node(parent: indent, depth: depth + 1, inline: false))
                } else {
                    items.append(.null)
                }
            } else {
                items.append(try node(parent: indent, depth: depth + 1, inline: false))
            }
            guard atContent, column == indent, b[i] == dash, isBlank(peek(1)) else {
                if atContent && column > indent { throw fail("bad indentation of a sequence entry") }
                return .array(items)
            }
        }
    }
}

// MARK: - Scalars

extension YAMLParser {
    /// One line of a plain scalar in block context: up to a comment, a line break, or `: ` (then
    /// `atColon` is true and the cursor is on the colon).
    mutating func scanPlainLine() -> (text: String, atColon: Bool) {
        let start = i
        var end = i
        var atColon = false
        while i < b.count {
            let c = b[i]
            if c == lf { break }
            if c == colon && isBlank(peek(1)) { atColon = true; break }
            if isWhite(c) {
                if peek(1) == hash { break }
            } else {
                end = i + 1
            }
            i += 1
        }
        return (String(decoding: b[start..<end], as: UTF8.self), atColon)
    }

    /// A plain scalar, folded over continuation lines indented more than `parent`.
    mutating func plainScalar(parent: Int) throws(YAMLError) -> JSON {
        let firstLine = line
        var text = scanPlainLine().text
        while true {
            skipWhite()
            guard i < b.count, b[i] == lf else { break }  // a comment or the end of input ends it
            let saved = (i, line, lineStart)
            var breaks = 0
            while i < b.count && b[i] == lf {
                newline()
                breaks += 1
                skipWhite()
            }
            guard i < b.count, b[i] != hash, column > parent, !atDocumentMarker else {
                (i, line, lineStart) = saved
                break
            }
            let next = scanPlainLine()
            if next.atColon { throw fail("mapping values are not allowed here (quote a value containing ': ')") }
            text += breaks == 1 ? " " : String(repeating: "\n", count: breaks - 1)
            text += next.text
        }
        _ = try skipBlankLines()
        return try YAMLParser.resolve(text, line: firstLine)
    }

    /// A single- or double-quoted scalar starting at the cursor, with line folding.
    mutating func quoted() throws(YAMLError) -> String {
        let q = b[i]
        let startLine = line
        i += 1
        var out: [UInt8] = []
        var pending: [UInt8] = []  // literal white space: kept unless a line break follows it
        while true {
            guard i < b.count else { throw YAMLError(line: startLine, message: "unterminated quoted scalar") }
            let c = b[i]
            if c == q {
                out += pending
                pending = []
                if q == squote && peek(1) == squote { out.append(squote); i += 2; continue }
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if isWhite(c) { pending.append(c); i += 1; continue }
            if c == lf { pending = []; foldBreaks(into: &out); continue }
            out += pending
            pending = []
            if q == dquote && c == backslash {
                try escape(into: &out)
            } else {
                out.append(c)
                i += 1
            }
        }
    }

    /// Inside a quoted scalar: one line break becomes a space, n > 1 become n - 1 newlines.
    mutating func foldBreaks(into out: inout [UInt8]) {
        var breaks = 0
        while i < b.count && b[i] == lf {
            newline()
            breaks += 1
            skipWhite()
        }
        if breaks == 1 { out.append(space) } else { out += repeatElement(lf, count: breaks - 1) }
    }

    mutating func escape(into out: inout [UInt8]) throws(YAMLError) {
        i += 1
        guard i < b.count else { throw fail("unterminated escape") }
        let c = b[i]
        i += 1
        let simple: [UInt8: UInt32] = [
            0x30: 0, 0x61: 7, 0x62: 8, 0x74: 9, tab: 9, 0x6E: 10, 0x76: 11, 0x66: 12, 0x72: 13, 0x65: 27,
            space: 32, dquote: 34, 0x2F: 47, backslash: 92, 0x4E: 0x85, 0x5F: 0xA0, 0x4C: 0x2028, 0x50: 0x2029,
        ]
        let scalar: UInt32
        if let v = simple[c] {
            scalar = v
        } else if c == lf {
            // An escaped line break joins the lines with nothing between them.
            i -= 1
            newline()
            skipWhite()
            while i < b.count && b[i] == lf { out.append(lf); newline(); skipWhite() }
            return
        } else if let width = [UInt8(ascii: "x"): 2, UInt8(ascii: "u"): 4, UInt8(ascii: "U"): 8][c] {
            scalar = try hex(width)
        } else {
            throw fail("invalid escape '\\\(Character(Unicode.Scalar(c)))'")
        }
        guard let u = Unicode.Scalar(scalar) else { throw fail("invalid code point in escape") }
        out += Array(String(Character(u)).utf8)
    }

    mutating func hex(_ width: Int) throws(YAMLError) -> UInt32 {
        guard i + width <= b.count, b[i..<(i + width)].allSatisfy({ $0 < 128 && Character(Unicode.Scalar($0)).isHexDigit }),
              let v = UInt32(String(decoding: b[i..<(i + width)], as: UTF8.self), radix: 16) else {
            throw fail("invalid hexadecimal escape")
        }
        i += width
        return v
    }
}

// MARK: - Block scalars

extension YAMLParser {
    enum Chomping { case clip, strip, keep }

    /// `|` (literal) or `>` (folded) with optional chomping (`-`, `+`) and indentation (1–9) indicators.
    mutating func blockScalar(parent: Int) throws(YAMLError) -> JSON {
        let folded = b[i] == UInt8(ascii: ">")
        i += 1
        var chomping = Chomping.clip
        var explicit: Int?
        for _ in 0..<2 {
            guard let c = peek() else { break }
            if c == dash, chomping == .clip { chomping = .strip; i += 1 }
            else if c == UInt8(ascii: "+"), chomping == .clip { chomping = .keep; i += 1 }
            else if c >= 0x31 && c <= 0x39, explicit == nil { explicit = Int(c - 0x30); i += 1 }
        }
        guard isBlank(peek()) else { throw fail("invalid block scalar header") }
        try finishLine()
        if i < b.count { newline() }
        let indent = explicit.map { max(parent, 0) + $0 } ?? detectIndent(parent: parent)
        var lines: [ArraySlice<UInt8>] = []
        var finalBreak = false
        while i < b.count && !atDocumentMarker {
            var spaces = 0
            while i + spaces < b.count && b[i + spaces] == space { spaces += 1 }
            var end = i + spaces
            while end < b.count && b[end] != lf { end += 1 }
            if i + spaces == end {
                lines.append(spaces > indent ? b[(i + indent)..<end] : [])
            } else if spaces < indent {
                break
            } else {
                lines.append(b[(i + indent)..<end])
            }
            i = end
            finalBreak = i < b.count
            if finalBreak { newline() }
        }
        _ = try skipBlankLines()
        let last = lines.lastIndex { !$0.isEmpty }
        let content = last.map { Array(lines[...$0]) } ?? []
        var text = folded ? fold(content) : content.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
        let trailing = lines.count - (last.map { $0 + 1 } ?? 0)
        let hasBreak = last != nil && (trailing > 0 || finalBreak)
        switch chomping {
        case .strip: break
        case .clip: if hasBreak { text += "\n" }
        case .keep: text += String(repeating: "\n", count: (hasBreak ? 1 : 0) + trailing)
        }
        return .string(text)
    }

    /// The indentation of the first non-empty line, without moving the cursor.
    func detectIndent(parent: Int) -> Int {
        var k = i
        while k < b.count {
            var spaces = 0
            while k + spaces < b.count && b[k + spaces] == space { spaces += 1 }
            guard k + spaces < b.count, b[k + spaces] == lf else {
                return k + spaces < b.count ? max(spaces, parent + 1) : parent + 1
            }
            k += spaces + 1
        }
        return parent + 1
    }

    /// Folding: a break between two ordinary lines becomes a space, breaks around empty lines or
    /// more-indented lines are kept.
    func fold(_ lines: [ArraySlice<UInt8>]) -> String {
        var out = ""
        var previousOrdinary = false
        var empties = 0
        var started = false
        for line in lines {
            if line.isEmpty { empties += 1; continue }
            let ordinary = !isWhite(line.first!)
            if !started {
                out += String(repeating: "\n", count: empties)
            } else if previousOrdinary && ordinary {
                out += empties == 0 ? " " : String(repeating: "\n", count: empties)
            } else {
                out += String(repeating: "\n", count: empties + 1)
            }
            out += String(decoding: line, as: UTF8.self)
            started = true
            empties = 0
            previousOrdinary = ordinary
        }
        return out
    }
}

// MARK: - Flow collections

extension YAMLParser {
    /// `[...]` or `{...}`; JSON is a subset.
    mutating func flow(depth: Int) throws(YAMLError) -> JSON {
        guard depth <= YAML.maxDepth else { throw fail("nesting deeper than \(YAML.maxDepth)") }
        let isSequence = b[i] == 0x5B
        let close: UInt8 = isSequence ? 0x5D : 0x7D
        let startLine = line
        i += 1
        var items: [JSON] = []
        var object = JSONObject()
        var seen = Set<String>()
        while true {
            try skipFlowSpace()
            guard i < b.count else { throw YAMLError(line: startLine, message: "unterminated flow collection") }
            if b[i] == close { i += 1; break }
            if isSequence {
                items.append(try flowNode(depth: depth + 1))
            } else {
                let key = try flowKey()
                var value = JSON.null
                try skipFlowSpace()
                if i < b.count && b[i] == colon {
                    i += 1
                    try skipFlowSpace()
                    if i < b.count && b[i] != comma && b[i] != close { value = try flowNode(depth: depth + 1) }
                }
                guard seen.insert(key).inserted else { throw fail("duplicate key \"\(key)\"") }
                object.pairs.append((key: key, value: value))
            }
            try skipFlowSpace()
            guard i < b.count else { throw YAMLError(line: startLine, message: "unterminated flow collection") }
            if b[i] == comma { i += 1; continue }
            if b[i] == close { i += 1; break }
            throw fail("expected ',' or '\(Character(Unicode.Scalar(close)))' in a flow collection")
        }
        return isSequence ? .array(items) : .object(object)
    }

    mutating func skipFlowSpace() throws(YAMLError) {
        while i < b.count {
            if isWhite(b[i]) { i += 1 }
            else if b[i] == lf { newline() }
            else if b[i] == hash && (i == lineStart || isWhite(b[i - 1])) { skipComment() }
            else { return }
        }
    }

    mutating func flowNode(depth: Int) throws(YAMLError) -> JSON {
        let c = b[i]
        if let error = refusal(c) { throw error }
        if c == 0x5B || c == 0x7B { return try flow(depth: depth) }
        if c == squote || c == dquote { return .string(try quoted()) }
        try refuseInFlow(c)
        let startLine = line
        return try YAMLParser.resolve(scanPlainFlow(), line: startLine)
    }

    mutating func flowKey() throws(YAMLError) -> String {
        let c = b[i]
        if let error = refusal(c) { throw error }
        if c == squote || c == dquote { return try quoted() }
        if c == 0x5B || c == 0x7B { throw fail("collections as mapping keys are not supported") }
        try refuseInFlow(c)
        return scanPlainFlow()
    }

    func refuseInFlow(_ c: UInt8) throws(YAMLError) {
        if c == UInt8(ascii: "|") || c == UInt8(ascii: ">") || c == hash || (c == dash && isBlank(peek(1))) {
            throw fail("unexpected '\(Character(Unicode.Scalar(c)))' in a flow collection")
        }
    }

    /// A plain scalar inside `[]`/`{}`: ends at a flow indicator, `: `, a comment, or a line whose
    /// content starts with an indicator; other line breaks fold.
    mutating func scanPlainFlow() -> String {
        var out: [UInt8] = []
        var pending: [UInt8] = []
        while i < b.count {
            let c = b[i]
            if isFlowIndicator(c) { break }
            if c == colon && (isBlank(peek(1)) || peek(1).map(isFlowIndicator) == true) { break }
            if isWhite(c) {
                if peek(1) == hash { break }
                pending.append(c)
                i += 1
                continue
            }
            if c == lf {
                let saved = (i, line, lineStart)
                var breaks = 0
                while i < b.count && b[i] == lf { newline(); breaks += 1; skipWhite() }
                guard i < b.count, !isFlowIndicator(b[i]), b[i] != colon, b[i] != hash else {
                    (i, line, lineStart) = saved
                    break
                }
                pending = breaks == 1 ? [space] : Array(repeating: lf, count: breaks - 1)
                continue
            }
            out += pending
            pending = []
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

// MARK: - Core schema

extension YAMLParser {
    /// Types a plain scalar by the YAML 1.2 core schema; numbers become JSON number text.
    static func resolve(_ s: String, line: Int) throws(YAMLError) -> JSON {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        let u = Array(s.utf8)
        if u.count > 2, u[0] == 0x30, u[1] == UInt8(ascii: "x") || u[1] == UInt8(ascii: "o") {
            let hex = u[1] == UInt8(ascii: "x")
            let digits = u[2...]
            let valid = digits.allSatisfy { hex ? Character(Unicode.Scalar($0)).isHexDigit : ($0 >= 0x30 && $0 <= 0x37) }
            if valid {
                guard let v = UInt64(String(decoding: digits, as: UTF8.self), radix: hex ? 16 : 8) else {
                    throw YAMLError(line: line, message: "integer \(s) is out of range")
                }
                return .number(String(v))
            }
        }
        if let n = decimal(u) { return .number(n) }
        let infinity: Set<Substring> = [".inf", ".Inf", ".INF"]
        let signed = s.first == "-" || s.first == "+"
        if [".nan", ".NaN", ".NAN"].contains(s) || infinity.contains(signed ? s.dropFirst() : Substring(s)) {
            throw YAMLError(line: line, message: "\(s) cannot be represented in JSON; quote it to mean a string")
        }
        return .string(s)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` as JSON number text, or nil.
    static func decimal(_ u: [UInt8]) -> String? {
        var k = 0
        var out = ""
        if k < u.count, u[k] == dash || u[k] == UInt8(ascii: "+") {
            if u[k] == dash { out = "-" }
            k += 1
        }
        func digits() -> String {
            let start = k
            while k < u.count, u[k] >= 0x30, u[k] <= 0x39 { k += 1 }
            return String(decoding: u[start..<k], as: UTF8.self)
        }
        let whole = digits()
        var fraction: String?
        if k < u.count, u[k] == UInt8(ascii: ".") { k += 1; fraction = digits() }
        guard !whole.isEmpty || !(fraction ?? "").isEmpty else { return nil }
        var exponent = ""
        if k < u.count, u[k] == UInt8(ascii: "e") || u[k] == UInt8(ascii: "E") {
            k += 1
            exponent = "e"
            if k < u.count, u[k] == dash || u[k] == UInt8(ascii: "+") { exponent.append(Character(Unicode.Scalar(u[k]))); k += 1 }
            let e = digits()
            guard !e.isEmpty else { return nil }
            exponent += e
        }
        guard k == u.count else { return nil }
        let trimmed = whole.drop { $0 == "0" }
        out += trimmed.isEmpty ? "0" : String(trimmed)
        if let fraction { out += "." + (fraction.isEmpty ? "0" : fraction) }
        return out + exponent
    }
}
