import SkeinExecutor
import SkeinJournal
import SkeinModel
import SkeinReducer

// CHECK: compare the kernel with the journaled result, for every attachment the ADD under
// (CNI_CONTAINERID, CNI_IFNAME) made; fail with every difference named.
struct CheckOperation {
    let ctx: Context

    init(_ ctx: Context) { self.ctx = ctx }

    func run() throws(CNIError) {
        if let v = CNIVersion(ctx.request.cniVersion), !v.allowsCheck {
            throw CNIError.incompatibleVersion("CHECK needs cniVersion 0.4.0 or later, the config says \(ctx.request.cniVersion)")
        }
        let journal = try ctx.openJournal()
        let held = try ctx.containerAttachments(journal, facts: true)
        guard !held.isEmpty else {
            throw CNIError.unknownContainer("skein holds no attachment \(ctx.key)")
        }
        // Every attachment the ADD made, in ADD order; the runtime's prevResult is CNI_IFNAME's.
        for (record, origin) in held {
            guard record.status == .active else {
                throw CNIError(code: SkeinCode.kernel, msg: "attachment \(record.key) is \(record.status.rawValue), not active",
                               details: record.lastError ?? "")
            }
            if record.key == ctx.key { try checkPrevResult(record) }
            try checkBuiltIn(record, facts: origin.facts)
            try checkExec(record)
        }
    }

    /// The kernel against the built-in part's spec (with the meta-plugin's default-route change).
    func checkBuiltIn(_ record: AttachmentRecord, facts: MetaFacts? = nil) throws(CNIError) {
        guard !record.spec.links.isEmpty || !record.spec.sysctls.isEmpty else { return }
        var spec = CheckOperation.withDefaultRoute(record, facts)
        if !record.exec.isEmpty {
            let result = try record.result.map { (r) throws(CNIError) -> CNIResult in try CNIResult.parse(r) }
            spec = CheckOperation.leftByExec(spec, result: result)
        }
        let problems: [String]
        do {
            let executor = try Executor(containerNetNS: ctx.request.netns ?? record.netns)
            guard executor.containerNamespaceExists else {
                throw CNIError(code: SkeinCode.kernel, msg: "network namespace \(record.netns) is gone")
            }
            problems = Planner.drift(desired: spec, observed: try executor.observe(spec))
        } catch {
            throw kernelError(error, "CHECK \(record.key)")
        }
        if !problems.isEmpty {
            throw CNIError(code: SkeinCode.kernel, msg: "CHECK \(record.key): " + problems.joined(separator: "; "))
        }
    }

    /// The routes the pod must have on this interface once the meta-plugin moved the default route:
    /// the spec's default routes gone where it dropped them, one via each requested gateway.
    static func withDefaultRoute(_ record: AttachmentRecord, _ facts: MetaFacts?) -> AttachmentSpec {
        guard let f = facts, f.dropDefaultRoute || !f.defaultGateways.isEmpty else { return record.spec }
        var spec = record.spec
        for i in spec.links.indices where spec.links[i].namespace == .container && spec.links[i].name == record.key.ifname {
            if f.dropDefaultRoute { spec.links[i].routes.removeAll { $0.dst.prefixLength == 0 } }
            spec.links[i].routes += f.defaultGateways.map { RouteSpec(dst: IPNetwork($0.isV4 ? "0.0.0.0/0" : "::/0")!, gateway: $0) }
        }
        return spec
    }

    /// What the built-in part must still look like after exec'ed plugins ran on top of it: "a later
    /// chained plugin may have modified networking resources" (the spec), and tuning changes the
    /// container interface's MAC and MTU. So a container link is held to the MAC the final result
    /// reports for it, and to an MTU only where the result states one.
    static func leftByExec(_ spec: AttachmentSpec, result: CNIResult?) -> AttachmentSpec {
        var out = spec
        for i in out.links.indices where out.links[i].namespace == .container {
            let reported = result?.interfaces.first { $0.name == out.links[i].name && $0.sandbox != nil }
            out.links[i].mac = reported?.mac.flatMap(MACAddress.init)
            out.links[i].mtu = reported?.mtu.flatMap { UInt32(exactly: $0) }
        }
        return out
    }

    /// CHECK of every exec'ed plugin in chain order, with the journaled result as prevResult.
    func checkExec(_ record: AttachmentRecord) throws(CNIError) {
        guard !record.exec.isEmpty else { return }
        guard let journaled = record.result else {
            throw CNIError(code: SkeinCode.kernel, msg: "attachment \(record.key) has no journaled result to check against")
        }
        // The runtime's CNI_ARGS are CNI_IFNAME's; another attachment's carry its own MAC=/IP=.
        let args = record.key == ctx.key ? ctx.cniArgs ?? record.cniArgs : record.cniArgs
        let target = PluginTarget(containerID: record.key.containerID, netns: ctx.request.netns ?? record.netns,
                                  ifname: record.key.ifname, cniArgs: args ?? "")
        let suffix = try ExecSuffix(runner: ctx.delegateRunner, configs: record.exec, target: target)
        try suffix.check(prevResult: try CNIResult.parse(journaled))
    }

    /// The runtime's prevResult must name the addresses we handed out.
    func checkPrevResult(_ record: AttachmentRecord) throws(CNIError) {
        guard let prev = ctx.request.config["prevResult"], !prev.isNull else { return }
        let parsed = try CNIResult.parse(prev)
        // The chain's final result when there is one: exec'ed plugins may have added addresses.
        let want = try record.result.map { (r) throws(CNIError) -> Set<IPNetwork> in Set(try CNIResult.parse(r).ips.map(\.address)) }
            ?? Set(record.addresses.map(\.address))
        let got = Set(parsed.ips.map(\.address))
        if want != got {
            throw CNIError(code: SkeinCode.kernel, msg: "prevResult addresses \(got.map(\.description).sorted()) differ from the journal's \(want.map(\.description).sorted())")
        }
    }
}

// GC: release every attachment made by this config whose container is not in the valid set. The
// runtime knows only the interface it asked for (CNI_IFNAME); a container it still lists keeps every
// attachment the meta-plugin made for it. "Made by this config" is the skein config's `name` recorded
// in the request, so two runtimes' configs on one node never collect each other's pods.
struct GCOperation {
    let ctx: Context

    init(_ ctx: Context) { self.ctx = ctx }

    func run() throws(CNIError) {
        let gc = try GCRequest.parse(ctx.request.config)
        guard let valid = gc.validAttachments else { return }
        let validKeys = Set(valid.map { AttachmentKey(containerID: $0.containerID.value, ifname: $0.ifname.value) })
        let validContainers = Set(validKeys.map(\.containerID))
        let journal = try ctx.openJournal()
        // The scan (every row decoded, /proc read for liveness, request events read for the owner)
        // runs in read transactions, so the ADDs of other pods are not kept waiting for the writer
        // lock meanwhile; the write transaction then re-reads only the candidates.
        let outside: [AttachmentRecord]
        do {
            outside = try journal.read { r in try r.attachments().filter { !validContainers.contains($0.key.containerID) } }
        } catch {
            throw journalError(error)
        }
        let origins = try MetaFacts.read(journal, outside)
        let candidates = outside.filter { owns($0, origins[$0.requestSeq] ?? .unknown) && isStale($0, validContainers) }
        let stale: [AttachmentRecord]
        do {
            stale = try journal.transact { w -> [AttachmentRecord] in
                // The same request still (a row re-added meanwhile is another pod's attachment).
                let out = try candidates.compactMap { c in
                    try w.attachment(c.key).flatMap { $0.requestSeq == c.requestSeq && isStale($0, validContainers) ? $0 : nil }
                }
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
                Log.verbose("GC released \(rec.key) (network \(rec.network))")
            } catch {
                Log.error("GC of \(rec.key) failed: \(error.msg)")
                failures.append("\(rec.key): \(error.msg)")
            }
        }
        if !failures.isEmpty {
            throw CNIError(code: SkeinCode.kernel, msg: "GC could not release \(failures.count) attachment(s)", details: failures.joined(separator: "; "))
        }
    }

    /// Made by a skein config of this name; for a request without meta facts (an earlier skein's,
    /// or one retention removed), one of this config's own delegates' networks, as before.
    func owns(_ rec: AttachmentRecord, _ origin: Origin) -> Bool {
        if let f = origin.facts { return f.skeinNetwork == ctx.config.name }
        return ctx.networks.contains(rec.network)
    }

    /// Outside the valid containers, and not an operation still running in another process.
    func isStale(_ rec: AttachmentRecord, _ validContainers: Set<String>) -> Bool {
        guard !validContainers.contains(rec.key.containerID) else { return false }
        let inFlight = rec.status == .adding || rec.status == .deleting
        return !(inFlight && ProcessIdentity.isAlive(rec.process))
    }
}
