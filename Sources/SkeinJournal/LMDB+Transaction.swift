// Transactions: closure-scoped handles over a C MDB_txn. Both kinds share the read operations (LMDBOps);
// the handle is cleared when the closure ends so an escaped transaction throws instead of touching
// freed memory.
import CLMDB
import Glibc

/// Read operations available in both read and write transactions.
public protocol LMDBReadable {
    /// A copy of the value, or nil if absent.
    func get(_ db: LMDBDatabase, _ key: [UInt8]) throws -> [UInt8]?
    /// Lends the value without copying; the buffer is valid only inside `body`. nil if absent.
    func withValue<R>(_ db: LMDBDatabase, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R?
    /// Visits entries in key order (descending with `reverse`). With `startKey`: forward starts at the first
    /// key >= startKey, reverse at the last key <= startKey. `body` returns false to stop. Buffers are
    /// valid only during the call; do not modify the database from `body`.
    func forEach(_ db: LMDBDatabase, from startKey: [UInt8]?, reverse: Bool,
                 _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws
    /// The entry with the greatest key.
    func last(_ db: LMDBDatabase) throws -> (key: [UInt8], value: [UInt8])?
    /// Number of entries.
    func count(_ db: LMDBDatabase) throws -> Int
}

// Conveniences standing in for default arguments (a requirement cannot have them). Distinct signatures,
// so none of them can become a recursive default implementation of the requirement.
extension LMDBReadable {
    public func forEach(_ db: LMDBDatabase, from startKey: [UInt8]?,
                        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        try forEach(db, from: startKey, reverse: false, body)
    }

    public func forEach(_ db: LMDBDatabase, reverse: Bool,
                        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        try forEach(db, from: nil, reverse: reverse, body)
    }

    public func forEach(_ db: LMDBDatabase,
                        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        try forEach(db, from: nil, reverse: false, body)
    }
}

/// What both kinds of transaction share: the closure-scoped handle and the read operations.
public class LMDBTransaction: LMDBReadable {
    private var pointer: OpaquePointer?

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    func handle() throws -> OpaquePointer {
        guard let pointer else { throw LMDBError(code: EINVAL, op: "transaction used outside its closure") }
        return pointer
    }

    /// Commits (a read transaction keeps the DBIs opened in it) or aborts, and invalidates the
    /// handle. A failed commit frees the transaction too.
    @discardableResult
    func end(commit: Bool) -> Int32 {
        guard let pointer else { return 0 }
        self.pointer = nil
        if commit { return mdb_txn_commit(pointer) }
        mdb_txn_abort(pointer)
        return 0
    }

    public func get(_ db: LMDBDatabase, _ key: [UInt8]) throws -> [UInt8]? {
        try LMDBOps.withValue(handle(), db, key) { [UInt8]($0) }
    }

    public func withValue<R>(_ db: LMDBDatabase, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try LMDBOps.withValue(handle(), db, key, body)
    }

    public func forEach(_ db: LMDBDatabase, from startKey: [UInt8]?, reverse: Bool,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        try LMDBOps.forEach(handle(), db, from: startKey, reverse: reverse, body)
    }

    public func last(_ db: LMDBDatabase) throws -> (key: [UInt8], value: [UInt8])? {
        try LMDBOps.last(handle(), db)
    }

    public func count(_ db: LMDBDatabase) throws -> Int {
        try LMDBOps.count(handle(), db)
    }
}

/// A read-only snapshot; valid only inside `LMDBEnvironment.read`.
public final class LMDBReadTransaction: LMDBTransaction {}

/// A write transaction; valid only inside `LMDBEnvironment.write`.
public final class LMDBWriteTransaction: LMDBTransaction {
    /// Set when LMDB reported MDB_MAP_FULL: the transaction is then unusable and the environment grows
    /// the map and re-runs the body, whatever the body did with the error.
    private(set) var mapFull: LMDBError?

    private func check(_ rc: Int32, _ op: StaticString) throws {
        guard rc != 0 else { return }
        let error = LMDBError(code: rc, op: "\(op)")
        if rc == MDB_MAP_FULL { mapFull = error }
        throw error
    }

    /// `noOverwrite`: fail with `isKeyExist` if the key is present. `append`: the key must sort after
    /// every existing key (cheap bulk load; otherwise `isKeyExist`).
    public func put(_ db: LMDBDatabase, _ key: [UInt8], _ value: [UInt8],
                    noOverwrite: Bool = false, append: Bool = false) throws {
        let txn = try handle()
        var flags: UInt32 = 0
        if noOverwrite { flags |= UInt32(MDB_NOOVERWRITE) }
        if append { flags |= UInt32(MDB_APPEND) }
        let rc = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var vv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                return mdb_put(txn, db.dbi, &kv, &vv, flags)
            }
        }
        try check(rc, "mdb_put")
    }

    /// Returns false if the key was absent.
    @discardableResult
    public func delete(_ db: LMDBDatabase, _ key: [UInt8]) throws -> Bool {
        let txn = try handle()
        let rc = key.withUnsafeBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return mdb_del(txn, db.dbi, &kv, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_del")
        return true
    }

    /// Removes every entry; the database itself stays open.
    public func drop(_ db: LMDBDatabase) throws {
        try check(mdb_drop(try handle(), db.dbi, 0), "mdb_drop")
    }
}

@available(*, unavailable, message: "an LMDB transaction belongs to its closure")
extension LMDBReadTransaction: Sendable {}

@available(*, unavailable, message: "an LMDB transaction belongs to its closure")
extension LMDBWriteTransaction: Sendable {}

/// The read operations, shared by both transaction kinds.
enum LMDBOps {
    static func openDBI(_ txn: OpaquePointer, _ name: String, flags: UInt32) throws -> LMDBDatabase {
        var dbi: MDB_dbi = 0
        try lmdbCheck(mdb_dbi_open(txn, name, flags, &dbi), "mdb_dbi_open(\(name))")
        return LMDBDatabase(dbi: dbi, name: name)
    }

    static func withValue<R>(_ txn: OpaquePointer, _ db: LMDBDatabase, _ key: [UInt8],
                             _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        var value = MDB_val()
        let rc = key.withUnsafeBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return mdb_get(txn, db.dbi, &kv, &value)
        }
        if rc == MDB_NOTFOUND { return nil }
        try lmdbCheck(rc, "mdb_get")
        return try body(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
    }

    static func forEach(_ txn: OpaquePointer, _ db: LMDBDatabase, from startKey: [UInt8]?, reverse: Bool,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        try withCursor(txn, db) { cursor in
            var key = MDB_val(), value = MDB_val()
            var rc = position(cursor, startKey, reverse, &key, &value)
            while rc == 0 {
                guard try body(raw(key), raw(value)) else { return }
                rc = mdb_cursor_get(cursor, &key, &value, reverse ? MDB_PREV : MDB_NEXT)
            }
            if rc != MDB_NOTFOUND { throw LMDBError(code: rc, op: "mdb_cursor_get") }
        }
    }

    /// Places the cursor on the first entry to visit; returns MDB_NOTFOUND if there is none.
    private static func position(_ cursor: OpaquePointer, _ startKey: [UInt8]?, _ reverse: Bool,
                                 _ key: inout MDB_val, _ value: inout MDB_val) -> Int32 {
        guard let startKey else { return mdb_cursor_get(cursor, &key, &value, reverse ? MDB_LAST : MDB_FIRST) }
        // SET_RANGE lands on the first key >= startKey and rewrites `key` to point into the map.
        let rc = startKey.withUnsafeBytes { k in
            key = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE)
        }
        guard reverse else { return rc }
        if rc == MDB_NOTFOUND { return mdb_cursor_get(cursor, &key, &value, MDB_LAST) }
        if rc != 0 { return rc }
        let exact = startKey.withUnsafeBytes { $0.elementsEqual(raw(key)) }
        return exact ? 0 : mdb_cursor_get(cursor, &key, &value, MDB_PREV)
    }

    static func last(_ txn: OpaquePointer, _ db: LMDBDatabase) throws -> (key: [UInt8], value: [UInt8])? {
        try withCursor(txn, db) { cursor in
            var key = MDB_val(), value = MDB_val()
            let rc = mdb_cursor_get(cursor, &key, &value, MDB_LAST)
            if rc == MDB_NOTFOUND { return nil }
            try lmdbCheck(rc, "mdb_cursor_get(last)")
            return ([UInt8](raw(key)), [UInt8](raw(value)))
        }
    }

    static func count(_ txn: OpaquePointer, _ db: LMDBDatabase) throws -> Int {
        var stat = MDB_stat()
        try lmdbCheck(mdb_stat(txn, db.dbi, &stat), "mdb_stat")
        return stat.ms_entries
    }

    /// Cursors of read transactions are not freed with the transaction: always close them here.
    private static func withCursor<R>(_ txn: OpaquePointer, _ db: LMDBDatabase,
                                      _ body: (OpaquePointer) throws -> R) throws -> R {
        var cursor: OpaquePointer?
        try lmdbCheck(mdb_cursor_open(txn, db.dbi, &cursor), "mdb_cursor_open")
        defer { mdb_cursor_close(cursor) }
        return try body(cursor!)
    }

    @inline(__always)
    static func raw(_ val: MDB_val) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: val.mv_data, count: val.mv_size)
    }
}
