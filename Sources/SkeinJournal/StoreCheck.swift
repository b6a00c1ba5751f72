import Glibc

// The check every open makes before liblmdb reads a data page (microseconds: two meta pages and
// the main database's root page, read with pread). What it catches would otherwise end badly:
// a truncated file kills the process with SIGBUS at the first page past the end; a damaged
// transaction id makes liblmdb silently pick the older meta page, or an empty one, and a writer
// would then start a new journal over the old one and hand out addresses that pods still hold;
// a damaged page count makes a writer overwrite live pages.

public enum StoreCheck {
    /// Problems of the meta pages and the file size, and the meta page liblmdb would use.
    public static func metas(_ file: RawFile) -> (newest: RawMeta?, older: RawMeta?, problems: [RawDamage]) {
        let (m0, m1) = file.metas()
        var problems: [RawDamage] = []
        func note(_ m: String) { problems.append(RawDamage(tree: "data.mdb", page: nil, message: m)) }
        guard let m0, let m1 else {
            note("the file is \(file.size) bytes, too short for its two meta pages (it was truncated)")
            return (nil, nil, problems)
        }
        for m in [m0, m1] {
            if let p = m.headerProblem { note("meta page \(m.index): \(p)") }
        }
        guard problems.isEmpty else {
            // One good meta page is still a way in (recover uses it); liblmdb refuses the file.
            let good = [m0, m1].filter { $0.headerProblem == nil }
            return (good.first, nil, problems)
        }
        // liblmdb uses the meta page with the higher transaction id, meta page 0 on a tie.
        let (newest, older) = m1.txnID > m0.txnID ? (m1, m0) : (m0, m1)
        if m0.pageSize != m1.pageSize { note("the meta pages disagree on the page size (\(m0.pageSize), \(m1.pageSize))") }
        if newest.txnID == 0 {
            if newest.lastPage != 1 || older.lastPage != 1 || !newest.main.isEmpty {
                note("both meta pages say transaction 0 (a new file), yet they use pages up to \(max(newest.lastPage, older.lastPage)): a transaction id is damaged")
            }
        } else if newest.txnID - older.txnID != 1 {
            note("the meta pages record transactions \(m0.txnID) and \(m1.txnID); commits alternate between them, so they must be consecutive: a transaction id is damaged")
        }
        if older.lastPage > newest.lastPage {
            note("meta page \(newest.index) uses pages up to \(newest.lastPage), fewer than the transaction before it (\(older.lastPage)): its page count is damaged")
        }
        for m in [m0, m1] {
            for (name, db) in [("main", m.main), ("free-page", m.free)] where !db.isEmpty && (db.root < 2 || db.root > m.lastPage) {
                note("meta page \(m.index): the \(name) database's root page \(db.root) lies outside 2…\(m.lastPage)")
            }
        }
        let needed = (Int(clamping: newest.lastPage) + 1).multipliedReportingOverflow(by: newest.pageSize)
        if needed.overflow || file.size < needed.partialValue {
            note("the file is \(file.size) bytes but meta page \(newest.index) uses pages up to \(newest.lastPage) (\(needed.overflow ? "more" : String(needed.partialValue)) bytes): it was truncated")
        }
        return (newest, older, problems)
    }

    /// The databases of the newest meta page: a journal that committed anything has an events
    /// database, and every database's root lies inside the file.
    static func databases(_ file: RawFile, _ meta: RawMeta) -> [RawDamage] {
        guard meta.txnID > 0 else { return [] }
        let (dbs, damage) = RawStore(file: file, meta: meta).namedDatabases()
        var problems = damage
        if dbs["events"] == nil {
            problems.append(RawDamage(tree: "LMDB main database", page: meta.main.isEmpty ? nil : meta.main.root, message:
                "transaction \(meta.txnID) was committed but there is no events database: the main database is damaged"))
        }
        for (name, db) in dbs.sorted(by: { $0.key < $1.key }) where !db.isEmpty && (db.root < 2 || db.root > meta.lastPage) {
            problems.append(RawDamage(tree: name, page: db.root, message: "root page outside 2…\(meta.lastPage)"))
        }
        return problems
    }

    /// The open-time check of `directory`/data.mdb (after liblmdb opened the environment, which
    /// creates the file and validates what it reads itself). A writer commits while we read
    /// without a lock: a failure is trusted only if no commit happened meanwhile.
    static func atOpen(_ directory: String) throws {
        var problems: [RawDamage] = []
        var seen: [UInt64?]?
        for _ in 0..<5 {
            // A fresh RawFile each time: its size is taken before the meta pages are read.
            guard let file = try? RawFile(path: directory + "/data.mdb") else { return }
            let (newest, _, metaProblems) = metas(file)
            problems = metaProblems
            if problems.isEmpty, let newest { problems = databases(file, newest) }
            if problems.isEmpty { return }
            let (a, b) = file.metas()
            let ids = [a?.txnID, b?.txnID]
            if ids == seen { break }
            seen = ids
            usleep(2000)
        }
        throw JournalError.damaged(directory, problems.map(\.description))
    }
}

extension JournalError {
    /// The journal's files are damaged: what was found, and what the operator does about it.
    static func damaged(_ directory: String, _ problems: [String]) -> JournalError {
        let more = problems.count > 1 ? " (and \(problems.count - 1) more)" : ""
        return JournalError(.corrupt, "the journal in \(directory) is damaged: \(problems.first ?? "unknown damage")\(more); "
            + "run `skein-journal verify --state-dir \(directory)`, then `skein-journal recover --state-dir \(directory)`")
    }
}
