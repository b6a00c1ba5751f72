import SkeinModel

// `audit verify FILE`: an export checked on its own, without the journal. Each record's `raw` is the
// stored event: its SHA-256 must be the record's hash, it must decode, and every field of the record
// must be what the history layer derives from it (the fields an outcome inherits from its request
// are checked when that request is in the file too). Records must ascend, `exportPrev` must name
// the record before (a dropped record shows), and consecutive seqs must chain (prev == hash).

public struct AuditProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var seq: UInt64?
    public var message: String
    public var description: String {
        "line \(line)" + (seq.map { " (seq \($0))" } ?? "") + ": \(message)"
    }
}

public struct AuditVerifier {
    public private(set) var records = 0
    public private(set) var problem: AuditProblem?
    private var reader = AuditReader()
    private var tracker = HistoryTracker(node: "")
    private var lastSeq: UInt64 = 0
    private var lastHash: String?

    public init() {}

    public var format: AuditFormat? { reader.format }

    /// Feeds the file's bytes; stops checking at the first problem.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard problem == nil else { return }
        var r = reader
        defer { reader = r }
        do { try r.feed(bytes) { try check($0) } } catch { record(error) }
    }

    /// Ends the file; returns the first problem, if any.
    public mutating func finish() -> AuditProblem? {
        guard problem == nil else { return problem }
        var r = reader
        do { try r.finish { try check($0) } } catch { record(error) }
        reader = r
        if problem == nil, records == 0 { problem = AuditProblem(line: 1, seq: nil, message: "no records") }
        return problem
    }

    private mutating func record(_ error: Error) {
        if let p = error as? AuditProblem { problem = p }
        else if let p = error as? AuditParseError { problem = AuditProblem(line: p.line, seq: nil, message: p.message) }
        else { problem = AuditProblem(line: 0, seq: nil, message: "\(error)") }
    }

    private mutating func check(_ l: AuditLine) throws {
        func bad(_ seq: UInt64?, _ m: String) -> AuditProblem { AuditProblem(line: l.line, seq: seq, message: m) }
        let f = l.fields
        guard let seqText = f["seq"], let seq = UInt64(seqText) else { throw bad(nil, "no valid seq") }
        guard let rawText = f["raw"], let raw = Base64.decode(rawText) else { throw bad(seq, "raw is not valid base64") }
        let hash = SHA256.hex(SHA256.hash(raw))
        guard f["hash"] == hash else { throw bad(seq, "hash \(f["hash"] ?? "(none)") is not the SHA-256 of raw (\(hash))") }
        let rec: EventRecord
        do { rec = try EventRecord.decode(raw) } catch { throw bad(seq, "raw does not decode: \(error.description)") }
        guard var derived = tracker.derive(rec, hash: hash, raw: raw) else {
            throw bad(seq, "raw is a \(rec.event.typeName) event, which belongs to no attachment lifecycle")
        }
        derived.node = f["node"] ?? ""   // not in the event: the exporting node's annotation
        derived.exportPrev = UInt64(f["exportPrev"] ?? "") ?? UInt64.max
        if !derived.contextKnown {
            // The request that opened this lifecycle is not in the file: what it would have given
            // the outcome cannot be derived here, so those columns are taken as they are.
            derived.network = f["network"].flatMap { $0.isEmpty ? nil : $0 }
            derived.namespace = f["namespace"].flatMap { $0.isEmpty ? nil : $0 }
            derived.pod = f["pod"].flatMap { $0.isEmpty ? nil : $0 }
            derived.podUID = f["podUID"].flatMap { $0.isEmpty ? nil : $0 }
            derived.ips = (f["ips"] ?? "").split(separator: " ").map(String.init)
            derived.mac = f["mac"].flatMap { $0.isEmpty ? nil : $0 }
        }
        for (name, want) in zip(AuditFormat.columns, derived.columns) where f[name] != want {
            throw bad(seq, "field \(name) is \"\(f[name] ?? "(missing)")\" but the raw event says \"\(want)\"")
        }
        try checkOrder(derived, bad)
        lastSeq = seq
        lastHash = hash
        records += 1
    }

    private func checkOrder(_ r: AuditRecord, _ bad: (UInt64?, String) -> AuditProblem) throws {
        guard records == 0 || r.seq > lastSeq else { throw bad(r.seq, "out of order: follows seq \(lastSeq)") }
        let expectPrev = records == 0 ? 0 : lastSeq
        guard r.exportPrev == expectPrev else {
            throw bad(r.seq, "exportPrev is \(r.exportPrev) but the record before it in this file is seq \(expectPrev): a record was dropped")
        }
        if records > 0, r.seq == lastSeq + 1, r.prev != lastHash {
            throw bad(r.seq, "hash chain broken: prev \(r.prev.prefix(12))… is not seq \(lastSeq)'s hash \(lastHash?.prefix(12) ?? "")…")
        }
    }
}
