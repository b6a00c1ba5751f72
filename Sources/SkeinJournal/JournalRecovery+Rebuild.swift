import SkeinModel
import SkeinReducer

// Pass 2 of recover: the chosen stretch's records, byte for byte (with proven repairs), replayed
// through the reducer as verify replays them — from the newest stored snapshot inside the stretch
// that matches its event (the records before it are copied, not decoded); what follows the
// stretch is listed as lost, with
// what each event was about (the history tracker that explain uses); with a target journal the
// records are written as they go (memory stays bounded by the state, not the history).

struct RebuildPass {
    let segment: ChainSegment?
    let repairs: [UInt64: [UInt8]]
    let snapshots: [UInt64: Snapshot]
    var state = MemoryState()
    var head = JournalHead.empty
    var tracker = HistoryTracker(node: History.hostName())
    var lost: [LostEvent] = []
    var unreadable: [ClosedRange<UInt64>] = []
    /// Where the replay starts: the newest kept snapshot (nil: event 1).
    let replayFrom: UInt64?
    /// Readable events before the stretch (its start is a later snapshot): history not kept.
    var historyDropped = 0
    private var lastSeen: UInt64 = 0

    init(_ plan: RecoveryPlan) {
        segment = plan.segment
        repairs = Dictionary(plan.analysis.repairs.map { ($0.seq, $0.bytes) }, uniquingKeysWith: { a, _ in a })
        snapshots = plan.snapshots
        replayFrom = plan.keptSnapshots.max()
    }

    /// One salvaged event; returns the record to write when it belongs to the stretch.
    mutating func take(_ seq: UInt64, _ raw: [UInt8]) throws -> [UInt8]? {
        if seq > lastSeen + 1, seq - 1 > (segment?.last ?? 0) {
            unreadable.append(max(lastSeen + 1, (segment?.last ?? 0) + 1)...(seq - 1))
        }
        lastSeen = max(lastSeen, seq)
        let bytes = repairs[seq] ?? raw
        guard let segment, seq >= segment.first else {
            if segment != nil { historyDropped += 1 } else { lose(seq, try? EventRecord.decode(bytes), SHA256.hex(SHA256.hash(bytes))) }
            return nil
        }
        let hash = SHA256.hex(SHA256.hash(bytes))
        guard seq <= segment.last else {
            lose(seq, try? EventRecord.decode(bytes), hash)
            return nil
        }
        head = JournalHead(seq: seq, hash: hash)
        if let from = replayFrom, seq < from { return bytes }
        if seq == replayFrom, let snap = snapshots[seq] {
            state = snap.state
            tracker.seed(from: snap)
            return bytes
        }
        guard let record = try? EventRecord.decode(bytes) else {
            throw JournalError(.corrupt, "event \(seq) verified in the first pass but does not decode")
        }
        state.apply(Reducer.reduce(record, state: state).changes)
        _ = tracker.derive(record, hash: hash, raw: [])
        return bytes
    }

    private mutating func lose(_ seq: UInt64, _ record: EventRecord?, _ hash: String) {
        guard let record else {
            lost.append(LostEvent(seq: seq, record: nil, type: nil, problem: "unreadable: it does not decode"))
            return
        }
        lost.append(LostEvent(seq: seq, record: tracker.derive(record, hash: hash, raw: []), type: record.event.typeName, problem: nil))
    }

    /// Events the old head names that were never read (past the last readable one).
    mutating func finish(oldHead: JournalHead?) {
        if let h = oldHead, h.seq > lastSeen, h.seq > (segment?.last ?? 0) {
            unreadable.append(max(lastSeen + 1, (segment?.last ?? 0) + 1)...h.seq)
        }
    }
}

extension JournalRecovery {
    static let batch = 4096

    /// Pass 2; with `target`, the records, snapshots, state, checksums and head are written to it.
    static func rebuild(_ plan: RecoveryPlan, into target: Journal?) throws -> (RecoveryReport, RebuildPass) {
        var pass = RebuildPass(plan)
        var pending: [(UInt64, [UInt8])] = []
        var failure: Error?
        _ = plan.source?.forEachEvent { seq, raw in
            do {
                if let bytes = try pass.take(seq, raw), target != nil { pending.append((seq, bytes)) }
                if pending.count >= batch, let target {
                    try writeEvents(pending, target)
                    pending.removeAll(keepingCapacity: true)
                }
                return true
            } catch {
                failure = error
                return false
            }
        }
        if let failure { throw failure }
        pass.finish(oldHead: plan.head)
        if let target {
            try writeEvents(pending, target)
            try writeRest(pass, plan, target)
        }
        return (report(plan, pass), pass)
    }

    static func writeEvents(_ events: [(UInt64, [UInt8])], _ j: Journal) throws {
        guard !events.isEmpty else { return }
        // Unsynced: the last transaction (writeRest) is durable and fdatasync covers the file.
        try j.env.write(durability: .none) { txn in
            for (seq, bytes) in events { try txn.put(j.events, BigEndian.bytes(seq), bytes, noOverwrite: true, append: true) }
        }
    }

    static func writeRest(_ pass: RebuildPass, _ plan: RecoveryPlan, _ j: Journal) throws {
        try j.env.write(durability: .full) { txn in
            if let db = j.snapshots {
                for seq in plan.keptSnapshots { try txn.put(db, BigEndian.bytes(seq), plan.snapshots[seq]!.encoded()) }
            }
            for table in StateTable.allCases {
                for (k, v) in pass.state.tables[table] ?? [:] { try txn.put(j.tables[table]!, k, v) }
            }
            if pass.head.seq > 0 {
                try txn.put(j.meta, Journal.headKey, Array("\(pass.head.seq) \(pass.head.hash)".utf8))
                try txn.put(j.meta, Journal.schemaKey, Array(String(EventRecord.schemaVersion).utf8))
            }
            if let sums = j.checksums { try RowChecksums.prepare(txn, j, sums) }
        }
    }

    /// The report of a rebuild: what was found, kept, repaired and lost, and how the rebuilt
    /// state differs from the damaged journal's live tables.
    static func report(_ plan: RecoveryPlan, _ pass: RebuildPass) -> RecoveryReport {
        var r = RecoveryReport(stateDir: plan.stateDir)
        r.metaPage = plan.metaPage
        r.damage = plan.damage + plan.analysis.problems.map(\.description)
        r.segment = plan.segment
        r.repairs = plan.analysis.repairs
        r.oldHead = plan.head
        r.head = pass.head
        r.lost = pass.lost
        r.unreadable = pass.unreadable
        r.historyDropped = pass.historyDropped
        r.nothingReadable = plan.source == nil
        r.state = pass.state
        let (live, liveDamage) = plan.source?.state() ?? (MemoryState(), [])
        r.stateDifferences = differences(live: live, rebuilt: pass.state)
        var sums: [[UInt8]: [UInt8]] = [:]
        _ = plan.source?.entries(RowChecksums.database) { k, v in sums[k] = v; return true }
        let checksumProblems = hasChecksums(plan) ? RowChecksums.problems(live, sums) : []
        r.healthy = plan.structureClean && liveDamage.isEmpty && plan.analysis.problems.isEmpty && r.repairs.isEmpty
            && r.lost.isEmpty && r.unreadable.isEmpty && pass.historyDropped == 0 && r.stateDifferences.isEmpty
            && checksumProblems.isEmpty && plan.metaPage == newestMetaIndex(plan)
        var seen = Set<String>()
        r.damage = (r.damage + RawDamage.summarized(liveDamage) + checksumProblems).filter { seen.insert($0).inserted }
        return r
    }

    /// The marker names the head: the checksums are kept (RowChecksums.ready, read raw).
    static func hasChecksums(_ plan: RecoveryPlan) -> Bool {
        var marker: [UInt8]?, head: [UInt8]?
        _ = plan.source?.entries("meta") { k, v in
            if k == RowChecksums.markerKey { marker = v }
            if k == Journal.headKey { head = v }
            return true
        }
        return marker != nil && marker == head
    }

    static func newestMetaIndex(_ plan: RecoveryPlan) -> Int {
        guard let (m0, m1) = plan.source?.store.file.metas() else { return -1 }
        return (m1?.txnID ?? 0) > (m0?.txnID ?? 0) ? 1 : 0
    }

    /// Rows of the damaged journal's live state that the rebuilt state lacks, holds otherwise, or
    /// that only the rebuilt state has.
    static func differences(live: MemoryState, rebuilt: MemoryState) -> [String] {
        var out: [String] = []
        for table in StateTable.allCases {
            let a = live.tables[table] ?? [:], b = rebuilt.tables[table] ?? [:]
            for k in Set(a.keys).union(b.keys).sorted(by: { $0.lexicographicallyPrecedes($1) }) where a[k] != b[k] {
                let row = "\(table.rawValue) \"\(Verifier.printable(k))\""
                switch (a[k], b[k]) {
                case (.some, nil): out.append("\(row): held by the damaged journal, not by the rebuilt one")
                case (nil, .some): out.append("\(row): held by the rebuilt journal, not by the damaged one's tables")
                default: out.append("\(row): differs")
                }
            }
        }
        return out
    }
}
