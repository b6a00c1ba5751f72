import Glibc
import SkeinModel
import SkeinReducer

// `skein-journal recover`: rebuild a damaged journal from what still verifies. It never reads the
// damaged file with liblmdb (which may abort or fault on a damaged page) and never changes it:
//
//  1. plan: read the events through the newest meta page (and the older one, which holds the
//     transaction before, when that reaches further), scan the chain, repair single damaged
//     records where the chain proves the original, and choose the verified stretch that reaches
//     furthest — from event 1, or from a stored snapshot that still hashes to its digest;
//  2. rebuild: copy that stretch's records byte for byte into a new environment, replay them
//     through the reducer (which reproduces the state tables bit for bit) and give every row its
//     checksum; list what comes after the stretch (lost) and the attachments the new state holds;
//  3. swap (JournalRecovery+Swap): keep the damaged files in <state dir>/damaged-<time>/, put
//     the new data.mdb in place.

public struct RecoveryPlan {
    public let stateDir: String
    /// The meta page the chosen reading went through (0 or 1).
    public let metaPage: Int
    /// Structural damage and chain problems found (through the newest meta page).
    public internal(set) var damage: [String]
    public let analysis: ChainAnalysis
    /// The stretch to rebuild from (already cut at --to-seq); nil: nothing verifies.
    public let segment: ChainSegment?
    /// The newest head found (through either meta page).
    public internal(set) var head: JournalHead?
    /// nil: no meta page is readable (only an empty journal can be built: --to-seq 0).
    let source: SalvageSource?
    let snapshots: [UInt64: Snapshot]
    /// The stored snapshots inside the segment that match their snapshotTaken event: copied into
    /// the new journal, and the newest is where the replay starts (as verify's does).
    var keptSnapshots: [UInt64] = []

    /// An empty journal, asked for with --to-seq 0 when nothing at all can be read.
    static func empty(_ stateDir: String, damage: [String]) -> RecoveryPlan {
        RecoveryPlan(stateDir: stateDir, metaPage: 0, damage: damage, analysis: ChainAnalysis(), segment: nil,
                     head: nil, source: nil, snapshots: [:])
    }

    /// Nothing was found wrong in the reading through the newest meta page.
    public var structureClean: Bool { damage.isEmpty }
}

public enum JournalRecovery {
    /// Reads `stateDir`/data.mdb and chooses what to rebuild from.
    public static func plan(_ stateDir: String, toSeq: UInt64? = nil) throws -> RecoveryPlan {
        let file: RawFile
        do { file = try RawFile(path: stateDir + "/data.mdb") } catch {
            throw JournalError(.storage, "cannot read \(stateDir)/data.mdb: \(error)")
        }
        let metaProblems = StoreCheck.metas(file).problems
        let candidates = readableMetas(file)
        guard !candidates.isEmpty else {
            throw JournalError(.corrupt, "nothing in \(stateDir)/data.mdb is readable (\(metaProblems.map(\.description).joined(separator: "; "))); `recover --to-seq 0` starts an empty journal, after which every attachment still on the node must be removed (drain it)")
        }
        var best: RecoveryPlan?
        var damage: [String]?
        var newestHead: JournalHead?
        for meta in candidates {
            let p = reading(stateDir, file, meta, toSeq: toSeq, extra: damage == nil ? metaProblems : [])
            damage = damage ?? p.damage
            if let h = p.head, h.seq > (newestHead?.seq ?? 0) { newestHead = h }
            if best == nil || (p.segment?.last ?? 0) > (best!.segment?.last ?? 0) { best = p }
            // The other meta page holds the transaction before: worth reading only when pages
            // of this reading are damaged (its records are the same up to its head).
            if p.damage.isEmpty && metaProblems.isEmpty { break }
        }
        if let newest = candidates.first {
            for p in mainDatabaseReadings(stateDir, file, newest, toSeq: toSeq) {
                if let h = p.head, h.seq > (newestHead?.seq ?? 0) { newestHead = h }
                if (p.segment?.last ?? 0) > (best!.segment?.last ?? 0) { best = p }
            }
        }
        var plan = best!
        // What the newest meta page's reading found wrong; and the newest head any reading
        // found: events up to it existed, whichever reading is rebuilt from.
        plan.damage = damage ?? []
        plan.head = newestHead
        return plan
    }

    /// Both meta pages, newest transaction first, each with a usable page size: a damaged magic,
    /// version or transaction id says little about the rest of the page, which the walk checks.
    static func readableMetas(_ file: RawFile) -> [RawMeta] {
        let (m0, m1) = file.metas()
        let sane = [m0, m1].compactMap { $0 }.first { $0.headerProblem == nil }?.pageSize ?? Int(getpagesize())
        var out: [RawMeta] = []
        for var m in [m0, m1].compactMap({ $0 }) {
            if m.pageSize != sane { m.pageSize = sane }
            // The second meta page sits one page in: reread it at the sane page size.
            if m.index == 1, let b = file.read(sane, 160) {
                m = RawMeta(b, index: 1)
                m.pageSize = sane
            }
            if !m.main.isEmpty || m.txnID > 0 { out.append(m) }
        }
        return out.sorted { $0.txnID > $1.txnID }
    }

    /// When the newest meta page's main database is unreadable (a damaged root pointer or page),
    /// the pages that look like a main database are tried as its root instead.
    static func mainDatabaseReadings(_ stateDir: String, _ file: RawFile, _ meta: RawMeta, toSeq: UInt64?) -> [RecoveryPlan] {
        let filePages = UInt64(file.size / meta.pageSize)
        let store = RawStore(file: file, meta: meta, pageLimit: max(meta.lastPage, filePages > 0 ? filePages - 1 : 0))
        let (dbs, damage) = store.namedDatabases()
        guard dbs["events"] == nil || !damage.isEmpty else { return [] }
        return store.mainDatabaseCandidates().map { page in
            var m = meta
            m.main.root = page
            return reading(stateDir, file, m, toSeq: toSeq, extra: [])
        }
    }

    /// Pass 1 through one meta page: structure, events, chain analysis.
    static func reading(_ stateDir: String, _ file: RawFile, _ meta: RawMeta, toSeq: UInt64?,
                        extra: [RawDamage]) -> RecoveryPlan {
        // Pages up to the end of the file may be followed: the meta page's count may be the damage.
        let filePages = UInt64(file.size / meta.pageSize)
        var source = SalvageSource(store: RawStore(file: file, meta: meta, pageLimit: max(meta.lastPage, filePages > 0 ? filePages - 1 : 0)))
        var damage = extra + StoreCheck.databases(file, meta)
        damage += source.store.walk("LMDB free-page list", meta.free) { _, _ in true }
        for (name, db) in source.databases.sorted(by: { $0.key < $1.key }) where name != "events" {
            damage += source.store.walk(name, db) { _, _ in true }
        }
        damage += source.prepareEvents()
        var scan = ChainScan()
        _ = source.forEachEvent { seq, bytes in
            scan.add(seq: seq, bytes: bytes)
            return true
        }
        scan.finish()
        let head = source.head()
        let snapshots = source.snapshots()
        let analysis = scan.analyze(head: head, snapshots: snapshots)
        let segment = analysis.best(toSeq: toSeq)
        var plan = RecoveryPlan(stateDir: stateDir, metaPage: meta.index, damage: RawDamage.summarized(damage), analysis: analysis,
                                segment: segment, head: head, source: source, snapshots: snapshots)
        if let s = segment {
            plan.keptSnapshots = scan.entries.filter { $0.seq >= s.first && $0.seq <= s.last && scan.startsChain($0, snapshots) == true }.map(\.seq)
        }
        return plan
    }
}

/// What a lost event was about, as far as it can be read.
public struct LostEvent: Sendable {
    public var seq: UInt64
    /// nil: the event could not be read or decoded (`problem` says why).
    public var record: AuditRecord?
    public var type: String?
    public var problem: String?
}

public struct RecoveryReport: Sendable {
    public var stateDir: String
    public var metaPage = 0
    public var damage: [String] = []
    public var segment: ChainSegment?
    public var repairs: [ChainRepair] = []
    /// The damaged journal's head (nil: unreadable) and the rebuilt one's.
    public var oldHead: JournalHead?
    public var head = JournalHead.empty
    /// Events after the rebuilt head: read (with what they were about) or unreadable.
    public var lost: [LostEvent] = []
    /// Seqs that could not be read at all, as ranges (on damaged pages, or past the end).
    public var unreadable: [ClosedRange<UInt64>] = []
    /// Readable events before the stretch, which starts at a later snapshot: their history is
    /// not kept (their effect on the state is, in the snapshot).
    public var historyDropped = 0
    public var state = MemoryState()
    /// Rows of the damaged journal's live state that the rebuilt state lacks or holds otherwise.
    public var stateDifferences: [String] = []
    /// Nothing to do: the journal verifies and its state matches the replay.
    public var healthy = false
    /// Nothing verifies and no empty journal was asked for (--to-seq 0): nothing was built.
    public var refused = false
    /// Not even a meta page could be read: what the journal held is unknown.
    public var nothingReadable = false
    /// Where the damaged files were kept (nil: dry run, or nothing done).
    public var evidence: String?
}
