import Glibc
import SkeinModel
import SkeinReducer

// The node's journal: one LMDB environment holding the append-only event log, its head, and the
// materialized state tables. Every append reduces the event against the state inside the same
// write transaction and applies the row changes there: event and state can never disagree, and
// the cost of an append does not depend on how long the history is.

public struct JournalError: Error, CustomStringConvertible {
    public enum Kind: Sendable { case storage, corrupt, busy }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func wrap(_ error: Error, _ what: String) -> JournalError {
        if let j = error as? JournalError { return j }
        if let l = error as? LMDBError {
            if l.isDamage { return JournalError(.corrupt, "\(what): the journal file is damaged: \(l); run `skein-journal verify`, then `skein-journal recover`") }
            if l.code == ENOSPC || l.code == EDQUOT { return JournalError(.storage, "\(what): no space left on the journal's file system: \(l)") }
        }
        return JournalError(.storage, "\(what): \(error)")
    }
}

public struct JournalHead: Equatable, Sendable {
    public var seq: UInt64
    public var hash: String
    public static let empty = JournalHead(seq: 0, hash: EventRecord.genesisHash)
}

/// When the journal snapshots its state and how many events it keeps. A snapshot costs one pass
/// over the state tables (not the history) every `snapshotEvery` events; pruning deletes the
/// events before the newest snapshot that leaves at least `retainEvents` events in place, and is
/// itself recorded (eventsPruned).
public struct RetentionPolicy: Equatable, Sendable {
    public var snapshotEvery: UInt64
    /// nil: keep every event.
    public var retainEvents: UInt64?

    public init(snapshotEvery: UInt64 = 10_000, retainEvents: UInt64? = nil) {
        self.snapshotEvery = snapshotEvery
        self.retainEvents = retainEvents
    }

    public static let `default` = RetentionPolicy()
}

public final class Journal {
    public static let defaultStateDir = "/var/lib/skein"
    /// 1 GiB of address space (not memory): LMDB shrinks the map to an existing file's size when
    /// opened smaller than it, so a small default would make every call on a grown journal remap
    /// and re-run its transaction. Beyond it, MAP_FULL still doubles the map.
    static let mapSize = 1 << 30
    static let headKey = Array("head".utf8)
    static let schemaKey = Array("schema".utf8)

    public let env: LMDBEnvironment
    let events: LMDBDatabase
    let meta: LMDBDatabase
    let snapshots: LMDBDatabase?
    let tables: StateDatabases
    /// Row checksums (RowChecksums); nil only when a read-only open meets a journal without them.
    let checksums: LMDBDatabase?
    public let policy: RetentionPolicy
    /// The newest event was checked against the head (once per open: see checkTail).
    var tailChecked = false
    /// Attachment rows this process has decoded (see DecodedRows).
    let decodedRows = DecodedRows()

    /// Opens (creating if needed, unless read-only) the journal under `stateDir` (mode 0700, files 0600).
    public init(stateDir: String, readOnly: Bool = false, policy: RetentionPolicy = .default) throws {
        self.policy = policy
        do {
            try StoreCheck.beforeOpen(stateDir)
            env = try Journal.openEnvironment(stateDir, readOnly: readOnly)
            // Before liblmdb reads a data page: see StoreCheck.
            try StoreCheck.atOpen(stateDir)
            let create = !readOnly
            events = try env.openDatabase("events", create: create)
            meta = try env.openDatabase("meta", create: create)
            // A read-only open of a journal that never took a snapshot has no such database.
            snapshots = try? env.openDatabase("snapshots", create: create)
            tables = StateDatabases(attachments: try env.openDatabase(StateTable.attachments.rawValue, create: create),
                                    allocations: try env.openDatabase(StateTable.allocations.rawValue, create: create),
                                    cursors: try env.openDatabase(StateTable.cursors.rawValue, create: create))
            checksums = readOnly ? try? env.openDatabase(RowChecksums.database, create: false)
                                 : try env.openDatabase(RowChecksums.database, create: true)
        } catch {
            throw JournalError.wrap(error, "cannot open the journal in \(stateDir)")
        }
    }

    /// liblmdb refuses a file whose meta pages it cannot use with one word ("not an LMDB file");
    /// the raw check says which page and what.
    static func openEnvironment(_ stateDir: String, readOnly: Bool) throws -> LMDBEnvironment {
        do {
            return try LMDBEnvironment(directory: stateDir, mapSize: Journal.mapSize, readOnly: readOnly)
        } catch let e as LMDBError where e.isInvalidFile {
            if let file = try? RawFile(path: stateDir + "/data.mdb") {
                let problems = StoreCheck.metas(file).problems
                if !problems.isEmpty { throw JournalError.damaged(stateDir, problems.map(\.description)) }
            }
            throw e
        }
    }

    /// One write transaction: `body` may append several events (each reduced against the state as
    /// left by the previous one) and read the state. It must do nothing else — no netlink, nothing
    /// slow or with side effects (a /proc liveness read is the one exception the engine makes) —
    /// because every other writer waits meanwhile and the body can be re-run when the map grows.
    /// Durable (fsync) unless `sync` is false.
    public func transact<T>(sync: Bool = true, _ body: (JournalWriter) throws -> T) throws -> T {
        try transact(durability: sync ? .full : .none, body)
    }

    public func transact<T>(durability: LMDBDurability, _ body: (JournalWriter) throws -> T) throws -> T {
        do {
            return try env.write(durability: durability) { txn in
                let writer = try JournalWriter(journal: self, txn: txn, timeNs: Clock.realtimeNs())
                let value = try body(writer)
                try writer.finish()
                JournalFailpoint.hit(JournalFailpoint.inWrite)
                return value
            }
        } catch let e as CNIError {
            // A decision the body made (say, code 11 for an operation still running elsewhere),
            // not a storage failure: it must reach the runtime with its own code.
            throw e
        } catch {
            throw JournalError.wrap(error, "journal write failed")
        }
    }

    /// Appends events in one durable transaction and returns each record with the reducer's decision.
    @discardableResult
    public func append(_ events: [Event], sync: Bool = true) throws -> [(record: EventRecord, decision: Decision)] {
        try append(events, durability: sync ? .full : .none)
    }

    @discardableResult
    public func append(_ events: [Event], durability: LMDBDurability) throws -> [(record: EventRecord, decision: Decision)] {
        try transact(durability: durability) { w in try events.map { try w.append($0) } }
    }

    /// Writes and deletes a probe row in one durable transaction (STATUS).
    public func probeWrite() throws {
        let key = Array("status-probe".utf8)
        do {
            try env.write(durability: .full) { txn in
                try txn.put(meta, key, Array(String(Clock.realtimeNs()).utf8))
                try txn.delete(meta, key)
            }
        } catch {
            throw JournalError.wrap(error, "journal write failed")
        }
    }

    public func read<T>(_ body: (JournalReader) throws -> T) throws -> T {
        do {
            return try env.read { txn in try body(JournalReader(journal: self, txn: txn)) }
        } catch {
            throw JournalError.wrap(error, "journal read failed")
        }
    }
}

/// State reads through an LMDB transaction, for the reducer. The reducer's reads cannot throw, so a
/// storage error is held and rethrown once the reduction returns: a failed read must never look
/// like "this address is free".
final class TransactionState: StateReader {
    let txn: LMDBReadable
    let tables: StateDatabases
    /// Set: every read is checked against its row checksum (RowChecksums).
    var checksums: LMDBDatabase?
    var error: Error?
    let decodedRows: DecodedRows?

    init(txn: LMDBReadable, tables: StateDatabases, checksums: LMDBDatabase? = nil, decodedRows: DecodedRows? = nil) {
        self.txn = txn
        self.tables = tables
        self.checksums = checksums
        self.decodedRows = decodedRows
    }

    /// The row is read (and its checksum checked) every time; only its decoding is reused.
    func attachment(_ key: AttachmentKey) throws(DecodeError) -> AttachmentRecord? {
        guard let bytes = row(.attachments, StateKeys.attachment(key)) else { return nil }
        guard let decodedRows else { return try AttachmentRecord.decode(bytes) }
        return try decodedRows.record(key, bytes: bytes)
    }

    func row(_ table: StateTable, _ key: [UInt8]) -> [UInt8]? {
        do {
            let value = try txn.get(tables[table]!, key)
            if let checksums { try RowChecksums.check(txn, checksums, table, key, value) }
            return value
        } catch {
            if self.error == nil { self.error = error }
            return nil
        }
    }
}

public final class JournalWriter {
    let journal: Journal
    let txn: LMDBWriteTransaction
    let state: TransactionState
    public let timeNs: Int64
    public private(set) var head: JournalHead
    private var appended = 0

    init(journal: Journal, txn: LMDBWriteTransaction, timeNs: Int64) throws {
        self.journal = journal
        self.txn = txn
        self.timeNs = timeNs
        self.state = TransactionState(txn: txn, tables: journal.tables, decodedRows: journal.decodedRows)
        self.head = try JournalReader.head(txn, meta: journal.meta)
        if let sums = journal.checksums {
            try RowChecksums.prepare(txn, journal, sums)
            state.checksums = sums
        }
        if !journal.tailChecked {
            try JournalReader.checkTail(txn, journal, head)
            journal.tailChecked = true
        }
    }

    /// The state as of this point of the transaction.
    public var reader: StateReader { state }

    public func attachment(_ key: AttachmentKey) throws -> AttachmentRecord? {
        let rec = try state.attachment(key)
        if let e = state.error { throw e }
        return rec
    }

    /// Every attachment row (GC's scan; not on the ADD/DEL path).
    public func attachments() throws -> [AttachmentRecord] {
        try JournalReader.attachments(txn, journal, checksums: state.checksums)
    }

    public func append(_ event: Event) throws -> (record: EventRecord, decision: Decision) {
        var event = event
        if case .addRequested(let r) = event, r.decision == nil, r.refusal == nil {
            // The decision goes into the stored event (see AddDecision).
            event = .addRequested(Reducer.decide(r, state: state))
            if let e = state.error { throw e }
        }
        let record = EventRecord(seq: head.seq + 1, timeNs: timeNs, prev: head.hash, event: event)
        let bytes = record.encoded()
        let reduction = Reducer.reduce(record, state: state)
        if let e = state.error { throw e }
        try txn.put(journal.events, BigEndian.bytes(record.seq), bytes, noOverwrite: true, append: true)
        for change in reduction.changes {
            let (table, key, value) = change.encoded()
            // The row being replaced or deleted must be the one its checksum vouches for: a
            // damaged row is refused, not silently overwritten (or left behind by a delete).
            if let sums = state.checksums { try RowChecksums.check(txn, sums, table, key, try txn.get(journal.tables[table]!, key)) }
            if let value {
                try txn.put(journal.tables[table]!, key, value)
            } else {
                try txn.delete(journal.tables[table]!, key)
            }
            if let sums = state.checksums { try RowChecksums.record(txn, sums, table, key, value) }
        }
        head = JournalHead(seq: record.seq, hash: SHA256.hex(SHA256.hash(bytes)))
        appended += 1
        return (record, reduction.decision)
    }

    func finish() throws {
        guard appended > 0 else { return }
        try maintain()
        try txn.put(journal.meta, Journal.headKey, Array("\(head.seq) \(head.hash)".utf8))
        if state.checksums != nil { try RowChecksums.mark(txn, meta: journal.meta) }
        if try txn.get(journal.meta, Journal.schemaKey) == nil {
            try txn.put(journal.meta, Journal.schemaKey, Array(String(EventRecord.schemaVersion).utf8))
        }
    }
}

extension JournalWriter {
    /// Snapshot when this transaction crossed a multiple of `snapshotEvery`; then prune if the
    /// retention policy allows. Both are events of their own, in this same transaction.
    func maintain() throws {
        let policy = journal.policy
        guard policy.snapshotEvery > 0, let snapshotsDB = journal.snapshots else { return }
        let start = head.seq - UInt64(appended)
        guard head.seq / policy.snapshotEvery > start / policy.snapshotEvery else { return }
        var digest = StateDigest()
        var rows: [StateRow] = []
        for table in StateTable.allCases {
            try txn.forEach(journal.tables[table]!, from: nil, reverse: false) { k, v in
                digest.add(table, k, v)
                rows.append(StateRow(table: table, key: Array(k), value: Array(v)))
                return true
            }
        }
        let count = digest.rows
        let (record, _) = try append(.snapshotTaken(SnapshotTaken(digest: digest.finalize(), rows: count)))
        let snapshot = Snapshot(seq: record.seq, prev: record.prev, digest: (record.event.snapshotDigest ?? ""), rows: rows)
        try txn.put(snapshotsDB, BigEndian.bytes(record.seq), snapshot.encoded())
        try prune(snapshotsDB)
    }

    /// Deletes the events before the newest snapshot that still leaves `retainEvents` events, and
    /// the snapshots older than it; records eventsPruned.
    func prune(_ snapshotsDB: LMDBDatabase) throws {
        guard let retain = journal.policy.retainEvents, head.seq > retain else { return }
        let limit = head.seq - retain
        var anchor: UInt64?
        try txn.forEach(snapshotsDB, from: BigEndian.bytes(limit), reverse: true) { k, _ in
            anchor = BigEndian.uint64(k)
            return false
        }
        guard let anchor, let first = try JournalReader.firstSeq(txn, journal.events), first < anchor else { return }
        var doomed: [[UInt8]] = []
        try txn.forEach(journal.events, from: nil, reverse: false) { k, _ in
            guard let s = BigEndian.uint64(k), s < anchor else { return false }
            doomed.append(Array(k))
            return true
        }
        for k in doomed { try txn.delete(journal.events, k) }
        var oldSnapshots: [[UInt8]] = []
        try txn.forEach(snapshotsDB, from: nil, reverse: false) { k, _ in
            guard let s = BigEndian.uint64(k), s < anchor else { return false }
            oldSnapshots.append(Array(k))
            return true
        }
        for k in oldSnapshots { try txn.delete(snapshotsDB, k) }
        _ = try append(.eventsPruned(EventsPruned(snapshot: anchor, count: doomed.count)))
    }
}

extension Event {
    var snapshotDigest: String? {
        if case .snapshotTaken(let s) = self { return s.digest }
        return nil
    }
}

public struct JournalReader {
    let journal: Journal
    let txn: LMDBReadTransaction

    /// Reads through it are checked against the row checksums; a read that fails or does not
    /// match reads as absent (StateReader cannot throw): use `checkedState` where that matters.
    public var state: StateReader {
        (try? checkedState()) ?? TransactionState(txn: txn, tables: journal.tables, decodedRows: journal.decodedRows)
    }

    /// The state for reads whose errors must surface: check `error` after reading.
    func checkedState() throws -> TransactionState {
        let sums = try journal.checksums.flatMap { try RowChecksums.ready(txn, meta: journal.meta) ? $0 : nil }
        return TransactionState(txn: txn, tables: journal.tables, checksums: sums, decodedRows: journal.decodedRows)
    }

    public func head() throws -> JournalHead { try JournalReader.head(txn, meta: journal.meta) }

    /// The oldest event still in the journal (1 unless retention pruned some).
    public func firstSeq() throws -> UInt64? { try JournalReader.firstSeq(txn, journal.events) }

    static func firstSeq(_ txn: LMDBReadable, _ events: LMDBDatabase) throws -> UInt64? {
        var first: UInt64?
        try txn.forEach(events, from: nil, reverse: false) { k, _ in
            first = BigEndian.uint64(k)
            return false
        }
        return first
    }

    /// The stored snapshot taken at `seq`, if any.
    public func snapshot(at seq: UInt64) throws -> Snapshot? {
        guard let db = journal.snapshots, let raw = try txn.get(db, BigEndian.bytes(seq)) else { return nil }
        return try Snapshot.decode(raw)
    }

    /// Seqs of the stored snapshots, newest first.
    public func snapshotSeqs() throws -> [UInt64] {
        guard let db = journal.snapshots else { return [] }
        var out: [UInt64] = []
        try txn.forEach(db, from: nil, reverse: true) { k, _ in
            if let s = BigEndian.uint64(k) { out.append(s) }
            return true
        }
        return out
    }

    static func head(_ txn: LMDBReadable, meta: LMDBDatabase) throws -> JournalHead {
        guard let raw = try txn.get(meta, Journal.headKey) else { return .empty }
        let parts = String(decoding: raw, as: UTF8.self).split(separator: " ")
        guard parts.count == 2, let seq = UInt64(parts[0]), parts[1].utf8.count == 64 else {
            throw JournalError(.corrupt, "journal head record is malformed: \"\(String(decoding: raw, as: UTF8.self))\"")
        }
        return JournalHead(seq: seq, hash: String(parts[1]))
    }

    public func attachment(_ key: AttachmentKey) throws -> AttachmentRecord? {
        let state = try checkedState()
        let record = try state.attachment(key)
        if let e = state.error { throw e }
        return record
    }

    public func attachments() throws -> [AttachmentRecord] {
        try JournalReader.attachments(txn, journal, checksums: checkedState().checksums)
    }

    /// Raw event bytes in sequence order from `seq`; `body` returns false to stop. The buffer is
    /// valid only during the call. Every 8,192 events the mapped pages already read are released,
    /// so a scan of a million events runs in bounded memory.
    public func forEachEvent(from seq: UInt64 = 1, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
        var visited = 0
        var low: UnsafeRawPointer?
        var high: UnsafeRawPointer?
        try txn.forEach(journal.events, from: BigEndian.bytes(seq), reverse: false) { key, value in
            guard let s = BigEndian.uint64(key) else { throw JournalError(.corrupt, "event key of \(key.count) bytes") }
            guard try body(s, value) else { return false }
            if let p = value.baseAddress {
                low = low.map { min($0, p) } ?? p
                high = high.map { max($0, p) } ?? p
            }
            visited += 1
            if visited % 8192 == 0, let l = low, let h = high {
                // The span of values read in this stretch (append order keeps it compact). Dropping a
                // page that is still needed is harmless: it faults back in from the page cache.
                LMDBEnvironment.releaseMappedPages(from: l, to: h)
                low = nil
                high = nil
            }
            return true
        }
    }

    public func rows(_ table: StateTable) throws -> [[UInt8]: [UInt8]] {
        var out: [[UInt8]: [UInt8]] = [:]
        try txn.forEach(journal.tables[table]!, from: nil, reverse: false) { k, v in
            out[Array(k)] = Array(v)
            return true
        }
        return out
    }

    public func eventCount() throws -> Int { try txn.count(journal.events) }
}

public enum Clock {
    public static func realtimeNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    public static func monotonicNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

/// The state tables' database handles. A struct, not a [StateTable: LMDBDatabase]: every CNI call
/// opens the journal, and the dictionary's first use alone cost ~130k instructions (generic
/// metadata and hashing). The subscript is optional like the dictionary's, so call sites read
/// the same.
struct StateDatabases {
    let attachments: LMDBDatabase
    let allocations: LMDBDatabase
    let cursors: LMDBDatabase

    subscript(_ table: StateTable) -> LMDBDatabase? {
        switch table {
        case .attachments: attachments
        case .allocations: allocations
        case .cursors: cursors
        }
    }
}

/// Attachment rows decoded once per process, keyed by their exact bytes. An ADD reads the row it
/// has just written, and the outcome's reduction reads it again in the next transaction: decoding
/// its JSON each time was a sixth of an ADD's instructions. A row another process changed in
/// between has other bytes and is decoded anew, so a hit is always what decoding would give.
final class DecodedRows {
    private var rows: [AttachmentKey: (bytes: [UInt8], record: AttachmentRecord)] = [:]

    func record(_ key: AttachmentKey, bytes: [UInt8]) throws(DecodeError) -> AttachmentRecord {
        if let hit = rows[key], hit.bytes == bytes { return hit.record }
        let record = try AttachmentRecord.decode(bytes)
        rows[key] = (bytes, record)
        return record
    }
}
