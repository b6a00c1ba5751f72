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
        let check = MetaCheck(file)
        return (check.newest, check.older, check.problems)
    }

    /// The databases of the newest meta page: a journal that committed anything has an events
    /// database, and every database's root lies inside the file. Checked entry by entry as the
    /// main database is walked: on the open path nothing is collected and no message is built
    /// unless something is wrong.
    static func databases(_ file: RawFile, _ meta: RawMeta) -> [RawDamage] {
        guard meta.txnID > 0 else { return [] }
        let tree = "LMDB main database"
        var hasEvents = false
        var bad: [RawDamage] = []
        var roots: [RawDamage] = []
        let walked = RawStore(file: file, meta: meta).walk(tree, meta.main, subData: true) { key, value in
            guard value.count == 48 else {
                bad.append(RawDamage(tree: tree, page: nil, message: "the record of \"\(String(decoding: key, as: UTF8.self))\" is \(value.count) bytes, not 48"))
                return true
            }
            if key.elementsEqual("events".utf8) { hasEvents = true }
            let db = RawDB(value, at: 0)
            if !db.isEmpty && (db.root < 2 || db.root > meta.lastPage) {
                roots.append(RawDamage(tree: String(decoding: key, as: UTF8.self), page: db.root, message: "root page outside 2…\(meta.lastPage)"))
            }
            return true
        }
        guard walked.isEmpty && bad.isEmpty && hasEvents && roots.isEmpty else {
            var problems = walked + bad
            if !hasEvents {
                problems.append(RawDamage(tree: tree, page: meta.main.isEmpty ? nil : meta.main.root, message:
                    "transaction \(meta.txnID) was committed but there is no events database: the main database is damaged"))
            }
            // The walk visits the names in key order, which is their sorted order.
            return problems + roots
        }
        return []
    }

    /// The open-time check of `directory`/data.mdb (after liblmdb opened the environment, which
    /// creates the file and validates what it reads itself). A writer commits while we read
    /// without a lock: a failure is trusted only if no commit happened meanwhile.
    static func atOpen(_ directory: String) throws {
        var problems: [RawDamage] = []
        var seen: MetaCheck.TxnIDs?
        for _ in 0..<5 {
            // A fresh RawFile each time: its size is taken before the meta pages are read.
            guard let file = try? RawFile(path: directory + "/data.mdb") else { return }
            let check = MetaCheck(file)
            problems = check.problems
            if problems.isEmpty, let newest = check.newest { problems = databases(file, newest) }
            if problems.isEmpty { return }
            // Read after the check: equal to the last failure's, no commit ran under this one.
            let ids = MetaCheck.TxnIDs(file)
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

/// The check of both meta pages and the file's length. A plain struct and scalar steps: it runs
/// at every open, where a first use of a generic collection or tuple type costs more (Swift
/// runtime metadata) than the check itself; messages are built only for what is wrong.
struct MetaCheck {
    /// Both meta pages' transaction ids as they read now (0 for one the file is too short to hold).
    struct TxnIDs: Equatable {
        var first: UInt64
        var second: UInt64

        init(_ file: RawFile) {
            let (m0, m1) = file.metas()
            first = m0?.txnID ?? 0
            second = m1?.txnID ?? 0
        }
    }

    private(set) var newest: RawMeta?
    private(set) var older: RawMeta?
    private(set) var problems: [RawDamage] = []

    init(_ file: RawFile) {
        let (m0, m1) = file.metas()
        guard let m0, let m1 else {
            note("the file is \(file.size) bytes, too short for its two meta pages (it was truncated)")
            return
        }
        noteHeader(m0)
        noteHeader(m1)
        guard problems.isEmpty else {
            // One good meta page is still a way in (recover uses it); liblmdb refuses the file.
            newest = m0.headerProblem == nil ? m0 : m1.headerProblem == nil ? m1 : nil
            return
        }
        // liblmdb uses the meta page with the higher transaction id, meta page 0 on a tie.
        let (n, o) = m1.txnID > m0.txnID ? (m1, m0) : (m0, m1)
        newest = n
        older = o
        checkPair(m0, m1, newest: n, older: o)
        noteRoots(m0)
        noteRoots(m1)
        let needed = (Int(clamping: n.lastPage) + 1).multipliedReportingOverflow(by: n.pageSize)
        if needed.overflow || file.size < needed.partialValue {
            note("the file is \(file.size) bytes but meta page \(n.index) uses pages up to \(n.lastPage) (\(needed.overflow ? "more" : String(needed.partialValue)) bytes): it was truncated")
        }
    }

    private mutating func note(_ message: String) {
        problems.append(RawDamage(tree: "data.mdb", page: nil, message: message))
    }

    private mutating func noteHeader(_ m: RawMeta) {
        if let p = m.headerProblem { note("meta page \(m.index): \(p)") }
    }

    /// Commits alternate between the two meta pages: their transaction ids are consecutive and
    /// the newer one uses at least the pages of the older.
    private mutating func checkPair(_ m0: RawMeta, _ m1: RawMeta, newest: RawMeta, older: RawMeta) {
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
    }

    private mutating func noteRoots(_ m: RawMeta) {
        if !m.main.isEmpty && (m.main.root < 2 || m.main.root > m.lastPage) {
            note("meta page \(m.index): the main database's root page \(m.main.root) lies outside 2…\(m.lastPage)")
        }
        if !m.free.isEmpty && (m.free.root < 2 || m.free.root > m.lastPage) {
            note("meta page \(m.index): the free-page database's root page \(m.free.root) lies outside 2…\(m.lastPage)")
        }
    }
}
