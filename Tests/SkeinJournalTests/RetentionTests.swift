import Foundation
import Glibc
import SkeinModel
import SkeinReducer
@testable import SkeinJournal
import Testing

// Snapshots and retention on real LMDB: snapshots every N events, pruning that keeps what the state
// needs and records itself, verify/replay starting from the newest snapshot that still verifies.

private func withDir<R>(_ body: (String) throws -> R) throws -> R {
    var template = Array("/tmp/skein-retention-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw LMDBError(code: errno, op: "mkdtemp") }
    let dir = String(cString: made)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir + "/state")
}

private let plugin = try! JSON.parse(
    #"{"cniVersion":"1.0.0","name":"blue","type":"bridge","bridge":"br-blue","ipam":{"type":"host-local","subnet":"10.10.0.0/16"}}"#)

private func key(_ n: Int) -> AttachmentKey { AttachmentKey(containerID: "c\(n)", ifname: "net1") }

/// A churn of pods: each added, most deleted again after a while, a few kept.
private func churn(_ j: Journal, pods: Int) throws {
    for n in 0..<pods {
        try j.append([
            .addRequested(AddRequested(key: key(n), network: "blue", netns: "/var/run/netns/c\(n)", pod: nil,
                                       process: ProcessRef(pid: 1, startTime: 2), plugin: plugin, requestedIPs: [])),
            .addApplied(Outcome(key: key(n))),
        ], sync: false)
        if n >= 3 && n % 10 != 0 {
            try j.append([.delRequested(DelRequested(key: key(n - 3), cause: .request, process: ProcessRef(pid: 1, startTime: 2))),
                          .delApplied(Outcome(key: key(n - 3)))], sync: false)
        }
    }
}

private func tables(_ j: Journal) throws -> MemoryState {
    var m = MemoryState()
    try j.read { r in for t in StateTable.allCases { m.tables[t] = try r.rows(t) } }
    return m
}

@Suite struct RetentionTests {
    @Test func snapshotsArePeriodicAndRecordedInTheChain() throws {
        try withDir { dir in
            let j = try Journal(stateDir: dir, policy: RetentionPolicy(snapshotEvery: 50, retainEvents: nil))
            try churn(j, pods: 100)
            let (head, seqs, first) = try j.read { r in (try r.head(), try r.snapshotSeqs(), try r.firstSeq()) }
            #expect(first == 1, "no retention: nothing pruned")
            #expect(seqs.count == Int(head.seq / 50), "one snapshot per 50 events: \(seqs) at head \(head.seq)")
            // Each stored snapshot's rows hash to the digest its snapshotTaken event recorded.
            for s in seqs {
                let snap = try #require(try j.read { try $0.snapshot(at: s) })
                #expect(StateDigest.of(snap.state).digest == snap.digest)
            }
            let report = try Verifier.run(j)
            #expect(report.ok, "\(report.problems)")
            #expect(report.replayed == (try tables(j)))
            // replay --from-start: no snapshot, every event reduced from the first, same state.
            let full = try Verifier.run(j, fullChain: true, fromStart: true)
            #expect(full.ok, "\(full.problems)")
            #expect(full.replayed == (try tables(j)))
            #expect(full.events == Int(head.seq), "every event reduced: \(full.events) of \(head.seq)")
        }
    }

    @Test func pruningKeepsWhatTheStateNeedsAndRecordsItself() throws {
        try withDir { dir in
            let j = try Journal(stateDir: dir, policy: RetentionPolicy(snapshotEvery: 40, retainEvents: 100))
            try churn(j, pods: 200)
            let (head, first, seqs) = try j.read { r in (try r.head(), try r.firstSeq(), try r.snapshotSeqs()) }
            let firstSeq = try #require(first)
            #expect(firstSeq > 1, "old events were pruned")
            #expect(head.seq - firstSeq + 1 >= 100, "at least retainEvents events remain")
            #expect(seqs.last == firstSeq, "the oldest kept snapshot anchors the first kept event")
            // Pruning is recorded: eventsPruned events name the snapshot they start from.
            var pruned = 0
            try j.read { r in
                try r.forEachEvent(from: firstSeq) { _, raw in
                    if case .eventsPruned = try EventRecord.decode(Array(raw)).event { pruned += 1 }
                    return true
                }
            }
            #expect(pruned >= 1)
            // The live state is untouched by pruning, and verify/replay from the snapshot agree with it.
            let verify = try Verifier.run(j)
            #expect(verify.ok, "\(verify.problems)")
            #expect(verify.replayed == (try tables(j)))
            let replay = try Verifier.run(j, fullChain: false)
            #expect(replay.ok, "\(replay.problems)")
            #expect(replay.events < verify.events, "replay starts at the newest snapshot")
            // Pruned events cannot be replayed from the start: said, not guessed.
            let fromStart = try Verifier.run(j, fullChain: true, fromStart: true)
            #expect(!fromStart.ok && fromStart.problems.contains { $0.message.contains("were pruned") })
        }
    }

    @Test func aTamperedSnapshotIsNotTrusted() throws {
        try withDir { dir in
            do {
                let j = try Journal(stateDir: dir, policy: RetentionPolicy(snapshotEvery: 40, retainEvents: 100))
                try churn(j, pods: 120)
            }
            // Change one row of every stored snapshot, keeping the recorded digest.
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.openDatabase("snapshots", create: false)
            try env.write { txn in
                var all: [([UInt8], [UInt8])] = []
                try txn.forEach(db, from: nil, reverse: false) { k, v in all.append((Array(k), Array(v))); return true }
                for (k, v) in all {
                    var snap = try Snapshot.decode(v)
                    snap.rows[0].value = Array("tampered".utf8)
                    try txn.put(db, k, snap.encoded())
                }
            }
            let j = try Journal(stateDir: dir, readOnly: true)
            let report = try Verifier.run(j)
            #expect(!report.ok)
            #expect(report.problems.first?.message.contains("no stored snapshot") == true, "\(report.problems)")
        }
    }

    @Test func verifyReportsATamperedSnapshotEvenWhenReplayDoesNotNeedIt() throws {
        try withDir { dir in
            do {
                let j = try Journal(stateDir: dir, policy: RetentionPolicy(snapshotEvery: 40, retainEvents: nil))
                try churn(j, pods: 60)
            }
            let env = try LMDBEnvironment(directory: dir)
            let db = try env.openDatabase("snapshots", create: false)
            let seq: UInt64 = try env.write { txn in
                let (k, v) = try #require(try txn.last(db))
                var snap = try Snapshot.decode(v)
                snap.rows[0].value = Array("tampered".utf8)
                try txn.put(db, k, snap.encoded())
                return snap.seq
            }
            let j = try Journal(stateDir: dir, readOnly: true)
            let report = try Verifier.run(j)
            #expect(report.problems.contains { $0.seq == seq && $0.message.contains("snapshot") }, "\(report.problems)")
        }
    }

    @Test func historyAfterPruningKnowsTheAttachmentsTheSnapshotHeld() throws {
        try withDir { dir in
            let j = try Journal(stateDir: dir, policy: RetentionPolicy(snapshotEvery: 40, retainEvents: 100))
            try churn(j, pods: 200)
            // c7 was added near the start (its addRequested is long pruned) and is still alive: the
            // churn never deletes pod n-3 when n is a multiple of 10.
            let first = try #require(try j.read { try $0.firstSeq() })
            #expect(first > 1)
            let held = try #require(try j.read { try $0.attachment(key(7)) })
            try j.append([.delRequested(DelRequested(key: key(7), cause: .request, process: ProcessRef(pid: 1, startTime: 2))),
                          .delApplied(Outcome(key: key(7)))])
            var tracker = HistoryTracker(node: "n")
            var deleted: AuditRecord?
            try History.stream(j, tracker: &tracker) { r, _ in
                if r.key == key(7).description && r.outcome == "deleted" { deleted = r }
                return true
            }
            let r = try #require(deleted)
            #expect(r.network == "blue")
            #expect(r.ips == held.addresses.map(\.address.description), "the context came from the snapshot: \(r.ips)")
            #expect(!r.ips.isEmpty)
        }
    }

    @Test func timeTravelBeforeTheFirstKeptEventIsRefused() throws {
        try withDir { dir in
            let j = try Journal(stateDir: dir, policy: RetentionPolicy(snapshotEvery: 40, retainEvents: 100))
            try churn(j, pods: 200)
            let first = try #require(try j.read { try $0.firstSeq() })
            #expect(try Verifier.run(j, upTo: first + 5, fullChain: false).ok)
            #expect(!(try Verifier.run(j, upTo: first - 1, fullChain: false).ok))
        }
    }
}
