import Glibc
import SkeinExecutor
import SkeinJournal
import SkeinModel
import SkeinReducer

/// One journaled ADD request carried out: the built-in part of the chain, then its exec'ed part,
/// then the outcome; or, on a failure anywhere, the rollback of whatever of it was done — exec'ed
/// plugins DEL'ed in reverse, then the built-in part torn down — and addFailed saying so.
struct AddAttempt {
    let ctx: Context
    let journal: Journal
    let executor: Executor
    let record: AttachmentRecord
    let start: Int64
    /// How many plugins of the chain run built in (the reducer put the rest in `record.exec`).
    let builtInCount: Int

    /// The built-in prefix applied to the kernel, and its result (nil when the chain starts exec'ed).
    func applyBuiltIn() throws(CNIError) -> CNIResult? {
        guard builtInCount > 0 else { return nil }
        var bridgeMAC: MACAddress?
        var ops: [PlanOp] = []
        var done = 0
        var after: Observation?
        do {
            let observed = try executor.observe(record.spec)
            // An adopted bridge keeps its own MAC; a bridge we create gets the spec's.
            bridgeMAC = observed.link(named: bridgeName(record.spec), in: .host)?.mac
            Trace.mark("observe")
            ops = try Planner.planAdd(desired: record.spec, observed: observed)
            let failpoint = ctx.failpoints.ops("add")
            // Called once per op that succeeded, in order: `done` is then the index of a failed op.
            try executor.apply(ops) { step in
                done += 1
                failpoint(step)
            }
            Trace.mark("apply")
            after = try observeUnsetMACs()
        } catch let conflict as PlanError {
            // Refused before any kernel change: nothing of ours to undo, and a teardown by name
            // could only reach the conflicting link, which is not ours.
            let e = CNIError(code: SkeinCode.kernel, msg: "\(conflict)")
            rollback(e, builtIn: false)
            throw e
        } catch {
            let e = kernelFailure(error, failedOp: done < ops.count ? ops[done] : nil)
            rollback(e)
            throw e
        }
        return ResultBuilder.result(record) { link in
            link.kind == .bridge ? bridgeMAC : after?.link(named: link.name, in: link.namespace)?.mac
        }
    }

    /// The MACs the kernel chose (an ipvlan or vlan takes its parent's), read after the ADD for the
    /// result: one RTM_GETLINK per link whose spec sets no MAC, none at all for a bridge attachment.
    func observeUnsetMACs() throws -> Observation? {
        let links = record.spec.links.filter { l in
            guard l.mac == nil else { return false }
            switch l.kind {
            case .bridge, .loopback, .hostDevice: return false   // adopted bridge seen before; origin MAC kept
            default: return true
            }
        }
        guard !links.isEmpty else { return nil }
        // Addresses and routes stripped: only the links themselves are looked up.
        let bare = links.map { l -> LinkSpec in
            var l = l
            l.addresses = []
            l.routes = []
            return l
        }
        return try executor.observe(AttachmentSpec(links: bare))
    }

    /// The exec'ed plugins in order, the first one getting the built-in result as prevResult.
    func runExec(after builtIn: CNIResult?) throws(CNIError) -> CNIResult {
        guard !record.exec.isEmpty else {
            if let builtIn { return builtIn }
            // The reducer never decides an empty chain; refuse rather than answer nothing.
            let e = CNIError(code: SkeinCode.delegate, msg: "network \"\(record.network)\": the chain has no plugin to run")
            rollback(e)
            throw e
        }
        let suffix: ExecSuffix
        do { suffix = try execSuffix() } catch {
            rollback(error)
            throw error
        }
        switch suffix.add(prevResult: builtIn, failpoint: { ctx.failpoints.hit("add-exec-\($0)") }) {
        case .done(let result):
            Trace.mark("exec")
            return result
        case .failed(let i, let error, let last):
            let what = "exec'ed plugin \(i + 1) of \(suffix.plugins.count) (\(suffix.plugins[i].type)) failed: \(error.msg)"
            rollback(error, message: what, execRan: i + 1, execPrev: last)
            throw error
        }
    }

    /// addApplied with the final result in the 1.1.0 shape (what CHECK and DEL hand back later).
    func recordApplied(_ result: CNIResult) throws(CNIError) {
        let full = result.json(version: CNIVersion.latest)
        do {
            try journal.append([.addApplied(Outcome(key: record.key, requestSeq: record.requestSeq, result: full,
                                                    durationMs: elapsedMs(start)))], durability: .metaDeferred)
        } catch {
            // The kernel has it but the journal does not say so: undo, so nothing is held unrecorded.
            let e = journalError(error)
            rollback(e, execRan: record.exec.count, execPrev: result)
            throw e
        }
    }

    func execSuffix() throws(CNIError) -> ExecSuffix {
        let target = PluginTarget(containerID: record.key.containerID, netns: record.netns, ifname: record.key.ifname,
                                  cniArgs: record.cniArgs ?? "")
        return try ExecSuffix(runner: ctx.delegateRunner, configs: record.exec, target: target)
    }

    /// Undoes in reverse: DEL of the first `execRan` exec'ed plugins (libcni's DEL: same config,
    /// prevResult the last result there was), then the built-in part's teardown. A step that fails
    /// stops the rollback (order matters) and leaves everything held for DEL: `released: false`.
    func rollback(_ error: CNIError, message: String? = nil, execRan: Int = 0, execPrev: CNIResult? = nil,
                  builtIn: Bool = true) {
        var released = true
        var message = message ?? error.msg
        if execRan > 0 {
            do {
                let suffix = try execSuffix()
                try suffix.del(count: execRan, prevResult: execPrev, applied: false) { ctx.failpoints.hit("add-rollback-exec-\($0)") }
                message += "; undone: DEL of exec'ed \(suffix.types(Array((0..<execRan).reversed())))"
            } catch {
                released = false
                message += "; rollback failed: \(error.msg)"
            }
        }
        if released && builtIn && builtInCount > 0 {
            do {
                let ops = Planner.planTeardown(desired: record.spec, observed: try executor.observeForTeardown(record.spec))
                try executor.apply(ops, failpoint: ctx.failpoints.ops("add-rollback"))
                if execRan > 0 { message += "; built-in part torn down" }
            } catch {
                released = false
                message += "; rollback failed: \(error)"
            }
        }
        _ = try? journal.append([.addFailed(Outcome(key: record.key, requestSeq: record.requestSeq, cause: .rollback,
                                                    code: error.code, message: message,
                                                    released: released, durationMs: elapsedMs(start)))], durability: .metaDeferred)
    }

    /// A kernel error as the runtime should read it. Creating a link of a kind this kernel was
    /// built without fails with EOPNOTSUPP ("Unknown device type"), which deserves plain words.
    func kernelFailure(_ error: Error, failedOp: PlanOp?) -> CNIError {
        let context = "ADD \(record.key) on network \"\(record.network)\""
        guard let e = error as? ExecutorError, e.errno == EOPNOTSUPP, case .createSubLink(let link)? = failedOp,
              let (kind, module) = AddAttempt.kernelModule(link.kind) else {
            return kernelError(error, "\(context) failed")
        }
        let msg = "\(context): this kernel cannot create \(kind) links: it lacks the \(module) module"
            + " (not built in, and not loadable)"
        return CNIError(code: SkeinCode.kernel, msg: msg, details: e.description)
    }

    static func kernelModule(_ kind: LinkKind) -> (kind: String, module: String)? {
        switch kind {
        case .ipvlan: return ("ipvlan", "ipvlan")
        case .vlan: return ("802.1q vlan", "8021q")
        case .macvlan: return ("macvlan", "macvlan")
        default: return nil
        }
    }

    func bridgeName(_ spec: AttachmentSpec) -> String {
        spec.links.first { $0.kind == .bridge }?.name ?? ""
    }
}
