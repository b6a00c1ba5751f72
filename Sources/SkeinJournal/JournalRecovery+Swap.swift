import Glibc
import SkeinModel

// The whole recovery, and the only part that changes the state directory. The damaged files are
// never modified or deleted: data.mdb is hard-linked (copied where links are refused) and lock.mdb
// copied into <state dir>/damaged-<UTC time>/ with the report, before the new data.mdb is renamed
// over the old name (one atomic step: a reader sees the old file or the new one, never none).
//
// liblmdb's lock file decides who may open the environment: every process that has it open
// holds a shared fcntl lock on its first byte. recover takes that byte exclusively for the whole
// rebuild: it refuses when any process has the journal open (skein mid-call, a skein-journal
// reader), and a skein that starts meanwhile waits in liblmdb's open. When recover lets go, such
// a waiter is still on the old lock file, whose magic recover has cleared: liblmdb refuses it
// (MDB_INVALID, a CNI error the runtime retries) instead of pairing the old lock state with the
// new data file. The next call opens the new files.

struct EnvironmentLock {
    let fd: Int32

    /// nil when there is no lock.mdb (then no process has the environment open).
    static func acquire(_ stateDir: String) throws -> EnvironmentLock? {
        let path = stateDir + "/lock.mdb"
        let fd = open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 && errno == ENOENT { return nil }
        guard fd >= 0 else { throw JournalError(.storage, "cannot open \(path): \(String(cString: strerror(errno)))") }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 1
        if fcntl(fd, F_SETLK, &lock) == 0 { return EnvironmentLock(fd: fd) }
        var probe = flock()
        probe.l_type = Int16(F_WRLCK)
        probe.l_whence = Int16(SEEK_SET)
        probe.l_len = 1
        let holder = fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != Int16(F_UNLCK) ? " by process \(probe.l_pid)" : ""
        close(fd)
        throw JournalError(.busy, "the journal in \(stateDir) is open\(holder): stop what uses it (the container runtime, which runs skein; a skein-journal reader) and run recover again")
    }

    /// Clears the magic of the old lock file so that a process waiting on it fails cleanly.
    func invalidate() {
        var zero: UInt32 = 0
        _ = pwrite(fd, &zero, 4, 0)
    }

    func release() { close(fd) }
}

extension JournalRecovery {
    /// Recovers `stateDir`; `dryRun` reads and reports only. Refuses to build an empty journal
    /// when nothing verifies unless `toSeq` is 0 (the operator asks for an empty journal).
    public static func run(_ stateDir: String, toSeq: UInt64? = nil, dryRun: Bool = false,
                           nowNs: Int64 = Clock.realtimeNs()) throws -> RecoveryReport {
        let lock = dryRun ? nil : try EnvironmentLock.acquire(stateDir)
        defer { lock?.release() }
        let plan: RecoveryPlan
        do { plan = try self.plan(stateDir, toSeq: toSeq) } catch let e as JournalError where e.kind == .corrupt && toSeq == 0 {
            plan = .empty(stateDir, damage: [e.message])
        }
        if plan.segment == nil && toSeq != 0 && (plan.analysis.readable > 0 || (plan.head?.seq ?? 0) > 0) {
            var report = try rebuild(plan, into: nil).0
            report.refused = true
            return report
        }
        if dryRun { return try rebuild(plan, into: nil).0 }
        let building = stateDir + "/.recovering"
        try removeOwnTemp(building)
        var report: RecoveryReport
        do {
            let target = try Journal(stateDir: building)
            report = try rebuild(plan, into: target).0
        } catch {
            try? removeOwnTemp(building)
            throw error
        }
        if report.healthy && toSeq == nil {
            try removeOwnTemp(building)
            return report
        }
        let evidence = stateDir + "/damaged-" + compactTime(nowNs)
        try keepEvidence(stateDir, evidence)
        report.evidence = evidence
        try write(report.text().utf8, to: evidence + "/recovery-report.txt")
        try swap(building, into: stateDir)
        lock?.invalidate()
        return report
    }

    /// The new data.mdb over the old name, then the new lock.mdb; the build directory goes.
    static func swap(_ building: String, into stateDir: String) throws {
        for name in ["data.mdb", "lock.mdb"] {
            guard rename(building + "/" + name, stateDir + "/" + name) == 0 else {
                throw JournalError(.storage, "cannot move the rebuilt \(name) into \(stateDir): \(String(cString: strerror(errno)))")
            }
        }
        rmdir(building)
        syncDirectory(stateDir)
    }

    static func keepEvidence(_ stateDir: String, _ evidence: String) throws {
        guard mkdir(evidence, 0o700) == 0 else {
            throw JournalError(.storage, "cannot create \(evidence): \(String(cString: strerror(errno)))")
        }
        if link(stateDir + "/data.mdb", evidence + "/data.mdb") != 0 {
            try copy(stateDir + "/data.mdb", evidence + "/data.mdb")
        }
        if access(stateDir + "/lock.mdb", F_OK) == 0 { try copy(stateDir + "/lock.mdb", evidence + "/lock.mdb") }
        syncDirectory(evidence)
    }

    /// `.recovering` only ever holds a half-built new journal of an earlier run: never evidence.
    static func removeOwnTemp(_ building: String) throws {
        for name in ["data.mdb", "lock.mdb"] { unlink(building + "/" + name) }
        if rmdir(building) != 0 && errno != ENOENT {
            throw JournalError(.storage, "cannot remove \(building) (left by an earlier recover): \(String(cString: strerror(errno)))")
        }
    }
}

extension JournalRecovery {
    /// "20261129T140300Z": the evidence directory's name sorts by time.
    static func compactTime(_ ns: Int64) -> String {
        let t = Timestamp.rfc3339(ns)
        let seconds = t.split(separator: ".").first.map(String.init) ?? t
        return seconds.filter { $0 != "-" && $0 != ":" }.replacingZ()
    }

    static func write(_ bytes: String.UTF8View, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw JournalError(.storage, "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let data = Array(bytes)
        try writeAll(fd, data, path)
        _ = fsync(fd)
    }

    /// A byte copy (evidence on a file system that refuses hard links), synced.
    static func copy(_ from: String, _ to: String) throws {
        let src = open(from, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { throw JournalError(.storage, "cannot read \(from): \(String(cString: strerror(errno)))") }
        defer { close(src) }
        let dst = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard dst >= 0 else { throw JournalError(.storage, "cannot create \(to): \(String(cString: strerror(errno)))") }
        defer { close(dst) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(src, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw JournalError(.storage, "cannot read \(from): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            try writeAll(dst, Array(buffer[0..<n]), to)
        }
        guard fsync(dst) == 0 else { throw JournalError(.storage, "cannot sync \(to): \(String(cString: strerror(errno)))") }
    }

    static func writeAll(_ fd: Int32, _ data: [UInt8], _ path: String) throws {
        var done = 0
        while done < data.count {
            let n = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, data.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw JournalError(.storage, "cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}

private extension String {
    func replacingZ() -> String { hasSuffix("Z") ? self : self + "Z" }
}
