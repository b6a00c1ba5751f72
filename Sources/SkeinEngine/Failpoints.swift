import Glibc
import SkeinModel

// Named points in ADD and DEL where the process kills itself, so that tests can crash the real
// binary at every step. Enabled only by SKEIN_FAILPOINT=<name>[,<name>…]; unset, a check is one
// comparison against an empty list.
//
// Names: add-after-request, add-op-<i> (after kernel operation i of the ADD plan, from 0),
// add-exec-<i> (after exec'ed plugin i of the chain's exec'ed part answered ADD, from 0),
// add-before-outcome, add-after-outcome, add-rollback-op-<i>, add-rollback-exec-<i>,
// del-after-request, del-exec-<i> (after exec'ed plugin i answered DEL; they run in reverse),
// del-op-<i>, del-before-outcome, gc-after-request, gc-exec-<i>, gc-op-<i>, gc-before-outcome,
// recovery-exec-<i>, recovery-op-<i>, recovery-before-outcome.
//
// One more name is read by the journal itself, not here (JournalFailpoint in
// Sources/SkeinJournal/Journal+Integrity.swift): journal-in-write SIGKILLs the process inside its
// first journal write transaction (Journal.transact: after its last put — events, state rows,
// checksums, head — and before the commit), so it dies holding liblmdb's writer lock with nothing
// committed. The next writer must proceed without any recovery (liblmdb's robust mutex, or a
// fresh lock table when no other process has the journal open).
struct Failpoints {
    let names: [String]

    init(_ spec: String?) {
        names = (spec ?? "").split(separator: ",").map(String.init)
    }

    /// The executor's per-op hook ("after-op-<i>") as "<prefix>-op-<i>".
    func ops(_ prefix: String) -> (String) -> Void {
        guard !names.isEmpty else { return { _ in } }
        return { step in hit(prefix + "-op-" + (step.split(separator: "-").last.map(String.init) ?? step)) }
    }

    func hit(_ name: String) {
        guard !names.isEmpty, names.contains(name) else { return }
        // SIGKILL, not exit: no atexit handlers, no flushing, exactly like the OOM killer or a power cut
        // as far as the journal is concerned.
        kill(getpid(), SIGKILL)
    }
}

/// Who we are, in a form that survives pid reuse: pid plus the process start time from /proc.
enum ProcessIdentity {
    static func current() -> ProcessRef {
        let pid = getpid()
        return ProcessRef(pid: pid, startTime: startTime(of: pid) ?? 0)
    }

    static func isAlive(_ p: ProcessRef) -> Bool {
        if p.pid <= 0 { return false }
        if kill(p.pid, 0) != 0 && errno == ESRCH { return false }
        guard let start = startTime(of: p.pid) else { return false }
        return start == p.startTime
    }

    /// Field 22 of /proc/<pid>/stat (clock ticks since boot). The command name (field 2) may contain
    /// spaces and parentheses, so fields are counted after the last ')'.
    static func startTime(of pid: Int32) -> UInt64? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = read(fd, &buf, buf.count)
        guard n > 0, let close = buf[0..<n].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = buf[(close + 1)..<n].split(separator: UInt8(ascii: " "))
        // After ')': field 3 (state) is index 0, so field 22 is index 19. A zombie (killed, not yet
        // reaped) will never record its outcome: it counts as dead.
        guard fields.count > 19, fields[0].first != UInt8(ascii: "Z") else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }
}
