import CLMDB
import Glibc
import SkeinModel

// What an open and the first write transaction check so that a damaged journal is refused with a
// clear error instead of being written on: an empty data.mdb next to a used journal, the newest
// event against the head, liblmdb's own damage codes. And the failpoint that kills a writer inside
// its transaction (the proof that a lock file left behind needs no recovery).

extension LMDBError {
    /// liblmdb's codes for a file it found damaged (BAD_TXN follows one of them in the same
    /// transaction), and the refusals of a file that is not a usable environment.
    public var isDamage: Bool {
        [MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_BAD_TXN, MDB_INVALID, MDB_VERSION_MISMATCH].contains(code)
    }

    var isInvalidFile: Bool { code == MDB_INVALID || code == MDB_VERSION_MISMATCH }
}

extension StoreCheck {
    /// liblmdb treats an empty data.mdb as a new environment and writes a new, empty journal into
    /// it: after a truncation to 0 bytes, every address would look free. A data.mdb is empty for a
    /// moment while another process creates it (it holds liblmdb's exclusive lock meanwhile, so
    /// that lasts microseconds); one that stays empty was emptied.
    static func beforeOpen(_ directory: String) throws {
        let path = directory + "/data.mdb"
        for _ in 0..<50 {
            var st = stat()
            guard stat(path, &st) == 0, st.st_size == 0 else { return }
            usleep(1000)
        }
        throw JournalError.damaged(directory, ["data.mdb is empty (0 bytes): it was truncated, and a new journal is not started over it"])
    }
}

extension JournalReader {
    /// The newest event must be the one the head names, with the hash it records: a damaged
    /// newest event (or head) has no successor whose chain link would show it. Once per open, in
    /// the first write transaction (one point read and one hash).
    static func checkTail(_ txn: LMDBReadable, _ journal: Journal, _ head: JournalHead) throws {
        let last = try txn.last(journal.events)
        guard let last else {
            guard head.seq == 0 else {
                throw JournalError.damaged(journal.env.path, ["the head names event \(head.seq) but the events database is empty"])
            }
            return
        }
        let seq = BigEndian.uint64(last.key)
        guard seq == head.seq else {
            throw JournalError.damaged(journal.env.path, ["the newest event is \(seq.map(String.init) ?? "unreadable") but the head names event \(head.seq)"])
        }
        guard SHA256.hex(SHA256.hash(last.value)) == head.hash else {
            throw JournalError.damaged(journal.env.path, ["event \(head.seq), the newest, does not hash to what the head records (the event or the head was damaged)"])
        }
    }

    /// Every attachment row, each checked against its checksum when `checksums` is set.
    static func attachments(_ txn: LMDBReadable, _ journal: Journal, checksums: LMDBDatabase?) throws -> [AttachmentRecord] {
        try attachments(txn, journal.tables[.attachments]!, prefix: nil, checksums: checksums)
    }
}

/// SKEIN_FAILPOINT=journal-in-write kills the process (SIGKILL) inside its first journal write
/// transaction, after every put and before the commit: it dies holding liblmdb's writer lock
/// with its pages unwritten. The next writer must simply proceed (liblmdb's robust mutex, or a
/// fresh lock file when no process has the environment open) and find nothing of that
/// transaction. The engine's own failpoints (Sources/SkeinEngine/Failpoints.swift) ignore the name.
enum JournalFailpoint {
    static let inWrite = "journal-in-write"
    static let names: [String] = {
        guard let raw = getenv("SKEIN_FAILPOINT") else { return [] }
        return String(cString: raw).split(separator: ",").map(String.init)
    }()

    static func hit(_ name: String) {
        guard !names.isEmpty, names.contains(name) else { return }
        kill(getpid(), SIGKILL)
    }
}
