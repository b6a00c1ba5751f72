import SkeinModel
import SkeinReducer

// Verification and replay: walk the events in order, check the hash chain, sequence continuity and
// schema, reduce every event into a MemoryState, and compare that with the materialized tables.
// Read-only: one read transaction, never blocking the plugin's writers.

public struct VerifyProblem: Equatable, Sendable, CustomStringConvertible {
    public var seq: UInt64?
    public var message: String
    public var description: String { seq.map { "event \($0): \(message)" } ?? message }
}

public struct VerifyReport: Sendable {
    public var events: Int = 0
    public var head = JournalHead.empty
    public var problems: [VerifyProblem] = []
    public var replayed = MemoryState()
    public var ok: Bool { problems.isEmpty }
}

public enum Verifier {
    /// `upTo`: stop after this sequence number (time travel); the state comparison is then skipped.
    /// `fullChain`: check the hash chain over every retained event (verify); otherwise only from
    /// the snapshot replay starts at (replay). Replay always starts from the newest stored
    /// snapshot at or before the target whose rows still hash to the digest its snapshotTaken
    /// event recorded, so its cost is bounded by the snapshot interval, not the history.
    /// `fromStart`: use no snapshot, reduce every event from the first (the replay a journal without
    /// snapshots needs; impossible once events were pruned, which is then the problem reported).
    public static func run(_ journal: Journal, upTo: UInt64? = nil, compareState: Bool = true,
                           fullChain: Bool = true, fromStart: Bool = false) throws -> VerifyReport {
        try journal.read { r in
            var report = VerifyReport()
            report.head = try r.head()
            let first = try r.firstSeq() ?? 1
            let start = fromStart ? nil : try startSnapshot(r, first: first, target: upTo ?? report.head.seq)
            if first > 1 && start == nil {
                report.problems.append(VerifyProblem(seq: first, message:
                    "events before \(first) were pruned and no stored snapshot at or after it still verifies"))
                return report
            }
            if fullChain {
                // A stored snapshot that no longer hashes to its recorded digest is evidence of
                // tampering (or damage) even when replay does not need it.
                for seq in try r.snapshotSeqs() {
                    let snap = try? r.snapshot(at: seq)
                    if snap.map({ StateDigest.of($0.state).digest != $0.digest }) ?? true {
                        report.problems.append(VerifyProblem(seq: seq, message:
                            "the stored snapshot does not hash to the digest its snapshotTaken event recorded"))
                    }
                }
            }
            var walk = Walk(anchored: first > 1 || !fullChain && start != nil, start: start)
            do {
                try r.forEachEvent(from: fullChain ? first : (start?.seq ?? first)) { seq, raw in
                    if let upTo, seq > upTo { return false }
                    // Before the start snapshot only the chain matters: check the envelope, hash it.
                    if let start, seq < start.seq, walk.quickStep(seq: seq, raw: raw, into: &report) { return true }
                    return walk.step(seq: seq, bytes: Array(raw), into: &report)
                }
            } catch let e as LMDBError where e.isDamage {
                // liblmdb met a damaged page of the events tree: what follows is unreadable here.
                report.problems.append(VerifyProblem(seq: walk.end.seq + 1, message:
                    "the events after \(walk.end.seq) cannot be read: \(e) (a damaged page of the events database)"))
            }
            if report.ok, upTo == nil, report.head != walk.end {
                report.problems.append(VerifyProblem(seq: report.head.seq, message:
                    "journal head says seq \(report.head.seq) hash \(report.head.hash.prefix(12))…, the chain ends at seq \(walk.end.seq) hash \(walk.end.hash.prefix(12))… (events lost or tampered at the end)"))
            }
            var named: Set<String> = []
            if report.ok, compareState, upTo == nil {
                named = try compare(report.replayed, with: r, into: &report)
            }
            // Row checksums: a row the replay comparison already named is not named twice; what
            // remains is a damaged checksum, or a damaged row when the chain stopped the replay.
            if fullChain, upTo == nil, let sums = journal.checksums, try RowChecksums.ready(r.txn, meta: journal.meta) {
                report.problems += try RowChecksums.audit(r.txn, journal, sums)
                    .filter { p in !named.contains { p.hasPrefix($0) } }
                    .map { VerifyProblem(seq: nil, message: $0) }
            }
            return report
        }
    }

    static func startSnapshot(_ r: JournalReader, first: UInt64, target: UInt64) throws -> Snapshot? {
        for seq in try r.snapshotSeqs() where seq <= target && seq >= first {
            guard let snap = try? r.snapshot(at: seq), StateDigest.of(snap.state).digest == snap.digest else { continue }
            return snap
        }
        return nil
    }

    /// The walk over the events: sequence, chain, decode, and the replayed state.
    struct Walk {
        /// The first event's prev cannot be checked (what it points at was pruned or skipped).
        var anchored: Bool
        let start: Snapshot?
        var expectSeq: UInt64?
        var prevHash = EventRecord.genesisHash
        var end = JournalHead.empty

        init(anchored: Bool, start: Snapshot?) {
            self.anchored = anchored
            self.start = start
        }

        /// Sequence, schema and chain from the envelope alone; false sends the event to `step`,
        /// which decodes it fully and names what is wrong.
        mutating func quickStep(seq: UInt64, raw: UnsafeRawBufferPointer, into report: inout VerifyReport) -> Bool {
            guard let h = EventRecord.header(raw), h.seq == seq, h.schema == EventRecord.schemaVersion,
                  expectSeq.map({ $0 == seq }) ?? (anchored || seq == 1) else { return false }
            if expectSeq == nil && anchored { prevHash = h.prev }
            guard h.prev == prevHash else { return false }
            var hasher = SHA256()
            hasher.update(raw)  // straight from the mapped page: no copy
            prevHash = SHA256.hex(hasher.finalize())
            end = JournalHead(seq: seq, hash: prevHash)
            expectSeq = seq + 1
            report.events += 1
            return true
        }

        mutating func step(seq: UInt64, bytes: [UInt8], into report: inout VerifyReport) -> Bool {
            if let expectSeq, seq != expectSeq {
                report.problems.append(VerifyProblem(seq: seq, message: "sequence gap: expected \(expectSeq)"))
                return false
            }
            if expectSeq == nil && !anchored && seq != 1 {
                report.problems.append(VerifyProblem(seq: seq, message: "sequence gap: expected 1"))
                return false
            }
            let record: EventRecord
            do { record = try EventRecord.decode(bytes) } catch {
                report.problems.append(VerifyProblem(seq: seq, message: "does not decode: \(error.description)"))
                return false
            }
            guard record.seq == seq else {
                report.problems.append(VerifyProblem(seq: seq, message: "stored under seq \(seq) but says seq \(record.seq)"))
                return false
            }
            if expectSeq == nil && anchored { prevHash = record.prev }
            guard record.prev == prevHash else {
                report.problems.append(VerifyProblem(seq: seq, message:
                    "hash chain broken: prev is \(record.prev.prefix(12))…, the previous event hashes to \(prevHash.prefix(12))… (event \(seq - 1) was changed, or this one was)"))
                return false
            }
            guard replay(record, into: &report) else { return false }
            prevHash = SHA256.hex(SHA256.hash(bytes))
            end = JournalHead(seq: seq, hash: prevHash)
            expectSeq = seq + 1
            report.events += 1
            return true
        }

        /// Events up to the start snapshot are only checked; at it the state is loaded; after it
        /// every event is reduced.
        func replay(_ record: EventRecord, into report: inout VerifyReport) -> Bool {
            if let start, record.seq < start.seq { return true }
            if let start, record.seq == start.seq {
                guard record.prev == start.prev, case .snapshotTaken(let t) = record.event, t.digest == start.digest else {
                    report.problems.append(VerifyProblem(seq: record.seq, message:
                        "the stored snapshot does not match the snapshotTaken event it belongs to"))
                    return false
                }
                report.replayed = start.state
                return true
            }
            report.replayed.apply(Reducer.reduce(record, state: report.replayed).changes)
            return true
        }
    }

    /// Returns the rows it named ("<table> row \"<key>\""), as the checksum audit words them.
    @discardableResult
    static func compare(_ replayed: MemoryState, with r: JournalReader, into report: inout VerifyReport) throws -> Set<String> {
        var named: Set<String> = []
        for table in StateTable.allCases {
            let live = try r.rows(table)
            let want = replayed.tables[table] ?? [:]
            for (k, v) in want where live[k] != v {
                named.insert("\(table.rawValue) row \"\(printable(k))\"")
                let what = live[k] == nil ? "missing from" : "differs in"
                report.problems.append(VerifyProblem(seq: nil, message:
                    "\(table.rawValue) row \"\(printable(k))\" \(what) the materialized state (replay has it)"))
            }
            for k in live.keys where want[k] == nil {
                named.insert("\(table.rawValue) row \"\(printable(k))\"")
                report.problems.append(VerifyProblem(seq: nil, message:
                    "\(table.rawValue) row \"\(printable(k))\" is in the materialized state but not in the replay"))
            }
        }
        return named
    }

    static func printable(_ key: [UInt8]) -> String {
        if let (net, ip) = StateKeys.decodeAllocation(key), key.count > 4 { return "\(net) \(ip)" }
        return String(decoding: key.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }
}
