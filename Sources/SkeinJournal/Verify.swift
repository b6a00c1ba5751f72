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
    public static func run(_ journal: Journal, upTo: UInt64? = nil, compareState: Bool = true) throws -> VerifyReport {
        try journal.read { r in
            var report = VerifyReport()
            let head = try r.head()
            report.head = head
            var expectSeq: UInt64 = 1
            var prevHash = EventRecord.genesisHash
            try r.forEachEvent { seq, raw in
                if let upTo, seq > upTo { return false }
                let bytes = Array(raw)
                guard check(seq: seq, bytes: bytes, expectSeq: expectSeq, prevHash: prevHash, into: &report) else { return false }
                prevHash = SHA256.hex(SHA256.hash(bytes))
                expectSeq = seq + 1
                return true
            }
            if report.ok, upTo == nil {
                if head.seq != expectSeq - 1 || head.hash != prevHash {
                    report.problems.append(VerifyProblem(seq: head.seq, message:
                        "journal head says seq \(head.seq) hash \(head.hash.prefix(12))…, the chain ends at seq \(expectSeq - 1) hash \(prevHash.prefix(12))… (events lost or tampered at the end)"))
                }
            }
            if report.ok, compareState, upTo == nil {
                try compare(report.replayed, with: r, into: &report)
            }
            return report
        }
    }

    static func check(seq: UInt64, bytes: [UInt8], expectSeq: UInt64, prevHash: String, into report: inout VerifyReport) -> Bool {
        guard seq == expectSeq else {
            report.problems.append(VerifyProblem(seq: seq, message: "sequence gap: expected \(expectSeq)"))
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
        guard record.prev == prevHash else {
            report.problems.append(VerifyProblem(seq: seq, message:
                "hash chain broken: prev is \(record.prev.prefix(12))…, the previous event hashes to \(prevHash.prefix(12))… (event \(seq - 1) was changed, or this one was)"))
            return false
        }
        let reduction = Reducer.reduce(record, state: report.replayed)
        report.replayed.apply(reduction.changes)
        report.events += 1
        return true
    }

    static func compare(_ replayed: MemoryState, with r: JournalReader, into report: inout VerifyReport) throws {
        for table in StateTable.allCases {
            let live = try r.rows(table)
            let want = replayed.tables[table] ?? [:]
            for (k, v) in want where live[k] != v {
                let what = live[k] == nil ? "missing from" : "differs in"
                report.problems.append(VerifyProblem(seq: nil, message:
                    "\(table.rawValue) row \"\(printable(k))\" \(what) the materialized state (replay has it)"))
            }
            for k in live.keys where want[k] == nil {
                report.problems.append(VerifyProblem(seq: nil, message:
                    "\(table.rawValue) row \"\(printable(k))\" is in the materialized state but not in the replay"))
            }
        }
    }

    static func printable(_ key: [UInt8]) -> String {
        if let (net, ip) = StateKeys.decodeAllocation(key), key.count > 4 { return "\(net) \(ip)" }
        return String(decoding: key.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }
}
