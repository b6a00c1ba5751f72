import SkeinExecutor
import SkeinJournal
import SkeinModel
import SkeinReducer

// CHECK: compare the kernel with the journaled result; fail with every difference named.
struct CheckOperation {
    let ctx: Context

    init(_ ctx: Context) { self.ctx = ctx }

    func run() throws(CNIError) {
        if let v = CNIVersion(ctx.request.cniVersion), !v.allowsCheck {
            throw CNIError.incompatibleVersion("CHECK needs cniVersion 0.4.0 or later, the config says \(ctx.request.cniVersion)")
        }
        let journal = try ctx.openJournal()
        let record: AttachmentRecord?
        do { record = try journal.read { try $0.attachment(ctx.key) } } catch { throw journalError(error) }
        guard let record else {
            throw CNIError.unknownContainer("skein holds no attachment \(ctx.key)")
        }
        guard record.status == .active else {
            throw CNIError(code: SkeinCode.kernel, msg: "attachment \(ctx.key) is \(record.status.rawValue), not active",
                           details: record.lastError ?? "")
        }
        try checkPrevResult(record)
        let problems: [String]
        do {
            let executor = try Executor(containerNetNS: ctx.request.netns ?? record.netns)
            guard executor.containerNamespaceExists else {
                throw CNIError(code: SkeinCode.kernel, msg: "network namespace \(record.netns) is gone")
            }
            problems = Planner.drift(desired: record.spec, observed: try executor.observe(record.spec))
        } catch {
            throw kernelError(error, "CHECK \(ctx.key)")
        }
        if !problems.isEmpty {
            throw CNIError(code: SkeinCode.kernel, msg: "CHECK \(ctx.key): " + problems.joined(separator: "; "))
        }
    }

    /// The runtime's prevResult must name the addresses we handed out.
    func checkPrevResult(_ record: AttachmentRecord) throws(CNIError) {
        guard let prev = ctx.request.config["prevResult"], !prev.isNull else { return }
        let parsed = try CNIResult.parse(prev)
        let want = Set(record.addresses.map(\.address))
        let got = Set(parsed.ips.map(\.address))
        if want != got {
            throw CNIError(code: SkeinCode.kernel, msg: "prevResult addresses \(got.map(\.description).sorted()) differ from the journal's \(want.map(\.description).sorted())")
        }
    }
}

// GC: release every attachment of this config's networks that is not in the valid set.
struct GCOperation {
    let ctx: Context

    init(_ ctx: Context) { self.ctx = ctx }

    func run() throws(CNIError) {
        let gc = try GCRequest.parse(ctx.request.config)
        guard let valid = gc.validAttachments else { return }
        let validKeys = Set(valid.map { AttachmentKey(containerID: $0.containerID.value, ifname: $0.ifname.value) })
        let journal = try ctx.openJournal()
        // The scan (every row decoded, /proc read for liveness) runs in a read transaction, so the
        // ADDs of other pods are not kept waiting for the writer lock meanwhile; the write
        // transaction then re-reads only the candidates.
        let candidates: [AttachmentKey]
        do {
            candidates = try journal.read { r in
                try r.attachments().filter { isStale($0, validKeys) }.map(\.key)
            }
        } catch {
            throw journalError(error)
        }
        let stale: [AttachmentRecord]
        do {
            stale = try journal.transact { w -> [AttachmentRecord] in
                let out = try candidates.compactMap { try w.attachment($0) }.filter { isStale($0, validKeys) }
                _ = try w.append(.gcRequested(GCRequested(valid: validKeys.sorted(), stale: out.map(\.key))))
                for rec in out {
                    try Recovery.markInterrupted(rec, by: ctx.process, in: w)
                    _ = try w.append(.delRequested(DelRequested(key: rec.key, cause: .gc, process: ctx.process)))
                }
                return try out.compactMap { try w.attachment($0.key) }
            }
        } catch {
            throw journalError(error)
        }
        ctx.failpoints.hit("gc-after-request")
        var failures: [String] = []
        for rec in stale {
            do throws(CNIError) {
                try Teardown(ctx: ctx, journal: journal, cause: .gc, failpointPrefix: "gc").run(rec, start: Clock.monotonicNs())
            } catch {
                failures.append("\(rec.key): \(error.msg)")
            }
        }
        if !failures.isEmpty {
            throw CNIError(code: SkeinCode.kernel, msg: "GC could not release \(failures.count) attachment(s)", details: failures.joined(separator: "; "))
        }
    }

    /// One of this config's networks, outside the valid set, and not an operation that is still
    /// running in another process.
    func isStale(_ rec: AttachmentRecord, _ valid: Set<AttachmentKey>) -> Bool {
        guard ctx.networks.contains(rec.network), !valid.contains(rec.key) else { return false }
        let inFlight = rec.status == .adding || rec.status == .deleting
        return !(inFlight && ProcessIdentity.isAlive(rec.process))
    }
}
