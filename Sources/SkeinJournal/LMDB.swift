// A small, typed, safe layer over liblmdb: the only file that knows the environment's lifecycle, map
// growth and durability policy. Transactions are scoped to closures; the raw C handles never leave
// this module.
import CLMDB
import Glibc

/// Every failure of this module: an MDB_* code or an errno, plus the operation that produced it.
public struct LMDBError: Error, CustomStringConvertible, Equatable {
    public let code: Int32
    public let op: String

    public init(code: Int32, op: String) {
        self.code = code
        self.op = op
    }

    /// `mdb_strerror` covers both LMDB's own codes and errno values.
    public var message: String { String(cString: mdb_strerror(code)) }
    public var isNotFound: Bool { code == MDB_NOTFOUND }
    public var isMapFull: Bool { code == MDB_MAP_FULL }
    public var isKeyExist: Bool { code == MDB_KEYEXIST }
    public var description: String { "\(op): \(message) (\(code))" }
}

@inline(__always)
func lmdbCheck(_ rc: Int32, _ op: @autoclosure () -> String) throws {
    if rc != 0 { throw LMDBError(code: rc, op: op()) }
}

/// A named database (LMDB "DBI") of one environment. Plain handle: valid for the environment's lifetime.
public struct LMDBDatabase: Sendable, Hashable {
    let dbi: MDB_dbi
    public let name: String
}

/// One LMDB environment (a directory holding data.mdb and lock.mdb).
///
/// Not thread-safe: use it from one thread at a time (it may move between threads: it is opened with
/// MDB_NOTLS so read transactions are not tied to a thread). Map growth unmaps and remaps the file, which
/// is only safe with no transaction open in this process; the environment tracks its own transactions to
/// guarantee that.
public final class LMDBEnvironment {
    let env: OpaquePointer
    public let path: String
    public let isReadOnly: Bool
    private var databases: [String: LMDBDatabase] = [:]
    /// Transactions currently open through this object (read or write), to refuse unsafe remaps.
    private var openTransactions = 0
    private var writeActive = false
    /// Counters for tests and diagnostics: map doublings, adoptions of another process's map size, and
    /// MAP_FULL reported by a commit (rather than by a put).
    private(set) var mapGrowths = 0
    private(set) var mapAdoptions = 0
    private(set) var commitMapFulls = 0
    /// Bounds the re-runs of one `read`/`write`: 20 doublings is 2^20 times the map, far beyond any need.
    static let maxAttempts = 24

    public init(directory: String, mapSize: Int = 64 << 20, maxDatabases: UInt32 = 16,
                readOnly: Bool = false, maxReaders: UInt32 = 126) throws {
        if !readOnly {
            try LMDBEnvironment.prepareDirectory(directory)
            try LMDBEnvironment.reserveLockFile(directory + "/lock.mdb", maxReaders: maxReaders)
        }
        var handle: OpaquePointer?
        try lmdbCheck(mdb_env_create(&handle), "mdb_env_create")
        guard let env = handle else { throw LMDBError(code: ENOMEM, op: "mdb_env_create") }
        do {
            try lmdbCheck(mdb_env_set_mapsize(env, mapSize), "mdb_env_set_mapsize")
            try lmdbCheck(mdb_env_set_maxdbs(env, maxDatabases), "mdb_env_set_maxdbs")
            try lmdbCheck(mdb_env_set_maxreaders(env, maxReaders), "mdb_env_set_maxreaders")
            var flags = UInt32(MDB_NOTLS)
            if readOnly { flags |= UInt32(MDB_RDONLY) }
            try lmdbCheck(mdb_env_open(env, directory, flags, 0o600), "mdb_env_open(\(directory))")
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.env = env
        self.path = directory
        self.isReadOnly = readOnly
        if !readOnly {
            // mdb_env_open's mode is filtered by the umask; make 0600 unconditional.
            _ = chmod(directory + "/data.mdb", 0o600)
            _ = chmod(directory + "/lock.mdb", 0o600)
            // Release reader slots of processes that died (a SIGKILLed CNI call), which would otherwise
            // pin old pages and make the file grow.
            var dead: Int32 = 0
            _ = mdb_reader_check(env, &dead)
        }
    }

    deinit {
        mdb_env_close(env)
    }

    /// Creates `directory` (mode 0700, umask-proof) and any missing parents (0755, like `mkdir -p`).
    /// An existing directory is left as it is: it may be shared (think /var/lib) and is not ours to tighten.
    static func prepareDirectory(_ directory: String) throws {
        var rc = mkdir(directory, 0o700)
        if rc != 0 && errno == ENOENT {
            try makeParents(of: directory)
            rc = mkdir(directory, 0o700)
        }
        if rc == 0 {
            // mkdir's mode went through the umask: state the mode we want explicitly.
            guard chmod(directory, 0o700) == 0 else { throw LMDBError(code: errno, op: "chmod(\(directory))") }
            return
        }
        let err = errno
        guard err == EEXIST else { throw LMDBError(code: err, op: "mkdir(\(directory))") }
        var st = stat()
        guard stat(directory, &st) == 0 else { throw LMDBError(code: errno, op: "stat(\(directory))") }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw LMDBError(code: ENOTDIR, op: "mkdir(\(directory))") }
    }

    /// liblmdb maps lock.mdb and writes it through memory: on a full file system, touching a page
    /// of it that has no block yet kills the process with SIGBUS instead of failing with ENOSPC.
    /// Reserving its blocks first (the size liblmdb gives it: the header and one 64-byte slot per
    /// reader) turns a full disk into an error. One stat when the blocks are already there.
    static func reserveLockFile(_ path: String, maxReaders: UInt32) throws {
        let size = (Int(maxReaders) - 1) * 64 + 192
        var st = stat()
        if stat(path, &st) == 0 && Int(st.st_blocks) * 512 >= size { return }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LMDBError(code: errno, op: "open(\(path))") }
        defer { close(fd) }
        let rc = posix_fallocate(fd, 0, off_t(size))
        // A file system without fallocate: liblmdb's own ftruncate is all there is.
        guard rc == 0 || rc == EOPNOTSUPP || rc == EINVAL else { throw LMDBError(code: rc, op: "reserve \(path)") }
    }

    /// Creates the missing ancestors of `path` with mode 0755 (EEXIST tolerated: another process may race).
    private static func makeParents(of path: String) throws {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/"), slash != trimmed.startIndex else { return }
        let parent = String(trimmed[..<slash])
        if mkdir(parent, 0o755) == 0 || errno == EEXIST { return }
        guard errno == ENOENT else { throw LMDBError(code: errno, op: "mkdir(\(parent))") }
        try makeParents(of: parent)
        guard mkdir(parent, 0o755) == 0 || errno == EEXIST else { throw LMDBError(code: errno, op: "mkdir(\(parent))") }
    }

    /// Opens (and with `create`, creates) a named database. Cached: a name is opened once per environment.
    /// Must not be called inside `write` (it may need its own write transaction).
    public func openDatabase(_ name: String, create: Bool) throws -> LMDBDatabase {
        if let db = databases[name] { return db }
        let db: LMDBDatabase
        do {
            // Try a read transaction first: opening an existing database then costs no writer lock and
            // no fsync. A DBI opened in a read transaction survives only if that transaction commits.
            db = try runRead(commit: true) { txn in try LMDBOps.openDBI(txn.handle(), name, flags: 0) }
        } catch let error as LMDBError where error.isNotFound && create && !isReadOnly {
            db = try write { txn in try LMDBOps.openDBI(txn.handle(), name, flags: UInt32(MDB_CREATE)) }
        }
        databases[name] = db
        return db
    }

    /// Runs `body` in a read-only snapshot. The transaction is invalid once `body` returns.
    public func read<T>(_ body: (LMDBReadTransaction) throws -> T) throws -> T {
        try runRead(commit: false, body)
    }

    private func runRead<T>(commit: Bool, _ body: (LMDBReadTransaction) throws -> T) throws -> T {
        var attempt = 1
        while true {
            var handle: OpaquePointer?
            let rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &handle)
            if rc == MDB_MAP_RESIZED && attempt < LMDBEnvironment.maxAttempts {
                // Another process grew the map past ours: adopt its size and begin again.
                try remap(to: 0, after: LMDBError(code: rc, op: "mdb_txn_begin(read)"))
                mapAdoptions += 1
                attempt += 1
                continue
            }
            try lmdbCheck(rc, "mdb_txn_begin(read)")
            let txn = LMDBReadTransaction(handle!)
            openTransactions += 1
            defer { openTransactions -= 1 }
            let value: T
            do { value = try body(txn) } catch {
                txn.end(commit: false)
                throw error
            }
            try lmdbCheck(txn.end(commit: commit), "mdb_txn_commit(read)")
            return value
        }
    }

    /// Flushes everything committed so far to disk (makes earlier `sync: false` commits durable).
    public func sync() throws {
        try lmdbCheck(mdb_env_sync(env, 1), "mdb_env_sync")
    }

    public func info() -> (mapSize: Int, lastPage: Int, lastTxnID: Int) {
        var info = MDB_envinfo()
        _ = mdb_env_info(env, &info)
        return (info.me_mapsize, info.me_last_pgno, info.me_last_txnid)
    }

    /// Drops this process's page mappings of `range` of the data file, given by addresses of values
    /// read from it (the pages stay in the page cache and fault back in on the next access). A long
    /// read-only scan calls it now and then so that its resident set stays bounded instead of
    /// growing with every page of the file it touched. Only for environments opened without
    /// MDB_WRITEMAP (ours): the map is read-only and file-backed, so nothing can be lost.
    public static func releaseMappedPages(from low: UnsafeRawPointer, to high: UnsafeRawPointer) {
        let page = UInt(getpagesize())
        let start = UInt(bitPattern: low) & ~(page - 1)
        let end = UInt(bitPattern: high) & ~(page - 1)
        guard end > start, let base = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(base, Int(end - start), MADV_DONTNEED)
    }

    /// Changes the map size (0: adopt the size recorded by another process). LMDB requires that no
    /// transaction is open in this process, since the mapping is replaced.
    func remap(to size: Int, after error: LMDBError) throws {
        guard openTransactions == 0 else { throw error }
        try lmdbCheck(mdb_env_set_mapsize(env, size), "mdb_env_set_mapsize(\(size))")
    }
}

@available(*, unavailable, message: "an LMDB environment is used from one thread at a time")
extension LMDBEnvironment: Sendable {}

// MARK: - Write transactions and their retry loop

extension LMDBEnvironment {
    /// Runs `body` in a write transaction and commits it; a throw from `body` aborts it.
    ///
    /// `body` may run more than once: when the map is full (from a put or from the commit) the map is
    /// doubled and `body` re-run; when another process grew the map, its size is adopted and `body`
    /// re-run. So `body` must only touch the transaction (no I/O, no side effects outside it).
    ///
    /// `sync: false` commits without fsync: about 100x cheaper, but a power loss may lose it or — as with
    /// MDB_NOSYNC — damage the file if nothing synced it afterwards. A later durable commit or `sync()`
    /// flushes it (fdatasync covers the whole file).
    @discardableResult
    public func write<T>(sync: Bool = true, _ body: (LMDBWriteTransaction) throws -> T) throws -> T {
        try write(durability: sync ? .full : .none, body)
    }

    /// `.metaDeferred` (MDB_NOMETASYNC) syncs the data pages but not the meta page: a system crash may
    /// undo this one transaction, never corrupt the file (LMDB keeps ACI, drops D). The next `.full`
    /// commit makes it durable.
    public func write<T>(durability: LMDBDurability, _ body: (LMDBWriteTransaction) throws -> T) throws -> T {
        guard !isReadOnly else { throw LMDBError(code: EACCES, op: "write: environment is read-only") }
        // LMDB's writer lock is not recursive: a nested write would deadlock this thread forever.
        guard !writeActive else { throw LMDBError(code: EBUSY, op: "write: nested write transaction") }
        writeActive = true
        defer { writeActive = false }
        var attempt = 1
        while true {
            switch try attemptWrite(durability: durability, body) {
            case .done(let value):
                return value
            case .retry(let error):
                guard attempt < LMDBEnvironment.maxAttempts else { throw error }
                attempt += 1
                if error.code == MDB_MAP_RESIZED {
                    try remap(to: 0, after: error)
                    mapAdoptions += 1
                } else {
                    let current = info().mapSize
                    let (doubled, overflow) = current.multipliedReportingOverflow(by: 2)
                    guard !overflow else { throw error }
                    try remap(to: doubled, after: error)
                    mapGrowths += 1
                }
            }
        }
    }

    private enum Attempt<T> {
        case done(T)
        case retry(LMDBError)
    }

    private func attemptWrite<T>(durability: LMDBDurability, _ body: (LMDBWriteTransaction) throws -> T) throws -> Attempt<T> {
        var handle: OpaquePointer?
        let rc = mdb_txn_begin(env, nil, 0, &handle)
        if rc == MDB_MAP_RESIZED { return .retry(LMDBError(code: rc, op: "mdb_txn_begin(write)")) }
        try lmdbCheck(rc, "mdb_txn_begin(write)")
        let txn = LMDBWriteTransaction(handle!)
        openTransactions += 1
        defer { openTransactions -= 1 }
        // Toggled only while we hold LMDB's writer lock, so only this commit skips the fsync.
        // LMDB reads MDB_NOSYNC from the environment at commit time.
        let relaxed: UInt32? = switch durability {
        case .full: nil
        case .metaDeferred: UInt32(MDB_NOMETASYNC)
        case .none: UInt32(MDB_NOSYNC)
        }
        if let relaxed { mdb_env_set_flags(env, relaxed, 1) }
        defer { if let relaxed { mdb_env_set_flags(env, relaxed, 0) } }
        let value: T
        do { value = try body(txn) } catch {
            txn.end(commit: false)
            // The body may have caught and wrapped our MAP_FULL: the transaction is poisoned either way.
            if let full = txn.mapFull { return .retry(full) }
            throw error
        }
        if let full = txn.mapFull {
            txn.end(commit: false)
            return .retry(full)
        }
        // A failed commit has already freed the transaction: `end` never aborts after it.
        let crc = txn.end(commit: true)
        if crc == MDB_MAP_FULL {
            commitMapFulls += 1
            return .retry(LMDBError(code: crc, op: "mdb_txn_commit"))
        }
        try lmdbCheck(crc, "mdb_txn_commit")
        return .done(value)
    }
}

public enum LMDBDurability: Sendable {
    /// fsync data and meta: survives a power cut.
    case full
    /// fsync data, not meta (MDB_NOMETASYNC): a power cut may undo this transaction, never corrupt.
    case metaDeferred
    /// no fsync (MDB_NOSYNC): a power cut may lose or damage it until the next full commit.
    case none
}

/// Big-endian encoding of integers, so that LMDB's bytewise key order is numeric order.
public enum BigEndian {
    public static func bytes(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// nil unless exactly 8 bytes.
    public static func uint64(_ bytes: some Collection<UInt8>) -> UInt64? {
        guard bytes.count == 8 else { return nil }
        return bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}
