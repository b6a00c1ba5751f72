import Foundation
import Glibc
@testable import SkeinJournal
import Testing

// MARK: - Helpers

/// A fresh directory under /tmp, removed afterwards.
func withTempDir<R>(_ body: (String) throws -> R) throws -> R {
    var template = Array("/tmp/skein-lmdb-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw LMDBError(code: errno, op: "mkdtemp") }
    let dir = String(cString: made)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

func key(_ n: UInt64) -> [UInt8] { BigEndian.bytes(n) }

func mode(_ path: String) -> mode_t {
    var st = stat()
    return stat(path, &st) == 0 ? st.st_mode & 0o7777 : 0
}

/// Collects (key, value) as UInt64 pairs from a forEach.
func collect(_ txn: some LMDBReadable, _ db: LMDBDatabase, from: [UInt8]? = nil, reverse: Bool = false,
             limit: Int = .max) throws -> [UInt64] {
    var keys: [UInt64] = []
    try txn.forEach(db, from: from, reverse: reverse) { k, _ in
        keys.append(BigEndian.uint64(k)!)
        return keys.count < limit
    }
    return keys
}

/// Runs `body` in a forked child that exits with its return value. The child only uses code paths the
/// parent has already exercised (so the runtime has no lazy initialisation to lock) and leaves with _exit.
func forkChild(_ body: () -> Int32) -> pid_t {
    let pid = fork()
    if pid == 0 { _exit(body()) }
    return pid
}

/// Exit status of a child, or nil if it crashed or missed the deadline (then it is killed).
func waitChild(_ pid: pid_t, timeout: Double = 60) -> Int32? {
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    while true {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { return status & 0x7f == 0 ? (status >> 8) & 0xff : nil }
        if r < 0 || Date() > deadline {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            return nil
        }
        usleep(1000)
    }
}

// MARK: - Single-process behaviour

@Suite struct LMDBBasicTests {
    @Test func putGetDelete() throws {
        try withTempDir { dir in
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.openDatabase("t", create: true)
            #expect(try env.openDatabase("t", create: false) == db)
            try env.write { (txn) throws in
                try txn.put(db, Array("alpha".utf8), Array("1".utf8))
                try txn.put(db, Array("beta".utf8), [])
                #expect(try txn.get(db, Array("alpha".utf8)) == Array("1".utf8))  // own writes visible
            }
            try env.read { (txn) throws in
                #expect(try txn.get(db, Array("alpha".utf8)) == Array("1".utf8))
                #expect(try txn.get(db, Array("beta".utf8)) == [])
                #expect(try txn.get(db, Array("gamma".utf8)) == nil)
                #expect(try txn.withValue(db, Array("alpha".utf8)) { $0.count } == 1)
                #expect(try txn.withValue(db, Array("gamma".utf8)) { $0.count } == nil)
                #expect(try txn.count(db) == 2)
            }
            try env.write { (txn) throws in
                #expect(try txn.delete(db, Array("alpha".utf8)) == true)
                #expect(try txn.delete(db, Array("alpha".utf8)) == false)
            }
            #expect(try env.read { try $0.count(db) } == 1)
            try env.write { try $0.drop(db) }
            #expect(try env.read { try $0.count(db) } == 0)
        }
    }

    @Test func forEachOrderReverseAndStart() throws {
        try withTempDir { dir in
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.openDatabase("ordered", create: true)
            try env.write { (txn) throws in
                for n in [70, 10, 100, 40, 20, 90, 30, 60, 50, 80] as [UInt64] {
                    try txn.put(db, key(n), key(n * 2))
                }
            }
            try env.read { (txn) throws in
                #expect(try collect(txn, db) == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
                #expect(try collect(txn, db, reverse: true) == [100, 90, 80, 70, 60, 50, 40, 30, 20, 10])
                #expect(try collect(txn, db, from: key(50)) == [50, 60, 70, 80, 90, 100])
                #expect(try collect(txn, db, from: key(55)) == [60, 70, 80, 90, 100])
                #expect(try collect(txn, db, from: key(50), reverse: true) == [50, 40, 30, 20, 10])
                #expect(try collect(txn, db, from: key(55), reverse: true) == [50, 40, 30, 20, 10])
                #expect(try collect(txn, db, from: key(500), reverse: true).first == 100)
                #expect(try collect(txn, db, from: key(500)) == [])
                #expect(try collect(txn, db, from: key(5), reverse: true) == [])
                #expect(try collect(txn, db, from: key(5)).count == 10)
                #expect(try collect(txn, db, limit: 3) == [10, 20, 30])
                var values: [UInt64] = []
                try txn.forEach(db, from: key(90)) { _, v in
                    values.append(BigEndian.uint64(v)!)
                    return true
                }
                #expect(values == [180, 200])
                var all = 0, backwards: [UInt64] = []
                try txn.forEach(db) { _, _ in all += 1; return true }
                try txn.forEach(db, reverse: true) { k, _ in backwards.append(BigEndian.uint64(k)!); return backwards.count < 2 }
                #expect(all == 10)
                #expect(backwards == [100, 90])
            }
        }
    }

    @Test func last() throws {
        try withTempDir { dir in
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.openDatabase("log", create: true)
            #expect(try env.read { try $0.last(db) } == nil)
            try env.write { (txn) throws in
                for n: UInt64 in 1...5 { try txn.put(db, key(n), [UInt8(n)], append: true) }
                #expect(try txn.last(db)?.key == key(5))
            }
            let last = try env.read { try $0.last(db) }
            #expect(last?.key == key(5))
            #expect(last?.value == [5])
        }
    }

    @Test func noOverwriteAndAppendOrder() throws {
        try withTempDir { dir in
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.openDatabase("t", create: true)
            try env.write { try $0.put(db, key(1), [1], noOverwrite: true) }
            let exists = #expect(throws: LMDBError.self) {
                try env.write { try $0.put(db, key(1), [2], noOverwrite: true) }
            }
            #expect(exists?.isKeyExist == true)
            #expect(exists?.description.contains("mdb_put") == true)
            let outOfOrder = #expect(throws: LMDBError.self) {
                try env.write { try $0.put(db, key(0), [0], append: true) }
            }
            #expect(outOfOrder?.isKeyExist == true)
            #expect(try env.read { try $0.get(db, key(1)) } == [1])
        }
    }

    struct Boom: Error {}

    @Test func throwInsideWriteAborts() throws {
        try withTempDir { dir in
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.openDatabase("t", create: true)
            #expect(throws: Boom.self) {
                try env.write { (txn) throws in
                    try txn.put(db, key(1), [1])
                    throw Boom()
                }
            }
            #expect(try env.read { try $0.get(db, key(1)) } == nil)
            // The environment is still usable (writer lock released, NOSYNC not left on).
            try env.write(sync: false) { try $0.put(db, key(2), [2]) }
            #expect(throws: Boom.self) { try env.write(sync: false) { _ in throw Boom() } }
            #expect(try env.read { try $0.count(db) } == 1)
        }
    }

    @Test func escapedAndNestedTransactionsAreRefused() throws {
        try withTempDir { dir in
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.openDatabase("t", create: true)
            let escapedWrite = try env.write { $0 }
            let escapedRead = try env.read { $0 }
            #expect((try? escapedWrite.put(db, key(1), [1])) == nil)
            let e = #expect(throws: LMDBError.self) { try escapedRead.get(db, key(1)) }
            #expect(e?.code == EINVAL)
            let nested = #expect(throws: LMDBError.self) {
                try env.write { _ in try env.write { _ in } }
            }
            #expect(nested?.code == EBUSY)
            // A write inside a read is allowed (MDB_NOTLS), and the read keeps its snapshot.
            try env.read { (outer) throws in
                try env.write { try $0.put(db, key(7), [7]) }
                #expect(try outer.get(db, key(7)) == nil)
            }
            #expect(try env.read { try $0.get(db, key(7)) } == [7])
        }
    }

    @Test func errorMessages() {
        let e = LMDBError(code: -30798, op: "mdb_get")
        #expect(e.isNotFound)
        #expect(e.message.contains("MDB_NOTFOUND"))
        #expect(LMDBError(code: ENOENT, op: "x").message == "No such file or directory")
    }

    @Test func bigEndian() {
        #expect(BigEndian.bytes(0x0102_0304_0506_0708) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(BigEndian.uint64([1, 2, 3, 4, 5, 6, 7, 8]) == 0x0102_0304_0506_0708)
        #expect(BigEndian.uint64([1, 2, 3]) == nil)
        #expect(BigEndian.uint64(BigEndian.bytes(.max)) == .max)
        #expect(BigEndian.bytes(255).lexicographicallyPrecedes(BigEndian.bytes(256)))
    }

    @Test func filePermissions() throws {
        try withTempDir { tmp in
            let old = umask(0o022)
            defer { umask(old) }
            let dir = tmp + "/var/lib/skein"
            let env = try LMDBEnvironment(directory: dir)
            _ = try env.openDatabase("t", create: true)
            #expect(mode(dir) == 0o700)
            #expect(mode(tmp + "/var") == 0o755)
            #expect(mode(tmp + "/var/lib") == 0o755)
            #expect(mode(dir + "/data.mdb") == 0o600)
            #expect(mode(dir + "/lock.mdb") == 0o600)
            #expect(env.path == dir)
            // An existing directory is not ours to tighten; trailing slashes are fine.
            let shared = tmp + "/shared"
            #expect(mkdir(shared, 0o755) == 0)
            _ = try LMDBEnvironment(directory: shared + "/")
            #expect(mode(shared) == 0o755)
            #expect(mode(shared + "/data.mdb") == 0o600)
        }
    }

    @Test func openingAFileFails() throws {
        try withTempDir { tmp in
            _ = FileManager.default.createFile(atPath: tmp + "/file", contents: Data())
            let e = #expect(throws: LMDBError.self) { try LMDBEnvironment(directory: tmp + "/file") }
            #expect(e?.code == ENOTDIR)
        }
    }

    @Test func mapGrowsFrom64KiBTo10MB() throws {
        try withTempDir { dir in
            let env = try LMDBEnvironment(directory: dir, mapSize: 64 << 10)
            let db = try env.openDatabase("big", create: true)
            let value = [UInt8](repeating: 0xab, count: 100_000)
            // 2 MB in one transaction, then 8 MB in 80 small ones; deletes churn the free list so that
            // commits must also allocate.
            try env.write { (txn) throws in
                for n: UInt64 in 0..<20 { try txn.put(db, key(n), value) }
            }
            for n: UInt64 in 20..<100 {
                try env.write(sync: false) { (txn) throws in
                    try txn.put(db, key(n), value)
                    if n % 3 == 0 { try txn.delete(db, key(n - 10)) }
                    if n % 3 == 0 { try txn.put(db, key(n - 10), value) }
                }
            }
            try env.sync()
            #expect(try env.read { try $0.count(db) } == 100)
            #expect(try env.read { try $0.withValue(db, key(42)) { $0.elementsEqual(value) } } == true)
            #expect(env.info().mapSize >= 10_000_000)
            #expect(env.mapGrowths >= 7)
            print("map growth: \(env.mapGrowths) doublings (\(env.commitMapFulls) from commit), map \(env.info().mapSize)")
        }
    }

    @Test func manySmallCommitsNearTheLimit() throws {
        // Tiny transactions on a tiny map: the free list saved at commit is what overflows, so MAP_FULL
        // arrives from mdb_txn_commit, whose transaction is already freed.
        try withTempDir { dir in
            let env = try LMDBEnvironment(directory: dir, mapSize: 32 << 10)
            let db = try env.openDatabase("t", create: true)
            for n: UInt64 in 0..<3000 {
                try env.write(sync: false) { (txn) throws in
                    try txn.put(db, key(n % 700), [UInt8](repeating: UInt8(n % 251), count: Int(n % 300)))
                    if n % 5 == 0 { try txn.delete(db, key((n / 5) % 700)) }
                }
            }
            #expect(try env.read { try $0.get(db, key(2999 % 700)) }?.count == 2999 % 300)
            print("small commits: \(env.mapGrowths) doublings, \(env.commitMapFulls) MAP_FULL from commit")
        }
    }

    @Test func readOnlyOpenOfACopiedDirectory() throws {
        try withTempDir { tmp in
            let dir = tmp + "/state"
            do {
                let env = try LMDBEnvironment(directory: dir)
                let db = try env.openDatabase("t", create: true)
                try env.write { try $0.put(db, key(1), Array("hello".utf8)) }
            }
            let copy = tmp + "/copy"
            let cp = Process()
            cp.executableURL = URL(fileURLWithPath: "/bin/cp")
            cp.arguments = ["-a", dir, copy]
            try cp.run()
            cp.waitUntilExit()
            #expect(cp.terminationStatus == 0)
            let env = try LMDBEnvironment(directory: copy, readOnly: true)
            let db = try env.openDatabase("t", create: true)  // create is ignored read-only
            #expect(try env.read { try $0.get(db, key(1)) } == Array("hello".utf8))
            let e = #expect(throws: LMDBError.self) { try env.write { try $0.put(db, key(2), [2]) } }
            #expect(e?.code == EACCES)
            #expect(throws: LMDBError.self) { try env.openDatabase("missing", create: false) }
        }
    }

    /// Prints the cost of one tiny write transaction, durable and not, averaged over 1000 with
    /// SKEIN_BENCH=1 (50 otherwise, to keep the suite quick on a busy disk).
    @Test func commitCost() throws {
        let n = ProcessInfo.processInfo.environment["SKEIN_BENCH"] == nil ? 50 : 1000
        try withTempDir { dir in
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.openDatabase("t", create: true)
            let clock = ContinuousClock()
            for sync in [true, false] {
                let elapsed = try clock.measure {
                    for i in 0..<n {
                        try env.write(sync: sync) { try $0.put(db, key(UInt64(i % 64)), key(UInt64(i))) }
                    }
                }
                let micros = Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6
                print("LMDB write txn (tiny put, sync: \(sync)): \(micros / Double(n)) µs average over \(n)")
            }
        }
    }
}

// MARK: - Several processes (forked children)

@Suite(.serialized) struct LMDBMultiProcessTests {
    @Test func mapResizedByAnotherProcess() throws {
        try withTempDir { dir in
            let env = try LMDBEnvironment(directory: dir, mapSize: 64 << 10)
            let db = try env.openDatabase("t", create: true)
            let value = [UInt8](repeating: 7, count: 50_000)
            try env.write { try $0.put(db, key(0), value) }  // also warms the code the child runs
            let before = env.info().mapSize

            // The child grows the map to >= 2 MB; our mapping is now too small.
            let child = forkChild {
                do {
                    let other = try LMDBEnvironment(directory: dir, mapSize: 64 << 10)
                    let db = try other.openDatabase("t", create: true)
                    try other.write { (txn) throws in
                        for n: UInt64 in 1...40 { try txn.put(db, key(n), value) }
                    }
                    return 0
                } catch { return 1 }
            }
            #expect(waitChild(child) == 0)
            // Read path: begin sees MDB_MAP_RESIZED, adopts the new size, retries.
            #expect(try env.read { try $0.count(db) } == 41)
            #expect(env.mapAdoptions >= 1)
            #expect(env.info().mapSize > before)

            let child2 = forkChild {
                do {
                    let other = try LMDBEnvironment(directory: dir, mapSize: 64 << 10)
                    let db = try other.openDatabase("t", create: true)
                    try other.write { (txn) throws in
                        for n: UInt64 in 100...200 { try txn.put(db, key(n), value) }
                    }
                    return 0
                } catch { return 1 }
            }
            #expect(waitChild(child2) == 0)
            // Write path.
            let adoptions = env.mapAdoptions
            try env.write { try $0.put(db, key(999), [9]) }
            #expect(env.mapAdoptions == adoptions + 1)
            #expect(try env.read { try $0.count(db) } == 41 + 101 + 1)
        }
    }

    @Test func fourProcessesIncrementACounter() throws {
        try withTempDir { dir in
            let counterKey = Array("counter".utf8)
            func increment(_ env: LMDBEnvironment, _ db: LMDBDatabase, sync: Bool) throws {
                try env.write(sync: sync) { (txn) throws in
                    let current = try txn.withValue(db, counterKey) { BigEndian.uint64($0) ?? 0 } ?? 0
                    try txn.put(db, counterKey, BigEndian.bytes(current + 1))
                }
            }
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.openDatabase("c", create: true)
            try increment(env, db, sync: true)
            try env.write { try $0.delete(db, counterKey) }

            let children = (0..<4).map { i in
                forkChild {
                    do {
                        let env = try LMDBEnvironment(directory: dir)
                        let db = try env.openDatabase("c", create: true)
                        for _ in 0..<200 { try increment(env, db, sync: i % 2 == 0) }
                        return 0
                    } catch { return 1 }
                }
            }
            for child in children { #expect(waitChild(child) == 0) }
            let final = try env.read { try $0.withValue(db, counterKey) { BigEndian.uint64($0) } }
            #expect(final == 800)
        }
    }
}
