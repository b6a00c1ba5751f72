import SkeinModel

// The chain over salvaged events, in bounded memory: one pass keeps, per event, its seq, hash,
// prev and whether it decodes (the bytes only of events next to a break, for repair). Then the
// verified stretches are found: each starts at event 1 (prev = 64 zeros) or at a snapshotTaken
// whose stored snapshot still hashes to its digest, and runs while every event's prev is the hash
// of the one before. An event counts as verified only once something vouches for its bytes — the
// next event's prev, or for the newest the journal head — so the last readable event before
// damage is never trusted on its own word.

/// A SHA-256 digest as four words (the scan keeps one or two per event).
struct Digest: Hashable, Sendable {
    var w: (UInt64, UInt64, UInt64, UInt64)

    init(_ bytes: [UInt8]) {
        func word(_ i: Int) -> UInt64 { bytes[(8 * i)..<(8 * i + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        w = (word(0), word(1), word(2), word(3))
    }

    init?(hex: String) {
        guard hex.utf8.count == 64, let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes)
    }

    var hex: String {
        SHA256.hex([w.0, w.1, w.2, w.3].flatMap { BigEndian.bytes($0) })
    }

    static func == (a: Digest, b: Digest) -> Bool { a.w == b.w }
    func hash(into h: inout Hasher) { h.combine(w.0); h.combine(w.1); h.combine(w.2); h.combine(w.3) }

    static let genesis = Digest(hex: EventRecord.genesisHash)!
}

/// What the scan keeps of one event.
struct ChainEntry {
    var seq: UInt64
    var hash: Digest
    var prev: Digest?
    /// Why the record is not a usable event (does not decode, says another seq); nil if it is.
    var problem: String?
    var snapshotDigest: String?

    /// The envelope is enough (as for verify's events before its snapshot): a record the chain
    /// vouches for is byte for byte what the journal wrote, so it decodes; one it does not vouch
    /// for is never kept, and repair decodes its candidates. Snapshot events are decoded for their
    /// digest, and records without a readable envelope for the error.
    init(seq: UInt64, bytes: [UInt8]) {
        self.seq = seq
        hash = Digest(SHA256.hash(bytes))
        let header = bytes.withUnsafeBytes { EventRecord.header($0) }
        prev = header.flatMap { Digest(hex: $0.prev) }
        if let header, header.schema == EventRecord.schemaVersion, !ChainEntry.isSnapshot(bytes) {
            if header.seq != seq { problem = "stored under seq \(seq) but says seq \(header.seq)" }
            return
        }
        do {
            let record = try EventRecord.decode(bytes)
            if record.seq != seq { problem = "stored under seq \(seq) but says seq \(record.seq)" }
            if case .snapshotTaken(let s) = record.event { snapshotDigest = s.digest }
        } catch {
            problem = "does not decode: \(error.description)"
        }
    }

    /// `"type":"snapshotTaken"` right after the envelope (fixed field order).
    static func isSnapshot(_ bytes: [UInt8]) -> Bool {
        let needle: [UInt8] = Array(#""type":"snapshotTaken""#.utf8)
        return bytes.withUnsafeBufferPointer { b in
            let end = min(b.count, 200) - needle.count
            guard end >= 0 else { return false }
            outer: for i in 0...end where b[i] == needle[0] && b[i + 1] == needle[1] {
                for k in 2..<needle.count where b[i + k] != needle[k] { continue outer }
                return true
            }
            return false
        }
    }
}

/// A verified stretch of events.
public struct ChainSegment: Equatable, Sendable {
    public var first: UInt64
    public var last: UInt64
    /// The stretch starts at a stored snapshot (so the events before it are not needed).
    public var fromSnapshot: Bool
}

/// A record restored by a repair: its hash now matches what the chain recorded for it.
public struct ChainRepair: Sendable {
    public var seq: UInt64
    public var bytes: [UInt8]
    public var note: String
}

public struct ChainAnalysis: Sendable {
    public var segments: [ChainSegment] = []
    public var repairs: [ChainRepair] = []
    /// Where verification stopped, first to last (for verify: the first bad seq).
    public var problems: [VerifyProblem] = []
    /// How many events could be read, and the highest seq read.
    public var readable = 0
    public var newestReadable: UInt64?
}

struct ChainScan {
    var entries: [ChainEntry] = []
    /// Bytes of events next to a break (candidates for repair), by seq.
    var suspects: [UInt64: [UInt8]] = [:]
    private var lastBytes: [UInt8]?
    static let maxSuspects = 4096

    mutating func add(seq: UInt64, bytes: [UInt8]) {
        let entry = ChainEntry(seq: seq, bytes: bytes)
        if let before = entries.last, let beforeBytes = lastBytes,
           entry.problem != nil || before.problem != nil || !ChainScan.linked(before, entry) {
            keep(before.seq, beforeBytes)
            keep(seq, bytes)
        }
        if entries.isEmpty { keep(seq, bytes) }
        entries.append(entry)
        lastBytes = bytes
    }

    /// The newest event is checked against the head: keep its bytes too.
    mutating func finish() {
        if let last = entries.last, let bytes = lastBytes { keep(last.seq, bytes) }
        lastBytes = nil
    }

    private mutating func keep(_ seq: UInt64, _ bytes: [UInt8]) {
        if suspects.count < ChainScan.maxSuspects { suspects[seq] = bytes }
    }

    static func linked(_ a: ChainEntry, _ b: ChainEntry) -> Bool {
        b.seq == a.seq + 1 && a.problem == nil && b.problem == nil && b.prev == a.hash
    }

    /// Repairs what it can, then finds the verified stretches.
    mutating func analyze(head: JournalHead?, snapshots: [UInt64: Snapshot]) -> ChainAnalysis {
        var a = ChainAnalysis()
        a.readable = entries.count
        a.newestReadable = entries.last?.seq
        a.repairs = repairAll(head: head)
        var i = 0
        while i < entries.count {
            guard let fromSnapshot = startsChain(entries[i], snapshots) else {
                if a.segments.isEmpty && a.problems.isEmpty { a.problems.append(noStart(entries[i], snapshots)) }
                i += 1
                continue
            }
            var j = i
            while j + 1 < entries.count && ChainScan.linked(entries[j], entries[j + 1]) { j += 1 }
            let headVouches = j == entries.count - 1 && head.map { $0.seq == entries[j].seq && Digest(hex: $0.hash) == entries[j].hash } == true
            let last = headVouches ? j : j - 1
            if last >= i { a.segments.append(ChainSegment(first: entries[i].seq, last: entries[last].seq, fromSnapshot: fromSnapshot)) }
            if !headVouches { a.problems.append(breakProblem(j, head: head)) }
            // The unconfirmed entries[j] may itself be a snapshot that starts the next stretch.
            i = max(i + 1, j)
        }
        var seen = Set<String>()
        a.problems = a.problems.filter { seen.insert($0.description).inserted }
        return a
    }

    /// nil: no verified chain starts here; true: it starts at a stored snapshot; false: at event 1.
    func startsChain(_ e: ChainEntry, _ snapshots: [UInt64: Snapshot]) -> Bool? {
        guard e.problem == nil else { return nil }
        if e.seq == 1 && e.prev == Digest.genesis { return false }
        if let d = e.snapshotDigest, let s = snapshots[e.seq], s.digest == d, Digest(hex: s.prev) == e.prev { return true }
        return nil
    }

    func noStart(_ e: ChainEntry, _ snapshots: [UInt64: Snapshot]) -> VerifyProblem {
        if let p = e.problem { return VerifyProblem(seq: e.seq, message: p) }
        if e.seq == 1 { return VerifyProblem(seq: 1, message: "the first event's prev is not 64 zeros") }
        return VerifyProblem(seq: e.seq, message: "the oldest readable event is \(e.seq) and no stored snapshot that still verifies starts a chain there")
    }

    /// Why the stretch that reached entries[j] stops there.
    func breakProblem(_ j: Int, head: JournalHead?) -> VerifyProblem {
        let e = entries[j]
        guard j + 1 < entries.count else {
            guard let head else { return VerifyProblem(seq: e.seq, message: "the journal head is unreadable, so nothing vouches for event \(e.seq), the newest") }
            if head.seq != e.seq {
                return VerifyProblem(seq: e.seq + 1, message: head.seq > e.seq
                    ? "events \(e.seq + 1)…\(head.seq) are missing (the head names event \(head.seq)); event \(e.seq) is unconfirmed"
                    : "the head names event \(head.seq) but the events go on to \(e.seq)")
            }
            return VerifyProblem(seq: e.seq, message: "event \(e.seq), the newest, does not hash to what the journal head records")
        }
        let n = entries[j + 1]
        if n.seq != e.seq + 1 {
            return VerifyProblem(seq: e.seq + 1, message: "events \(e.seq + 1)…\(n.seq - 1) are missing (on damaged pages, or deleted); event \(e.seq) is unconfirmed")
        }
        if let p = n.problem { return VerifyProblem(seq: n.seq, message: p) }
        return VerifyProblem(seq: n.seq, message:
            "hash chain broken: prev is \(n.prev.map { String($0.hex.prefix(12)) } ?? "unreadable")…, event \(e.seq) hashes to \(e.hash.hex.prefix(12))… (event \(e.seq) was changed, or this one was)")
    }
}

extension ChainAnalysis {
    /// The stretch to rebuild from: the one that reaches furthest (up to `toSeq`), the one with
    /// more history on a tie.
    public func best(toSeq: UInt64? = nil) -> ChainSegment? {
        var best: ChainSegment?
        for var s in segments where toSeq.map({ s.first <= $0 }) ?? true {
            if let t = toSeq { s.last = min(s.last, t) }
            if best == nil || s.last > best!.last || (s.last == best!.last && s.first < best!.first) { best = s }
        }
        return best
    }
}
