import SkeinExecutor
import SkeinJournal
import SkeinModel
import SkeinReducer

// DEL: idempotent by contract. Unknown attachment, DEL twice, netns gone, link gone → release
// what the journal says is held and exit 0. It reaches every attachment the ADD under
// (CNI_CONTAINERID, CNI_IFNAME) made — the meta-plugin's net1…N too — from the journal alone. The request is journaled (durable) before the kernel is
// touched; a teardown failure is journaled as delFailed and the addresses stay held until a DEL
// succeeds, so a retried DEL (the runtime retries) finishes the job.
struct DelOperation {
    let ctx: Context

    init(_ ctx: Context) { self.ctx = ctx }

    /// The runtime's DEL: every attachment the ADD under (CNI_CONTAINERID, CNI_IFNAME) made (the
    /// meta-plugin's whole plan), each journaled and torn down from the journal alone — no API
    /// server, NAD or confDir. One that fails does not stop the others; the error names each
    /// failure, and what failed stays held for the runtime's retry.
    func run() throws(CNIError) {
        if let file = ctx.config.readinessIndicatorFile { Readiness.checkOnce(file) }
        let journal = try ctx.openJournal()
        let held = try ctx.containerAttachments(journal)
        guard !held.isEmpty else {
            // Nothing held: still journaled, as "DEL of something we never held".
            try delete(ctx.key, cause: .request, journal: journal)
            return
        }
        if held.count == 1 {
            try delete(held[0].record.key, cause: .request, journal: journal)
            return
        }
        let failures = deleteAll(held.reversed().map(\.record.key), journal: journal)
        guard let first = failures.first else { return }
        throw CNIError(code: first.error.code,
                       msg: "DEL of \(failures.count) of the \(held.count) attachments of container \(ctx.key.containerID) failed",
                       details: failures.map { "\($0.key.ifname): \($0.error.msg)" }.joined(separator: "; "))
    }

    /// Several attachments (a meta-plugin pod), newest first: every request is journaled, then the
    /// kernel teardowns run at once — most of a link deletion is the kernel waiting for an RCU
    /// grace period, and concurrent deletions share it (three networks: ~1 wait instead of 3) —
    /// then every outcome is journaled. Each attachment keeps its own request → outcome events;
    /// a crash in between leaves requests without outcomes, which the next DEL completes.
    func deleteAll(_ keys: [AttachmentKey], journal: Journal) -> [(key: AttachmentKey, error: CNIError)] {
        var failures: [(key: AttachmentKey, error: CNIError)] = []
        var pending: [(record: AttachmentRecord, start: Int64)] = []
        for key in keys {
            let start = Clock.monotonicNs()
            do throws(CNIError) {
                if let record = try request(key, cause: .request, journal: journal) { pending.append((record, start)) }
            } catch {
                Log.error("DEL \(key) failed: \(error.msg) \(error.details)")
                failures.append((key, error))
            }
        }
        let teardown = Teardown(ctx: ctx, journal: journal, cause: .request, failpointPrefix: "del")
        let removed = Parallel.map(pending) { p -> CNIError? in
            do throws(CNIError) { try teardown.removeKernelObjects(p.record) } catch { return error }
            return nil
        }
        for (p, kernelError) in zip(pending, removed) {
            do throws(CNIError) {
                try teardown.finish(p.record, start: p.start, kernelError: kernelError)
                Log.verbose("DEL \(p.record.key) network \(p.record.network): done in \(elapsedMs(p.start)) ms")
            } catch {
                Log.error("DEL \(p.record.key) failed: \(error.msg) \(error.details)")
                failures.append((p.record.key, error))
            }
        }
        return failures
    }

    /// DEL of one attachment: `cause` is request (the runtime asked) or rollback (a meta ADD
    /// undoing an attachment it had added before a later one failed).
    func delete(_ key: AttachmentKey, cause: EventCause, journal: Journal) throws(CNIError) {
        let start = Clock.monotonicNs()
        guard let record = try request(key, cause: cause, journal: journal) else { return }
        try Teardown(ctx: ctx, journal: journal, cause: cause, failpointPrefix: "del").run(record, start: start)
    }

    /// Journals the DEL request (durable before the kernel is touched) and returns what is held
    /// under `key`, or nil when nothing is (the request is journaled all the same).
    func request(_ key: AttachmentKey, cause: EventCause, journal: Journal) throws(CNIError) -> AttachmentRecord? {
        let held: AttachmentRecord?
        do { held = try journal.read { try $0.attachment(key) } } catch { throw journalError(error) }
        if held == nil {
            // Runtimes repeat DEL. Nothing is held and no kernel work follows, so this history entry
            // need not cost a full flush: MDB_NOMETASYNC (a power cut may lose it, never corrupt).
            // Checked again under the writer lock: a row that appeared meanwhile takes the full path.
            let appeared: Bool
            do {
                appeared = try journal.transact(durability: .metaDeferred) { w -> Bool in
                    if try w.attachment(key) != nil { return true }
                    _ = try w.append(.delRequested(DelRequested(key: key, cause: cause, process: ctx.process)))
                    return false
                }
            } catch {
                throw journalError(error)
            }
            Trace.mark("request-commit")
            if !appeared { return nil }
        }
        let record: AttachmentRecord?
        do {
            record = try journal.transact { w -> AttachmentRecord? in
                guard let rec = try w.attachment(key) else {
                    // Still journaled: "DEL of something we never held" is part of the history.
                    _ = try w.append(.delRequested(DelRequested(key: key, cause: cause, process: ctx.process)))
                    return nil
                }
                try Recovery.markInterrupted(rec, by: ctx.process, in: w)
                _ = try w.append(.delRequested(DelRequested(key: key, cause: cause, process: ctx.process)))
                return try w.attachment(key)
            }
        } catch {
            throw journalError(error)
        }
        Trace.mark("request-commit")
        guard let record else { return nil }
        ctx.failpoints.hit("del-after-request")
        return record
    }
}

/// Tear an attachment down and journal the outcome (delApplied / delFailed): the exec'ed plugins
/// of its chain first, DEL in reverse, then the built-in part.
struct Teardown {
    let ctx: Context
    let journal: Journal
    let cause: EventCause
    let failpointPrefix: String

    func run(_ record: AttachmentRecord, start: Int64) throws(CNIError) {
        var kernelError: CNIError?
        do throws(CNIError) { try removeKernelObjects(record) } catch { kernelError = error }
        try finish(record, start: start, kernelError: kernelError)
    }

    /// Journals the outcome of `removeKernelObjects`: delFailed (the addresses stay held for the
    /// retry) and the error, or delApplied.
    func finish(_ record: AttachmentRecord, start: Int64, kernelError: CNIError?) throws(CNIError) {
        if let error = kernelError {
            _ = try? journal.append([.delFailed(Outcome(key: record.key, cause: cause, code: error.code,
                                                        message: error.details.isEmpty ? error.msg : "\(error.msg) (\(error.details))",
                                                        durationMs: elapsedMs(start)))], durability: .metaDeferred)
            throw error
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

    /// A bridge attachment needs only its host end (its name is derived, and deleting it removes
    /// the pair), so its teardown never opens the container netns: the same path serves a live
    /// sandbox, a deleted one, and a path that is not a netns at all. Links that live in the
    /// container on their own (macvlan, host-device, …) and exec'ed plugins need the netns when it
    /// still exists.
    func removeKernelObjects(_ record: AttachmentRecord) throws(CNIError) {
        let containerSide = !record.exec.isEmpty || Teardown.needsContainer(record.spec)
        let executor: Executor
        do {
            executor = try Executor(containerNetNS: containerSide ? record.netns : nil, tolerateNonNetNS: true)
        } catch {
            throw kernelError(error, "DEL \(record.key): cannot open netlink")
        }
        if !record.exec.isEmpty {
            try removeExec(record, netns: executor.containerNamespaceExists ? record.netns : "")
        }
        guard !record.spec.links.isEmpty else { return }
        do {
            let ops = Planner.planTeardown(desired: record.spec, observed: try executor.observeForTeardown(record.spec))
            try executor.apply(ops, failpoint: ctx.failpoints.ops(failpointPrefix))
        } catch {
            throw kernelError(error, "DEL \(record.key) on network \"\(record.network)\" failed")
        }
    }

    /// DEL of the exec'ed plugins, in reverse, with the journaled result as prevResult and the
    /// ADD's CNI_ARGS: the journal is all they need. CNI_NETNS is empty once the namespace is
    /// gone (the spec makes it optional for DEL; a stale path would make plugins fail). A plugin's
    /// DEL error fails ours, so the runtime retries and nothing it holds leaks.
    func removeExec(_ record: AttachmentRecord, netns: String) throws(CNIError) {
        let prev = try record.result.map { (r) throws(CNIError) -> CNIResult in try CNIResult.parse(r) }
        let target = PluginTarget(containerID: record.key.containerID, netns: netns, ifname: record.key.ifname,
                                  cniArgs: record.cniArgs ?? "")
        let suffix = try ExecSuffix(runner: ctx.delegateRunner, configs: record.exec, target: target)
        try suffix.del(count: suffix.plugins.count, prevResult: prev, applied: record.result != nil) { ctx.failpoints.hit("\(failpointPrefix)-exec-\($0)") }
        Trace.mark("exec")
    }

    /// Links in the container that are not the peer of a host veth (deleting the host end takes
    /// the peer along): they are reached, or moved home, from inside the netns.
    static func needsContainer(_ spec: AttachmentSpec) -> Bool {
        spec.links.contains { $0.namespace == .container && $0.kind != .vethPeer }
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
