import SkeinExecutor
import SkeinJournal
import SkeinModel
import SkeinReducer

// ADD: validate → settle anything interrupted under this key → observe the kernel facts the chain
// needs → journal addRequested (the reducer allocates addresses, derives the kernel spec of the
// built-in prefix of the chain and lists the plugins to exec; durable commit) → plan against the
// kernel → apply → exec the rest of the chain in order → journal addApplied with the final result.
// A failure part-way undoes everything in reverse and journals addFailed saying whether everything
// was released.
struct AddOperation {
    let ctx: Context

    init(_ ctx: Context) { self.ctx = ctx }

    /// One attachment's ADD, journaled under its key; its final result (the caller answers in the
    /// config's version). `executor` holds the container netns (openExecutor).
    func run(_ t: AddTarget, journal: Journal, executor: Executor) throws(CNIError) -> CNIResult {
        guard let netns = ctx.request.netns, !t.plugins.isEmpty else {
            throw CNIError.invalidEnvironment("CNI_NETNS and a plugin are required for ADD")
        }
        var request = AddRequested(key: t.key, network: t.network, netns: netns, pod: ctx.pod, process: ctx.process,
                                   plugin: t.plugins[0], requestedIPs: [], cniArgsMAC: t.arg("MAC"),
                                   chained: Array(t.plugins.dropFirst()), cniArgs: t.cniArgs, execTypes: t.execTypes)
        request.requestedIPs = try requestedIPs(request, args: t.args)
        try Recovery(ctx: ctx, journal: journal).settle(t.key)
        Trace.mark("settle")
        // After settling: recovery may just have brought a host-device home.
        request.facts = try ChainFacts.observe(request, executor, recorded: t.facts)
        let start = Clock.monotonicNs()
        let record = try journalRequest(journal, request)
        Trace.mark("request-commit")
        ctx.failpoints.hit("add-after-request")
        let attempt = AddAttempt(ctx: ctx, journal: journal, executor: executor, record: record, start: start,
                                 builtInCount: request.plugins.count - record.exec.count)
        var result = try attempt.runExec(after: try attempt.applyBuiltIn())
        if let change = t.defaultRoute { result = try attempt.changeDefaultRoute(change, result) }
        ctx.failpoints.hit("add-before-outcome")
        try attempt.recordApplied(result)
        Trace.mark("outcome-commit")
        ctx.failpoints.hit("add-after-outcome")
        return result
    }

    static func openExecutor(_ netns: String) throws(CNIError) -> Executor {
        let executor: Executor
        do { executor = try Executor(containerNetNS: netns) } catch {
            throw CNIError.invalidEnvironment("CNI_NETNS \(netns) is not a usable network namespace", details: "\(error)")
        }
        guard executor.containerNamespaceExists else {
            throw CNIError.invalidEnvironment("CNI_NETNS \(netns) does not exist")
        }
        return executor
    }

    /// Requested addresses feed the built-in IPAM; a chain that starts exec'ed leaves them to
    /// its own IPAM plugin, which reads the same keys.
    func requestedIPs(_ request: AddRequested, args: [(key: String, value: String)]) throws(CNIError) -> [IPAddress] {
        guard !request.builtInPrefix.isEmpty else { return [] }
        do throws(IPAMError) {
            return try HostLocal.requestedIPs(config: request.plugin, cniArgs: args.map { ($0.key, $0.value) })
        } catch {
            throw CNIError.invalidConfig(error.message)
        }
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
}

/// What one attachment's ADD journals and applies: one attachment of the meta-plugin's plan (a
/// config with one delegate is a plan of one).
struct AddTarget {
    let key: AttachmentKey
    /// The pool key: the delegate's network name.
    let network: String
    /// The chain's plugins as they will be journaled and sent (libcni's injection done).
    let plugins: [JSON]
    /// CNI_ARGS for this attachment's plugins, as validated by the caller.
    let cniArgs: String?
    let execTypes: [String]
    /// Recorded in the request beside the kernel facts (the meta-plugin's own).
    var facts = JSONObject()
    /// The meta-plugin's default-route decision for this interface, applied in the pod after the
    /// chain and before the outcome is journaled (nil: leave the routes as the chain set them).
    var defaultRoute: DefaultRouteChange?

    /// CNI_ARGS as pairs, in order (already validated: "K=V" separated by ';').
    var args: [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        for pair in (cniArgs ?? "").split(separator: ";") {
            guard let eq = pair.firstIndex(of: "=") else { continue }
            out.append((key: String(pair[..<eq]), value: String(pair[pair.index(after: eq)...])))
        }
        return out
    }

    func arg(_ name: String) -> String? { args.first { $0.key == name }?.value }
}

func elapsedMs(_ start: Int64) -> Int {
    Int((Clock.monotonicNs() - start) / 1_000_000)
}
