import SkeinExecutor
import SkeinJournal
import SkeinModel
import SkeinReducer

// DEL: idempotent by contract. Unknown attachment, DEL twice, netns gone, link gone → release
// what the journal says is held and exit 0. The request is journaled (durable) before the kernel is
// touched; a teardown failure is journaled as delFailed and the addresses stay held until a DEL
// succeeds, so a retried DEL (the runtime retries) finishes the job.
struct DelOperation {
    let ctx: Context

    init(_ ctx: Context) { self.ctx = ctx }

    func run() throws(CNIError) {
        let journal = try ctx.openJournal()
        let start = Clock.monotonicNs()
        let held: AttachmentRecord?
        do { held = try journal.read { try $0.attachment(ctx.key) } } catch { throw journalError(error) }
        if held == nil {
            // Runtimes repeat DEL. Nothing is held and no kernel work follows, so this history entry
            // need not cost a full flush: MDB_NOMETASYNC (a power cut may lose it, never corrupt).
            // Checked again under the writer lock: a row that appeared meanwhile takes the full path.
            let appeared: Bool
            do {
                appeared = try journal.transact(durability: .metaDeferred) { w -> Bool in
                    if try w.attachment(ctx.key) != nil { return true }
                    _ = try w.append(.delRequested(DelRequested(key: ctx.key, cause: .request, process: ctx.process)))
                    return false
                }
            } catch {
                throw journalError(error)
            }
            Trace.mark("request-commit")
            if !appeared { return }
        }
        let record: AttachmentRecord?
        do {
            record = try journal.transact { w -> AttachmentRecord? in
                guard let rec = try w.attachment(ctx.key) else {
                    // Still journaled: "DEL of something we never held" is part of the history.
                    _ = try w.append(.delRequested(DelRequested(key: ctx.key, cause: .request, process: ctx.process)))
                    return nil
                }
                try Recovery.markInterrupted(rec, by: ctx.process, in: w)
                _ = try w.append(.delRequested(DelRequested(key: ctx.key, cause: .request, process: ctx.process)))
                return try w.attachment(ctx.key)
            }
        } catch {
            throw journalError(error)
        }
        Trace.mark("request-commit")
        guard let record else { return }
        ctx.failpoints.hit("del-after-request")
        try Teardown(ctx: ctx, journal: journal, cause: .request, failpointPrefix: "del").run(record, start: start)
    }
}

/// Tear an attachment's kernel objects down and journal the outcome (delApplied / delFailed).
struct Teardown {
    let ctx: Context
    let journal: Journal
    let cause: EventCause
    let failpointPrefix: String

    func run(_ record: AttachmentRecord, start: Int64) throws(CNIError) {
        do {
            try removeKernelObjects(record)
        } catch {
            let e = kernelError(error, "DEL \(record.key) on network \"\(record.network)\" failed")
            _ = try? journal.append([.delFailed(Outcome(key: record.key, cause: cause, code: e.code, message: e.msg,
                                                        durationMs: elapsedMs(start)))], durability: .metaDeferred)
            throw e
        }
        Trace.mark("teardown")
        ctx.failpoints.hit("\(failpointPrefix)-before-outcome")
        do {
            try journal.append([.delApplied(Outcome(key: record.key, cause: cause, durationMs: elapsedMs(start)))], durability: .metaDeferred)
        } catch {
            throw journalError(error)
        }
        Trace.mark("outcome-commit")
    }

    /// Only the host end is needed (its name is derived, and deleting it removes the pair), so
    /// teardown never opens the container netns: the same path serves a live sandbox, a deleted
    /// one, and a path that is not a netns at all.
    func removeKernelObjects(_ record: AttachmentRecord) throws {
        let executor = try Executor(containerNetNS: nil)
        let ops = Planner.planTeardown(desired: record.spec, observed: try executor.observeHostEnds(record.spec))
        try executor.apply(ops, failpoint: ctx.failpoints.ops(failpointPrefix))
    }
}

/// Completing or compensating operations that a crash interrupted (a request with no outcome).
struct Recovery {
    let ctx: Context
    let journal: Journal

    /// Before an ADD: anything still held under this key from an interrupted or failed operation is
    /// torn down and released, and the journal says it was recovered.
    func settle(_ key: AttachmentKey) throws(CNIError) {
        // Nearly every ADD finds nothing under its key: look without taking the writer lock.
        let existing: AttachmentRecord?
        do { existing = try journal.read { try $0.attachment(key) } } catch { throw journalError(error) }
        guard let existing, existing.status != .active else { return }
        let record: AttachmentRecord?
        do {
            record = try journal.transact { w -> AttachmentRecord? in
                guard let rec = try w.attachment(key), rec.status != .active else { return nil }
                try Recovery.markInterrupted(rec, by: ctx.process, in: w)
                _ = try w.append(.delRequested(DelRequested(key: key, cause: .recovery, process: ctx.process)))
                return try w.attachment(key)
            }
        } catch {
            throw journalError(error)
        }
        guard let record else { return }
        try Teardown(ctx: ctx, journal: journal, cause: .recovery, failpointPrefix: "recovery").run(record, start: Clock.monotonicNs())
    }

    /// An ADD or DEL whose process died without an outcome gets one now (inside the caller's
    /// transaction). One whose process is still running belongs to it: try again later.
    static func markInterrupted(_ rec: AttachmentRecord, by me: ProcessRef, in w: JournalWriter) throws {
        guard rec.status == .adding || rec.status == .deleting else { return }
        if rec.process != me && ProcessIdentity.isAlive(rec.process) {
            throw CNIError.tryAgainLater("\(rec.key) is being \(rec.status == .adding ? "added" : "deleted") by process \(rec.process.pid)")
        }
        guard rec.status == .adding else { return }
        let msg = "interrupted: process \(rec.process.pid) died before recording the outcome of its ADD"
        _ = try w.append(.addFailed(Outcome(key: rec.key, requestSeq: rec.requestSeq, cause: .recovery,
                                            code: SkeinCode.kernel, message: msg, released: false)))
    }
}
