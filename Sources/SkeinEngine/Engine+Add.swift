import SkeinExecutor
import SkeinJournal
import SkeinModel
import SkeinReducer

// ADD: validate → settle anything interrupted under this key → journal addRequested (the reducer
// allocates addresses and derives the kernel spec; durable commit) → plan against the kernel →
// apply → journal addApplied with the result. A failure part-way rolls the kernel back and journals
// addFailed saying whether everything was released.
struct AddOperation {
    let ctx: Context

    init(_ ctx: Context) { self.ctx = ctx }

    func run() throws(CNIError) -> JSON {
        let (network, plugin) = try ctx.primaryDelegate()
        guard let netns = ctx.request.netns else { throw CNIError.invalidEnvironment("CNI_NETNS is required for ADD") }
        let executor = try openExecutor(netns)
        let requested: [IPAddress]
        do throws(IPAMError) {
            requested = try HostLocal.requestedIPs(config: plugin, cniArgs: ctx.request.args.map { ($0.key, $0.value) })
        } catch {
            throw CNIError.invalidConfig(error.message)
        }
        Trace.mark("netns")
        let journal = try ctx.openJournal()
        Trace.mark("journal-open")
        try Recovery(ctx: ctx, journal: journal).settle(ctx.key)
        Trace.mark("settle")
        let start = Clock.monotonicNs()
        let request = AddRequested(key: ctx.key, network: network, netns: netns, pod: ctx.pod, process: ctx.process,
                                   plugin: plugin, requestedIPs: requested, cniArgsMAC: ctx.request.arg("MAC"))
        let record = try journalRequest(journal, request)
        Trace.mark("request-commit")
        ctx.failpoints.hit("add-after-request")
        var bridgeMAC: MACAddress?
        do {
            let observed = try executor.observe(record.spec)
            // An adopted bridge keeps its own MAC; a bridge we create gets the spec's.
            bridgeMAC = observed.link(named: bridgeName(record.spec), in: .host)?.mac
            Trace.mark("observe")
            let ops = try Planner.planAdd(desired: record.spec, observed: observed)
            try executor.apply(ops, failpoint: ctx.failpoints.ops("add"))
            Trace.mark("apply")
        } catch let conflict as PlanError {
            // Refused before any kernel change: nothing of ours to undo, and a teardown by name
            // could only reach the conflicting link, which is not ours.
            let cniError = CNIError(code: SkeinCode.kernel, msg: "\(conflict)")
            rollback(journal, nil, record, cniError, start)
            throw cniError
        } catch {
            let cniError = kernelError(error, "ADD \(ctx.key) on network \"\(network)\" failed")
            rollback(journal, executor, record, cniError, start)
            throw cniError
        }
        ctx.failpoints.hit("add-before-outcome")
        let result = ResultBuilder.result(record, bridgeMAC: bridgeMAC)
        let full = result.json(version: CNIVersion.latest)
        do {
            try journal.append([.addApplied(Outcome(key: ctx.key, requestSeq: record.requestSeq, result: full, durationMs: elapsedMs(start)))], durability: .metaDeferred)
        } catch {
            // The kernel has it but the journal does not say so: undo, so nothing is held unrecorded.
            let e = journalError(error)
            rollback(journal, executor, record, e, start)
            throw e
        }
        Trace.mark("outcome-commit")
        ctx.failpoints.hit("add-after-outcome")
        return result.json(version: ctx.request.cniVersion)
    }

    func openExecutor(_ netns: String) throws(CNIError) -> Executor {
        let executor: Executor
        do { executor = try Executor(containerNetNS: netns) } catch {
            throw CNIError.invalidEnvironment("CNI_NETNS \(netns) is not a usable network namespace", details: "\(error)")
        }
        guard executor.containerNamespaceExists else {
            throw CNIError.invalidEnvironment("CNI_NETNS \(netns) does not exist")
        }
        return executor
    }

    /// Appends addRequested; a rejection (bad config, pool exhausted, already attached) is journaled
    /// with its addFailed outcome in the same transaction, so the history says why.
    func journalRequest(_ journal: Journal, _ request: AddRequested) throws(CNIError) -> AttachmentRecord {
        let outcome: Result<AttachmentRecord, CNIError>
        do {
            outcome = try journal.transact { w -> Result<AttachmentRecord, CNIError> in
                let (requested, decision) = try w.append(.addRequested(request))
                if case .rejected(let code, let message) = decision {
                    _ = try w.append(.addFailed(Outcome(key: request.key, requestSeq: requested.seq, code: code,
                                                        message: message, released: true)))
                    return .failure(CNIError(code: code, msg: message))
                }
                guard let rec = try w.attachment(request.key) else {
                    throw JournalError(.corrupt, "addRequested accepted but no attachment row for \(request.key)")
                }
                return .success(rec)
            }
        } catch {
            throw journalError(error)
        }
        return try outcome.get()
    }

    func rollback(_ journal: Journal, _ executor: Executor?, _ record: AttachmentRecord, _ error: CNIError, _ start: Int64) {
        var released = true
        var message = error.msg
        if let executor {
            do {
                let ops = Planner.planTeardown(desired: record.spec, observed: try executor.observeHostEnds(record.spec))
                try executor.apply(ops, failpoint: ctx.failpoints.ops("add-rollback"))
            } catch {
                released = false
                message += "; rollback failed: \(error)"
            }
        }
        _ = try? journal.append([.addFailed(Outcome(key: record.key, requestSeq: record.requestSeq, cause: .rollback,
                                                    code: error.code, message: message,
                                                    released: released, durationMs: elapsedMs(start)))], durability: .metaDeferred)
    }

    func bridgeName(_ spec: AttachmentSpec) -> String {
        spec.links.first { $0.kind == .bridge }?.name ?? ""
    }
}

func elapsedMs(_ start: Int64) -> Int {
    Int((Clock.monotonicNs() - start) / 1_000_000)
}
