import SkeinModel

// The reducer: (state, event) → (row changes, decision). Pure and total: no I/O, no clock, no
// randomness; everything it decides from is in the event or the state. The journal applies the
// changes in the same transaction that appends the event; replay applies them to a MemoryState.
// Model: swift-nio's state machines and TigerBeetle's state_machine — output is data.

public enum Decision: Equatable, Sendable {
    /// The event changed the state as intended.
    case accepted
    /// A request the state cannot honour (bad config, pool exhausted, interface already attached).
    /// The engine records the matching failure outcome right after it.
    case rejected(code: Int, message: String)
    /// An outcome for an attachment that is not (or no longer) in the state: nothing to do.
    case ignored(String)
}

public struct Reduction: Equatable, Sendable {
    public var changes: [StateChange]
    public var decision: Decision

    public init(changes: [StateChange] = [], decision: Decision = .accepted) {
        self.changes = changes
        self.decision = decision
    }

    static func rejected(_ code: Int, _ message: String) -> Reduction {
        Reduction(decision: .rejected(code: code, message: message))
    }
}

public enum Reducer {
    public static func reduce(_ record: EventRecord, state: some StateReader) -> Reduction {
        do {
            switch record.event {
            case .addRequested(let r): return try addRequested(r, seq: record.seq, state: state)
            case .addApplied(let o): return try addApplied(o, seq: record.seq, state: state)
            case .addFailed(let o): return try addFailed(o, seq: record.seq, state: state)
            case .delRequested(let d): return try delRequested(d, seq: record.seq, state: state)
            case .delApplied(let o): return try delApplied(o, state: state)
            case .delFailed(let o): return try delFailed(o, seq: record.seq, state: state)
            case .gcRequested, .snapshotTaken, .eventsPruned: return Reduction()
            }
        } catch {
            // A state row that does not decode is corruption: refuse to build on it.
            return .rejected(5, "journal state is corrupt: \(error.description)")
        }
    }

    /// Decides an ADD request against the state: the attachment's spec, addresses and cursors, or
    /// a refusal. The journal stores the decided request, so replay never decides again.
    public static func decide(_ r: AddRequested, state: some StateReader) -> AddRequested {
        var out = r
        out.decision = nil
        out.refusal = nil
        do {
            if let existing = try state.attachment(r.key) {
                out.refusal = Refusal(code: 7, message: "interface \(r.key.ifname) of container \(r.key.containerID) is "
                    + "already attached to network \"\(existing.network)\" (\(existing.status.rawValue)); DEL it first")
                return out
            }
        } catch {
            out.refusal = Refusal(code: 5, message: "journal state is corrupt: \(error.description)")
            return out
        }
        switch Attachments.build(r, lookup: StateAllocationLookup(state: state)) {
        case .success(let d): out.decision = d
        case .failure(let e): out.refusal = Refusal(code: e.code, message: e.message)
        }
        return out
    }

    static func addRequested(_ r: AddRequested, seq: UInt64, state: some StateReader) throws(DecodeError) -> Reduction {
        // Events written before decisions were recorded (and tests) are decided here.
        let decided = r.decision == nil && r.refusal == nil ? decide(r, state: state) : r
        if let refusal = decided.refusal { return .rejected(refusal.code, refusal.message) }
        guard let built = decided.decision else { return .rejected(5, "addRequested without a decision") }
        // A recorded decision is applied as it stands; a row already under the key would mean the
        // journal is not the one the decision was made against.
        if try state.attachment(r.key) != nil {
            return .rejected(7, "interface \(r.key.ifname) of container \(r.key.containerID) is already attached")
        }
        var changes: [StateChange] = []
        for a in built.addresses where built.holdsAddresses {
            changes.append(.putAllocation(network: r.network, ip: a.address.address, holder: r.key))
        }
        for (set, ip) in built.cursors.sorted(by: { $0.key < $1.key }) {
            changes.append(.putCursor(network: r.network, rangeSet: set, ip: ip))
        }
        let record = AttachmentRecord(
            key: r.key, network: r.network, netns: r.netns, pluginType: built.pluginType, status: .adding,
            pod: r.pod, process: r.process, spec: built.spec, addresses: built.addresses,
            resultRoutes: built.resultRoutes, dns: built.dns, result: nil, requestSeq: seq, updatedSeq: seq,
            lastError: nil, exec: built.exec, cniArgs: r.cniArgs)
        changes.insert(.putAttachment(record), at: 0)
        return Reduction(changes: changes)
    }

    static func addApplied(_ o: Outcome, seq: UInt64, state: some StateReader) throws(DecodeError) -> Reduction {
        guard var rec = try state.attachment(o.key), answers(o, rec) else {
            return Reduction(decision: .ignored("no ADD in progress for \(o.key) that this outcome answers"))
        }
        rec.status = .active
        rec.result = o.result
        rec.updatedSeq = seq
        rec.lastError = nil
        return Reduction(changes: [.putAttachment(rec)])
    }

    static func addFailed(_ o: Outcome, seq: UInt64, state: some StateReader) throws(DecodeError) -> Reduction {
        // Only an ADD in progress can fail. A refused request (say, a second ADD of an attachment
        // that is already active) records addFailed too, and must not touch the existing row.
        guard var rec = try state.attachment(o.key), answers(o, rec) else {
            return Reduction(decision: .ignored("no ADD in progress for \(o.key) that this outcome answers"))
        }
        if o.released { return try release(o.key, state: state) }
        // Not everything could be undone: keep holding it all so that DEL (or GC) finishes the job.
        rec.status = .failed
        rec.updatedSeq = seq
        rec.lastError = o.message
        return Reduction(changes: [.putAttachment(rec)])
    }

    static func delRequested(_ d: DelRequested, seq: UInt64, state: some StateReader) throws(DecodeError) -> Reduction {
        guard var rec = try state.attachment(d.key) else {
            return Reduction(decision: .ignored("nothing held for \(d.key)"))
        }
        rec.status = .deleting
        rec.process = d.process
        rec.updatedSeq = seq
        return Reduction(changes: [.putAttachment(rec)])
    }

    /// An ADD outcome applies only to an ADD in progress, and only to the request it names.
    static func answers(_ o: Outcome, _ rec: AttachmentRecord) -> Bool {
        rec.status == .adding && (o.requestSeq == nil || o.requestSeq == rec.requestSeq)
    }

    static func delApplied(_ o: Outcome, state: some StateReader) throws(DecodeError) -> Reduction {
        guard let rec = try state.attachment(o.key), rec.status == .deleting else {
            return Reduction(decision: .ignored("no DEL in progress for \(o.key)"))
        }
        return try release(rec.key, state: state)
    }

    static func delFailed(_ o: Outcome, seq: UInt64, state: some StateReader) throws(DecodeError) -> Reduction {
        guard var rec = try state.attachment(o.key), rec.status == .deleting else {
            return Reduction(decision: .ignored("no DEL in progress for \(o.key)"))
        }
        rec.updatedSeq = seq
        rec.lastError = o.message
        return Reduction(changes: [.putAttachment(rec)])
    }

    /// Drops the attachment and every address it holds. Cursors stay: host-local keeps going
    /// round robin after a release rather than handing the same address straight back.
    static func release(_ key: AttachmentKey, state: some StateReader) throws(DecodeError) -> Reduction {
        guard let rec = try state.attachment(key) else {
            return Reduction(decision: .ignored("nothing held for \(key)"))
        }
        var changes: [StateChange] = [.deleteAttachment(key)]
        for a in rec.addresses where state.allocationHolder(network: rec.network, ip: a.address.address) == key {
            changes.append(.deleteAllocation(network: rec.network, ip: a.address.address))
        }
        return Reduction(changes: changes)
    }
}

/// host-local's view of the state tables.
struct StateAllocationLookup<S: StateReader>: AllocationLookup {
    let state: S
    func isAllocated(network: String, ip: IPAddress) -> Bool { state.allocationHolder(network: network, ip: ip) != nil }
    func lastReserved(network: String, rangeSet: Int) -> IPAddress? { state.cursor(network: network, rangeSet: rangeSet) }
}
