// Reads one HTTP/1.1 response: status line, headers, and a body framed by Content-Length, by
// chunked transfer coding, or by the end of the connection. Everything is bounded: the header
// section, the body (the client's limit) and time (the request's deadline).

struct ResponseReader {
    let stream: ByteStream
    let deadline: Deadline
    let limit: Int
    private var buf: [UInt8] = []
    private var pos = 0
    static let maxHeaderBytes = 64 << 10

    init(stream: ByteStream, deadline: Deadline, limit: Int) {
        self.stream = stream
        self.deadline = deadline
        self.limit = limit
    }

    mutating func response(isHead: Bool) throws(KubeError) -> HTTPResponse {
        var (status, headers) = try head()
        // Interim 1xx answers (100 Continue, 103 Early Hints) precede the real one.
        while (100...199).contains(status) { (status, headers) = try head() }
        let noBody = isHead || status == 204 || status == 304
        let body = noBody ? [] : try self.body(headers)
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    private mutating func head() throws(KubeError) -> (Int, [(name: String, value: String)]) {
        let start = pos
        guard let statusLine = try line(start: start) else { throw decode("connection closed before a response") }
        let fields = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/1."), fields[1].count == 3, let status = Int(fields[1]) else {
            throw decode("malformed status line")
        }
        var headers: [(name: String, value: String)] = []
        while let text = try line(start: start), !text.isEmpty {
            guard let colon = text.firstIndex(of: ":"), colon != text.startIndex, text.first != " ", text.first != "\t" else {
                throw decode("malformed header line")
            }
            let value = text[text.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            headers.append((name: text[..<colon].lowercased(), value: String(value.reversed().drop { $0 == " " || $0 == "\t" }.reversed())))
        }
        return (status, headers)
    }

    private mutating func body(_ headers: [(name: String, value: String)]) throws(KubeError) -> [UInt8] {
        let codings = headers.filter { $0.name == "transfer-encoding" }.map(\.value).joined(separator: ",")
        if !codings.isEmpty {
            let last = codings.split(separator: ",").last.map { $0.trimmingSpaces().lowercased() }
            guard last == "chunked" else { throw decode("unsupported transfer coding \"\(codings)\"") }
            return try chunked()
        }
        let lengths = Set(headers.filter { $0.name == "content-length" }.map(\.value))
        guard lengths.count <= 1 else { throw decode("conflicting Content-Length headers") }
        if let text = lengths.first {
            guard let n = Int(text), n >= 0 else { throw decode("invalid Content-Length \"\(text)\"") }
            guard n <= limit else { throw decode("response body of \(n) bytes exceeds the \(limit)-byte limit") }
            return try take(n)
        }
        return try untilEnd()
    }

    private mutating func chunked() throws(KubeError) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            guard let sizeLine = try line(start: pos) else { throw decode("connection closed inside a chunked body") }
            let hex = sizeLine.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces() } ?? ""
            guard !hex.isEmpty, hex.count <= 15, let size = Int(hex, radix: 16) else { throw decode("invalid chunk size") }
            if size == 0 { break }
            guard out.count + size <= limit else { throw decode("response body exceeds the \(limit)-byte limit") }
            out += try take(size)
            guard try line(start: pos) == "" else { throw decode("chunk not followed by CRLF") }
        }
        // Trailer fields are read and dropped.
        let trailerStart = pos
        while let t = try line(start: trailerStart), !t.isEmpty {}
        return out
    }

    /// One CRLF-terminated line (a bare LF is accepted too), or nil at end of stream before any byte.
    /// `start` is where the current header section began: it bounds the section's size.
    private mutating func line(start: Int) throws(KubeError) -> String? {
        var scanFrom = pos
        while true {
            if let lf = buf[scanFrom...].firstIndex(of: 0x0A) {
                var end = lf
                if end > pos, buf[end - 1] == 0x0D { end -= 1 }
                let text = String(decoding: buf[pos..<end], as: UTF8.self)
                pos = lf + 1
                return text
            }
            scanFrom = buf.count
            guard buf.count - start <= ResponseReader.maxHeaderBytes else { throw decode("header section larger than 64 KiB") }
            if try !fill(compact: false) {
                if pos == buf.count { return nil }
                throw decode("connection closed inside a line")
            }
        }
    }

    private mutating func take(_ n: Int) throws(KubeError) -> [UInt8] {
        while buf.count - pos < n {
            guard try fill(compact: true) else { throw decode("connection closed after \(buf.count - pos) of \(n) body bytes") }
        }
        let out = Array(buf[pos..<pos + n])
        pos += n
        return out
    }

    private mutating func untilEnd() throws(KubeError) -> [UInt8] {
        while try fill(compact: true) {
            guard buf.count - pos <= limit else { throw decode("response body exceeds the \(limit)-byte limit") }
        }
        let out = Array(buf[pos...])
        pos = buf.count
        return out
    }

    /// Reads more from the stream; false at end of stream. While reading a body, consumed bytes are
    /// dropped first so that a large body is not kept twice; never inside a line (indexes into the
    /// buffer are live there).
    private mutating func fill(compact: Bool) throws(KubeError) -> Bool {
        if compact && pos > 32768 && pos * 2 > buf.count {
            buf.removeFirst(pos)
            pos = 0
        }
        return try stream.read(into: &buf, max: 65536, deadline: deadline) > 0
    }

    private func decode(_ message: String) -> KubeError { KubeError(.decode, "HTTP response: \(message)") }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
