import Foundation
import Glibc
import SkeinModel
import SkeinReducer
@testable import SkeinJournal
import Testing

// The journal on real LMDB in throw-away directories: append and read back, the hash chain and
// head, verify/replay against the materialized tables, tamper detection, permissions, and an
// append cost that does not grow with history.

// MARK: - Helpers

/// A fresh directory under /tmp (removed afterwards); the journal goes in its "state" subdirectory
/// so that the journal itself creates it.
private func withJournalDir<R>(_ body: (_ stateDir: String) throws -> R) throws -> R {
    var template = Array("/tmp/skein-journal-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw LMDBError(code: errno, op: "mkdtemp") }
    let dir = String(cString: made)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir + "/state")
}

private func permissions(_ path: String) -> mode_t {
    var st = stat()
    return stat(path, &st) == 0 ? st.st_mode & 0o7777 : 0
}

private func sha(_ bytes: [UInt8]) -> String { SHA256.hex(SHA256.hash(bytes)) }

private let plugin = try! JSON.parse(
    #"{"cniVersion":"1.0.0","name":"blue","type":"bridge","bridge":"br-blue","ipam":{"type":"host-local","subnet":"10.10.0.0/24"}}"#)

private func key(_ cid: String) -> AttachmentKey { AttachmentKey(containerID: cid, ifname: "net1") }

private func addReq(_ cid: String) -> Event {
    .addRequested(AddRequested(key: key(cid), network: "blue", netns: "/var/run/netns/\(cid)", pod: nil,
                               process: ProcessRef(pid: 1, startTime: 2), plugin: plugin, requestedIPs: []))
}

private func delReq(_ cid: String) -> Event {
    .delRequested(DelRequested(key: key(cid), cause: .request, process: ProcessRef(pid: 3, startTime: 4)))
}

/// Six events: c1 added and applied, c2 added and applied, c1 deleted (c2 stays, c1 is gone).
private let lifecycle: [Event] = [
    addReq("c1"), .addApplied(Outcome(key: key("c1"))), addReq("c2"), .addApplied(Outcome(key: key("c2"))),
    delReq("c1"), .delApplied(Outcome(key: key("c1"))),
]

/// Every state table of the journal, in MemoryState's shape.
private func tables(_ j: Journal) throws -> MemoryState {
    var m = MemoryState()
    try j.read { r in for t in StateTable.allCases { m.tables[t] = try r.rows(t) } }
    return m
}

private func rawEvents(_ j: Journal) throws -> [(seq: UInt64, bytes: [UInt8])] {
    try j.read { r in
        var out: [(seq: UInt64, bytes: [UInt8])] = []
        try r.forEachEvent { seq, raw in out.append((seq, Array(raw))); return true }
        return out
    }
}

/// Builds a journal holding `events`, closes it, runs `tamper` on the raw environment, reopens and verifies.
/// The journal must be closed first: LMDB forbids opening one environment twice in a process.
private func verifyAfterTampering(_ events: [Event], table: String,
                                  _ tamper: (LMDBDatabase, LMDBWriteTransaction) throws -> Void) throws -> VerifyReport {
    try withJournalDir { dir in
        do {
            let journal = try Journal(stateDir: dir)
            try journal.append(events)
        }
        do {
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.openDatabase(table, create: false)
            try env.write { txn in try tamper(db, txn) }
        }
        return try Verifier.run(Journal(stateDir: dir))
    }
}

// MARK: - Generator (a copy of the one in ReplayPropertyTests, trimmed)

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
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

private struct StreamGenerator {
    static let plugins: [(network: String, plugin: JSON)] = [
        ("red", try! JSON.parse(#"{"cniVersion":"0.3.1","name":"red","type":"bridge","bridge":"br-red","isGateway":true,"ipam":{"type":"host-local","subnet":"10.1.0.0/29"}}"#)),
        ("green", try! JSON.parse(#"{"cniVersion":"0.3.1","name":"green","type":"bridge","bridge":"br-green","ipam":{"type":"host-local","ranges":[[{"subnet":"10.2.0.0/28","rangeStart":"10.2.0.0","rangeEnd":"10.2.0.15","gateway":"10.2.0.5"}],[{"subnet":"fd00::/125"}]]}}"#)),
    ]
    static let candidates = ["10.1.0.1", "10.1.0.3", "10.1.0.6", "10.2.0.5", "10.2.0.9", "fd00::4"].map { IPAddress($0)! }
    var rng: SplitMix64
    let keys = ["a", "b", "c", "d"].flatMap { cid in ["eth0", "net1"].map { AttachmentKey(containerID: cid, ifname: $0) } }

    mutating func next(_ state: some StateReader) -> Event {
        let k = rng.pick(keys)
        let process = ProcessRef(pid: Int32(rng.below(1000)), startTime: rng.next() >> 1)
        let del = Event.delRequested(DelRequested(key: k, cause: .request, process: process))
        let roll = rng.below(100)
        switch (try? state.attachment(k))?.status {
        case nil: return roll < 75 ? add(k, process) : roll < 90 ? del : .delApplied(Outcome(key: k))
        case .adding?: return roll < 50 ? .addApplied(Outcome(key: k)) : roll < 85
            ? .addFailed(Outcome(key: k, message: "x", released: roll < 70)) : add(k, process)
        case .active?, .failed?: return roll < 80 ? del : add(k, process)
        case .deleting?: return roll < 60 ? .delApplied(Outcome(key: k)) : roll < 80 ? .delFailed(Outcome(key: k)) : del
        }
    }

    mutating func add(_ k: AttachmentKey, _ process: ProcessRef) -> Event {
        let (network, plugin) = rng.pick(Self.plugins)
        let requested = rng.below(4) == 0 ? [rng.pick(Self.candidates)] : []
        return .addRequested(AddRequested(key: k, network: network, netns: "/proc/1/ns/net", pod: nil,
                                          process: process, plugin: plugin, requestedIPs: requested))
    }
}

@Suite struct JournalTests {}

// MARK: - Append, read back, head

extension JournalTests {
    @Test func appendedEventsReadBackInOrderWithHashChain() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            #expect(try j.read { try $0.head() } == .empty)
            let first = try j.append(Array(lifecycle.prefix(4)))
            let last = try j.transact { w in
                #expect(w.head.seq == 4)
                return try lifecycle.suffix(2).map { try w.append($0) }
            }
            let appended = (first + last).map(\.record)
            #expect(appended.map(\.seq) == Array(1...6))
            #expect((first + last).allSatisfy { $0.decision == .accepted })
            // The journal records the reducer's decision inside each addRequested it stores.
            #expect(appended.map(undecided) == lifecycle)
            #expect(appended.allSatisfy { if case .addRequested(let r) = $0.event { r.decision != nil } else { true } })

            let stored = try rawEvents(j)
            #expect(stored.map(\.seq) == Array(1...6))
            #expect(try stored.map { try EventRecord.decode($0.bytes) } == appended)
            #expect(appended[0].prev == EventRecord.genesisHash)
            for i in 1..<stored.count { #expect(appended[i].prev == sha(stored[i - 1].bytes)) }
            #expect(try j.read { try $0.head() } == JournalHead(seq: 6, hash: sha(stored[5].bytes)))
            #expect(try j.read { try $0.eventCount() } == 6)
            #expect(try j.read { try $0.attachment(key("c1")) } == nil)
            #expect(try j.read { try $0.attachment(key("c2")) }?.status == .active)
        }
    }

    @Test func headAdvancesWithEveryAppend() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            var seen: Set<String> = [EventRecord.genesisHash]
            for (n, event) in lifecycle.enumerated() {
                let (record, _) = try j.append([event])[0]
                let head = try j.read { try $0.head() }
                #expect(head.seq == UInt64(n + 1))
                #expect(head.hash == sha(record.encoded()))
                #expect(seen.insert(head.hash).inserted)
            }
            // An empty transaction appends nothing and leaves the head alone.
            let before = try j.read { try $0.head() }
            try j.transact { _ in }
            #expect(try j.read { try $0.head() } == before)
        }
    }

    @Test func rejectedRequestIsStillJournaled() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            let results = try j.append([addReq("c1"), addReq("c1")])
            #expect(results[1].decision != .accepted)
            #expect(try j.read { try $0.eventCount() } == 2)
            #expect(try Verifier.run(j).ok)
        }
    }

    @Test func verifyIsCleanAndReplayEqualsTables() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            try j.append(lifecycle)
            try j.append([addReq("c3"), addReq("c4"), .addFailed(Outcome(key: key("c4"), released: false))])
            let report = try Verifier.run(j)
            #expect(report.ok, "\(report.problems)")
            #expect(report.events == 9)
            #expect(report.head.seq == 9)
            let live = try tables(j)
            #expect(report.replayed == live)
            #expect(live.tables[.attachments]!.count == 3)  // c2, c3, c4
        }
    }

    @Test func randomStreamsMatchMemoryReplay() throws {
        for seed in UInt64(1)...20 {
            try withJournalDir { dir in
                let j = try Journal(stateDir: dir)
                var gen = StreamGenerator(rng: SplitMix64(state: seed))
                var memory = MemoryState()
                var seq: UInt64 = 0
                while seq < 200 {
                    // Several events per transaction: each must see the state the previous one left.
                    let batch = 1 + gen.rng.below(4)
                    try j.transact(sync: false) { w in
                        for _ in 0..<batch {
                            seq += 1
                            let event = gen.next(memory)
                            let record = EventRecord(seq: seq, timeNs: 0, prev: EventRecord.genesisHash, event: event)
                            let expected = Reducer.reduce(record, state: memory)
                            memory.apply(expected.changes)
                            let (_, decision) = try w.append(event)
                            #expect(decision == expected.decision, "seed \(seed) event \(seq)")
                        }
                    }
                }
                #expect(try tables(j) == memory, "seed \(seed)")
                let report = try Verifier.run(j)
                #expect(report.ok, "seed \(seed): \(report.problems)")
                #expect(report.replayed == memory, "seed \(seed)")
            }
        }
    }
}

// MARK: - Tamper detection

extension JournalTests {
    @Test func changedMiddleEventBreaksChainAtItsSuccessor() throws {
        let report = try verifyAfterTampering(lifecycle, table: "events") { events, txn in
            var record = try EventRecord.decode(try #require(try txn.get(events, BigEndian.bytes(3))))
            record.timeNs += 1
            try txn.put(events, BigEndian.bytes(3), record.encoded())
        }
        #expect(report.problems.count == 1)
        #expect(report.problems.first?.seq == 4)
        #expect(report.problems.first?.message.contains("hash chain broken") == true, "\(report.problems)")
    }

    @Test func changedLastEventMismatchesHead() throws {
        let report = try verifyAfterTampering(lifecycle, table: "events") { events, txn in
            var record = try EventRecord.decode(try #require(try txn.get(events, BigEndian.bytes(6))))
            record.timeNs += 1
            try txn.put(events, BigEndian.bytes(6), record.encoded())
        }
        #expect(report.problems.count == 1)
        #expect(report.problems.first?.seq == 6)
        #expect(report.problems.first?.message.contains("journal head says seq 6") == true, "\(report.problems)")
    }

    @Test func droppedLastEventMismatchesHead() throws {
        let report = try verifyAfterTampering(lifecycle, table: "events") { events, txn in
            try txn.delete(events, BigEndian.bytes(6))
        }
        #expect(report.problems.count == 1)
        #expect(report.problems.first?.message.contains("the chain ends at seq 5") == true, "\(report.problems)")
    }

    @Test func deletedMiddleEventIsASequenceGap() throws {
        let report = try verifyAfterTampering(lifecycle, table: "events") { (events, txn) throws in
            #expect(try txn.delete(events, BigEndian.bytes(3)))
        }
        #expect(report.problems.count == 1)
        #expect(report.problems.first?.seq == 4)
        #expect(report.problems.first?.message.contains("sequence gap: expected 3") == true, "\(report.problems)")
    }

    @Test func editedAttachmentRowIsAStateMismatch() throws {
        let report = try verifyAfterTampering(lifecycle, table: StateTable.attachments.rawValue) { db, txn in
            var rec = try AttachmentRecord.decode(try #require(try txn.get(db, StateKeys.attachment(key("c2")))))
            rec.status = .failed
            try txn.put(db, StateKeys.attachment(key("c2")), rec.json.serializedBytes())
        }
        #expect(report.problems.count == 1)
        #expect(report.problems.first?.seq == nil)
        #expect(report.problems.first?.message.contains("attachments row \"c2/net1\" differs") == true, "\(report.problems)")
    }

    @Test func deletedAndExtraStateRowsAreMismatches() throws {
        let report = try verifyAfterTampering(lifecycle, table: StateTable.allocations.rawValue) { allocations, txn in
            let held = StateKeys.allocation(network: "blue", ip: IPAddress("10.10.0.3")!)
            #expect(try txn.delete(allocations, held))
            try txn.put(allocations, StateKeys.allocation(network: "blue", ip: IPAddress("10.10.0.9")!), Array("x/y".utf8))
        }
        let messages = report.problems.map(\.message)
        #expect(messages.count == 2, "\(messages)")
        #expect(messages.contains { $0.contains("10.10.0.3") && $0.contains("missing from") })
        #expect(messages.contains { $0.contains("10.10.0.9") && $0.contains("not in the replay") })
    }
}

// MARK: - Read-only copies and file modes

extension JournalTests {
    @Test func readOnlyCopyVerifiesClean() throws {
        try withJournalDir { dir in
            do { try Journal(stateDir: dir).append(lifecycle) }
            let copy = dir + "-copy"
            defer { try? FileManager.default.removeItem(atPath: copy) }
            #expect(system("cp -a '\(dir)' '\(copy)'") == 0)
            let j = try Journal(stateDir: copy, readOnly: true)
            let report = try Verifier.run(j)
            #expect(report.ok, "\(report.problems)")
            #expect(report.events == 6)
            #expect(throws: (any Error).self) { try j.append([addReq("c9")]) }
        }
    }

    @Test func stateDirIs0700AndDataFile0600() throws {
        try withJournalDir { dir in
            let nested = dir + "/deeper/skein"
            _ = try Journal(stateDir: nested)
            #expect(permissions(nested) == 0o700)
            #expect(permissions(nested + "/data.mdb") == 0o600)
            #expect(permissions(nested + "/lock.mdb") == 0o600)
        }
    }
}

// MARK: - Cost of an append against history length

extension JournalTests {
    /// Appends to an empty journal and to one holding 100,000 events, interleaved so that both
    /// see the same disk and CPU noise (other suites run in parallel). What must not grow with the
    /// history is an append's work (no scan, no whole-state rewrite): that is the thread's CPU time
    /// of unsynced appends, untouched by fsync latency and by waiting for a CPU, where a scan of
    /// the history would cost a hundred times the append. A durable append's time is mostly the
    /// disk's (and a deeper tree flushes a page or two more), so its bound is looser: it catches a
    /// commit that writes far more pages, not disk noise.
    @Test func appendCostDoesNotGrowWithHistory() throws {
        try withJournalDir { emptyDir in
            try withJournalDir { fullDir in
                let empty = try Journal(stateDir: emptyDir)
                let full = try Journal(stateDir: fullDir)
                var n = 0
                while n < 100_000 {
                    try full.transact(sync: false) { w in
                        for _ in 0..<1000 { n += 1; _ = try w.append(delReq("filler\(n)")) }
                    }
                }
                try full.env.sync()
                // 100,000 fillers plus the journal's own snapshotTaken events (one per 10,000).
                #expect(try full.read { try $0.eventCount() } == 100_010)

                let small = delReq("measured")
                func timed(_ j: Journal, sync: Bool) throws -> (wall: Int64, cpu: Int64) {
                    let wall = Clock.monotonicNs(), cpu = threadCPUNs()
                    try j.append([small], sync: sync)
                    return (Clock.monotonicNs() - wall, threadCPUNs() - cpu)
                }
                // Warm up both (pages, metadata), then interleave; 1,200 appends stay clear of
                // the next snapshot in either journal.
                for _ in 0..<3 { _ = try timed(empty, sync: false); _ = try timed(full, sync: false) }
                var emptyCPU: [Int64] = [], fullCPU: [Int64] = [], emptyWall: [Int64] = [], fullWall: [Int64] = []
                for _ in 0..<1000 {
                    emptyCPU.append(try timed(empty, sync: false).cpu)
                    fullCPU.append(try timed(full, sync: false).cpu)
                }
                for _ in 0..<200 {
                    emptyWall.append(try timed(empty, sync: true).wall)
                    fullWall.append(try timed(full, sync: true).wall)
                }
                let median = { (a: [Int64]) in Double(a.sorted()[a.count / 2]) / 1000 }
                let cpuRatio = median(fullCPU) / median(emptyCPU), wallRatio = median(fullWall) / median(emptyWall)
                print(String(format: "append CPU (no sync), median: %.1f µs at ~0 events, %.1f µs at 100k (ratio %.2f); "
                             + "durable append wall, median: %.1f / %.1f µs (ratio %.2f)",
                             median(emptyCPU), median(fullCPU), cpuRatio, median(emptyWall), median(fullWall), wallRatio))
                #expect(cpuRatio < 3.0, "an append's work grew with the history")
                #expect(wallRatio < 3.0, "a durable append's time grew with the history")
                #expect(try Verifier.run(full).ok)
            }
        }
    }
}

/// CPU time of the calling thread: unlike wall time, it leaves out time spent waiting for a CPU
/// while other suites run.
private func threadCPUNs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// The event as the caller gave it: without the decision the journal adds to an addRequested.
private func undecided(_ record: EventRecord) -> Event {
    guard case .addRequested(var r) = record.event else { return record.event }
    r.decision = nil
    r.refusal = nil
    return .addRequested(r)
}
