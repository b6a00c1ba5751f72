import Testing
import SkeinModel
@testable import SkeinReducer

// Property test: random but valid lifecycle streams, IPAM invariants after every event, and
// replay of the encoded records from scratch reproduces the live state bit for bit.
// JournalTests carries a copy of the generator (test targets cannot import each other).

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, good enough to drive a fuzzer.
private struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func percent(_ p: Int) -> Bool { below(100) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// A network of the generated streams: its plugin config and the addresses it must never hand out.
private struct FuzzNetwork {
    var name: String
    var plugin: JSON
    var reserved: Set<IPAddress>
    var candidates: [IPAddress]  // addresses a request may ask for (some reserved, some out of range)
    /// The plugins chained after `plugin`.
    var chained: [JSON] = []
    /// false: static IPAM, whose addresses are reported and never held (several pods may list one).
    var holds = true

    static let all: [FuzzNetwork] = [
        // 10.1.0.2 ... .6: five addresses for eight interfaces, so the pool runs dry.
        FuzzNetwork(name: "red", plugin: plugin("red", #"{"type":"host-local","subnet":"10.1.0.0/29"}"#),
                    reserved: Set(ips(["10.1.0.0", "10.1.0.1", "10.1.0.7"])), candidates: ips((0...8).map { "10.1.0.\($0)" })),
        // Two range sets: an IPv4 range covering the whole subnet with the gateway inside it (the
        // guard must skip network, gateway and broadcast) and a six-address IPv6 set.
        FuzzNetwork(name: "green", plugin: plugin("green", #"{"type":"host-local","ranges":[[{"subnet":"10.2.0.0/28","rangeStart":"10.2.0.0","rangeEnd":"10.2.0.15","gateway":"10.2.0.5"}],[{"subnet":"fd00::/125"}]]}"#),
                    reserved: Set(ips(["10.2.0.0", "10.2.0.5", "10.2.0.15", "fd00::", "fd00::1"])),
                    candidates: ips(["10.2.0.0", "10.2.0.3", "10.2.0.5", "10.2.0.9", "10.2.0.15", "fd00::1", "fd00::4", "fd00::7"])),
        // macvlan with tuning chained: the other kinds' specs go through the codec too.
        FuzzNetwork(name: "violet", plugin: json(#"{"cniVersion":"1.0.0","name":"violet","type":"macvlan","master":"eth1","ipam":{"type":"host-local","subnet":"10.3.0.0/29"}}"#),
                    reserved: Set(ips(["10.3.0.0", "10.3.0.1", "10.3.0.7"])), candidates: ips(["10.3.0.1", "10.3.0.4"]),
                    chained: [json(#"{"type":"tuning","mtu":1400,"allmulti":true,"sysctl":{"net.ipv4.conf.IFNAME.rp_filter":"2"}}"#)]),
        FuzzNetwork(name: "amber", plugin: json(#"{"cniVersion":"1.0.0","name":"amber","type":"ptp","ipam":{"type":"static","addresses":[{"address":"10.4.0.9/24","gateway":"10.4.0.1"}]}}"#),
                    reserved: [], candidates: [], holds: false),
    ]

    static func json(_ text: String) -> JSON { try! JSON.parse(text) }

    static func plugin(_ name: String, _ ipam: String) -> JSON {
        try! JSON.parse(#"{"cniVersion":"0.3.1","name":""# + name + #"","type":"bridge","bridge":"br-"# + name
                        + #"","isDefaultGateway":true,"ipam":"# + ipam + "}")
    }

    static func ips(_ texts: [String]) -> [IPAddress] { texts.map { IPAddress($0)! } }
}

/// Generates the next event from the live state, the way runtimes and the engine behave: an
/// outcome follows a request, DEL may come for anything, duplicate ADDs happen, crashes repeat DELs.
private struct StreamGenerator {
    var rng: SplitMix64
    let keys: [AttachmentKey] = ["a", "b", "c", "d"].flatMap { cid in
        ["eth0", "net1"].map { AttachmentKey(containerID: cid, ifname: $0) }
    }

    init(seed: UInt64) { rng = SplitMix64(state: seed) }

    mutating func next(_ state: MemoryState) -> Event {
        let k = rng.pick(keys)
        let process = ProcessRef(pid: Int32(rng.below(1000)), startTime: rng.next() >> 1)
        let status = (try? state.attachment(k))?.status
        let roll = rng.below(100)
        switch status {
        case nil:
            if roll < 70 { return add(k, process) }
            if roll < 85 { return .delRequested(DelRequested(key: k, cause: .request, process: process)) }
            return rng.pick([Event.addApplied(Outcome(key: k)), .addFailed(Outcome(key: k, released: true)),
                             .delApplied(Outcome(key: k)), .delFailed(Outcome(key: k))])
        case .adding?:
            if roll < 45 { return .addApplied(Outcome(key: k, result: .obj([("cniVersion", .string("1.1.0"))]))) }
            if roll < 80 { return .addFailed(Outcome(key: k, code: 5, message: "x", released: roll < 65)) }
            return add(k, process)
        case .active?, .failed?:
            return roll < 80 ? .delRequested(DelRequested(key: k, cause: .request, process: process)) : add(k, process)
        case .deleting?:
            if roll < 55 { return .delApplied(Outcome(key: k)) }
            if roll < 75 { return .delFailed(Outcome(key: k, code: 5, message: "busy")) }
            if roll < 95 { return .delRequested(DelRequested(key: k, cause: .recovery, process: process)) }
            return add(k, process)
        }
    }

    mutating func add(_ k: AttachmentKey, _ process: ProcessRef) -> Event {
        let n = rng.pick(FuzzNetwork.all)
        let requested = rng.percent(25) && !n.candidates.isEmpty ? [rng.pick(n.candidates)] : []
        return .addRequested(AddRequested(key: k, network: n.name, netns: "/proc/1/ns/net", pod: nil,
                                          process: process, plugin: n.plugin, requestedIPs: requested, chained: n.chained))
    }
}

/// A store with rows only: `attachment(_:)` is the protocol's default, which decodes the row.
private struct BytesOnlyState: StateReader {
    var state = MemoryState()
    func row(_ table: StateTable, _ key: [UInt8]) -> [UInt8]? { state.row(table, key) }
}

/// Attachment rows decoded once per distinct row: decoding every row after every event would
/// dominate the run time.
private struct RowCache {
    var decoded: [[UInt8]: AttachmentRecord] = [:]

    mutating func records(_ state: MemoryState) -> [AttachmentRecord] {
        state.tables[.attachments]!.values.compactMap { row in
            if let r = decoded[row] { return r }
            let r = try? AttachmentRecord.decode(row)
            decoded[row] = r
            return r
        }
    }
}

/// IPAM invariants of one state; each violation as a sentence.
private func invariantViolations(_ state: MemoryState, cache: inout RowCache) -> [String] {
    var problems: [String] = []
    let records = cache.records(state)
    if records.count != state.tables[.attachments]!.count { problems.append("an attachment row does not decode") }
    var owners: [String: AttachmentKey] = [:]
    for r in records where FuzzNetwork.all.first(where: { $0.name == r.network })?.holds ?? true {
        for a in r.addresses.map(\.address.address) {
            let slot = "\(r.network) \(a)"
            if let other = owners[slot] { problems.append("\(slot) is held by both \(other) and \(r.key)") }
            owners[slot] = r.key
            let row = state.allocationHolder(network: r.network, ip: a)
            if row != r.key { problems.append("\(r.key) lists \(slot) but its allocation row names \(row.map(\.description) ?? "nobody")") }
        }
    }
    for (k, v) in state.tables[.allocations]! {
        guard let (network, a) = StateKeys.decodeAllocation(k),
              let holder = AttachmentKey(encoded: String(decoding: v, as: UTF8.self)) else {
            problems.append("allocation row does not decode"); continue
        }
        let rec = records.first { $0.key == holder }
        if rec?.network != network || !(rec?.addresses.contains { $0.address.address == a } ?? false) {
            problems.append("allocation \(network) \(a) names \(holder), which does not list it")
        }
        let fuzz = FuzzNetwork.all.first { $0.name == network }
        if fuzz?.reserved.contains(a) ?? true || !(fuzz?.holds ?? true) {
            problems.append("reserved or foreign address \(network) \(a) is allocated")
        }
    }
    return problems
}

/// A short text for one event, for failure reports.
private func describe(_ e: Event) -> String {
    var s = "\(e.typeName) \(e.key?.description ?? "-")"
    if case .addRequested(let r) = e { s += " \(r.network)" + (r.requestedIPs.isEmpty ? "" : " ip=\(r.requestedIPs[0])") }
    if case .addFailed(let o) = e { s += o.released ? " released" : " held" }
    return s
}

@Suite struct ReplayPropertyTests {
    @Test func splitMix64MatchesReferenceOutput() {
        var r = SplitMix64(state: 0)
        #expect(r.next() == 0xE220_A839_7B1D_CDAF)
        #expect(r.next() == 0x6E78_9E6A_A1B9_65F4)
    }

    /// 200 seeds × 200 events, in ten shards of 20 seeds that run in parallel.
    @Test(arguments: 0..<10)
    func randomStreamsKeepInvariantsAndReplayBitForBit(shard: Int) throws {
        var failures: [String] = []
        var decisions: [String: Int] = [:]
        for seed in UInt64(shard * 20 + 1)...UInt64(shard * 20 + 20) {
            if let failure = runStream(seed: seed, events: 200, decisions: &decisions) { failures.append(failure) }
        }
        // Every kind of decision must have occurred, or the generator is not exercising the reducer.
        for kind in ["accepted", "ignored", "rejected 7", "rejected 101"] {
            #expect(decisions[kind, default: 0] > 0, "no \(kind) decisions: \(decisions)")
        }
        let failed = failures.count
        #expect(failed == 0, "seeds failed (of 20); the first: \(failures.first ?? "")")
    }

    /// Runs one stream; returns a report of the first broken invariant or replay mismatch.
    func runStream(seed: UInt64, events count: Int, decisions: inout [String: Int]) -> String? {
        var gen = StreamGenerator(seed: seed)
        var live = MemoryState()
        var records: [EventRecord] = []
        var liveDecisions: [Decision] = []
        var cache = RowCache()
        func step(_ event: Event) -> Decision {
            // The reducer never reads `prev`; the journal tests cover the chain.
            let seq = UInt64(records.count + 1)
            let record = EventRecord(seq: seq, timeNs: Int64(seq) * 1_000_000, prev: EventRecord.genesisHash, event: event)
            let reduction = Reducer.reduce(record, state: live)
            live.apply(reduction.changes)
            records.append(record)
            liveDecisions.append(reduction.decision)
            return reduction.decision
        }
        func failure(_ problem: String) -> String {
            let tail = records.suffix(12).map { "#\($0.seq) \(describe($0.event))" }.joined(separator: "; ")
            return "seed \(seed) event \(records.count): \(problem); last events: \(tail)"
        }
        while records.count < count {
            let before = live
            let event = gen.next(live)
            let decision = step(event)
            decisions[Self.kind(decision), default: 0] += 1
            // As the engine does: a rejected ADD is followed by its addFailed in the same transaction.
            // Together they must leave the state exactly as it was (a duplicate ADD must not release
            // the attachment that is already there).
            if case .addRequested(let r) = event, case .rejected(let code, let message) = decision {
                _ = step(.addFailed(Outcome(key: r.key, requestSeq: records.last?.seq, code: code, message: message,
                                            released: true)))
                if live != before { return failure("a rejected ADD and its addFailed changed the state") }
            }
            if let problem = invariantViolations(live, cache: &cache).first { return failure(problem) }
        }
        // Replay from the encoded bytes into a fresh state: codec and reducer together must be lossless.
        var replayed = MemoryState()
        for (i, record) in records.enumerated() {
            guard let decoded = try? EventRecord.decode(record.encoded()), decoded == record else {
                return "seed \(seed): record \(record.seq) does not round-trip"
            }
            let reduction = Reducer.reduce(decoded, state: replayed)
            if reduction.decision != liveDecisions[i] { return "seed \(seed): replayed decision differs at \(record.seq)" }
            replayed.apply(reduction.changes)
        }
        if replayed != live { return "seed \(seed): replayed state differs from the live state" }
        // Once more through a store that holds only bytes, as LMDB does: MemoryState's decoded
        // records must lead the reducer exactly where decoding the rows does.
        var bytesOnly = BytesOnlyState()
        for (i, record) in records.enumerated() {
            let reduction = Reducer.reduce(record, state: bytesOnly)
            if reduction.decision != liveDecisions[i] { return "seed \(seed): bytes-only decision differs at \(record.seq)" }
            bytesOnly.state.apply(reduction.changes)
        }
        return bytesOnly.state == live ? nil : "seed \(seed): bytes-only replay differs from the live state"
    }

    static func kind(_ d: Decision) -> String {
        switch d {
        case .accepted: return "accepted"
        case .ignored: return "ignored"
        case .rejected(let code, _): return "rejected \(code)"
        }
    }
}
