import Foundation
import Glibc
import SkeinModel
import SkeinReducer
@testable import SkeinJournal
import Testing

// Journal corruption on real LMDB files, damaged with byte edits the way a disk or a bad copy
// damages them: a flipped bit in an event record, in a state row, in a meta page, a damaged
// B-tree page, a truncated data.mdb, a writer killed inside its transaction, a full disk. Each is
// refused with a clear error, never answered with a wrong allocation; verify names it; recover
// rebuilds what verifies and says what it lost. No root needed except the full-disk test (tmpfs).
//
// A test that damages a B-tree page never lets liblmdb read that page afterwards (it may abort
// the test process on an assertion): such journals are checked with the raw reader and recover.

// MARK: - Helpers

private func withCorruptDir<R>(_ body: (_ stateDir: String) throws -> R) throws -> R {
    var template = Array("/tmp/skein-corrupt-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw LMDBError(code: errno, op: "mkdtemp") }
    let dir = String(cString: made)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir + "/state")
}

/// A small pool (a /29) so that a full pool is a few pods away.
private func plugin(_ subnet: String = "10.30.0.0/29") -> JSON {
    try! JSON.parse(#"{"cniVersion":"1.0.0","name":"red","type":"bridge","bridge":"br-red","ipam":{"type":"host-local","subnet":"\#(subnet)"}}"#)
}

private func key(_ n: Int) -> AttachmentKey { AttachmentKey(containerID: "pod\(n)", ifname: "eth0") }

private func add(_ n: Int, subnet: String = "10.30.0.0/29") -> [Event] {
    [.addRequested(AddRequested(key: key(n), network: "red", netns: "/var/run/netns/p\(n)", pod: PodRef(namespace: "ns", name: "p\(n)", uid: "u\(n)"),
                                process: ProcessRef(pid: 1, startTime: 2), plugin: plugin(subnet), requestedIPs: [])),
     .addApplied(Outcome(key: key(n)))]
}

private func del(_ n: Int) -> [Event] {
    [.delRequested(DelRequested(key: key(n), cause: .request, process: ProcessRef(pid: 1, startTime: 2))),
     .delApplied(Outcome(key: key(n)))]
}

/// ADDs pods in `range` as the engine does (request, then its outcome: applied, or failed when
/// refused), one transaction each; returns the address each got (without prefix length).
@discardableResult
private func addPods(_ j: Journal, _ range: Range<Int>, subnet: String = "10.30.0.0/29") throws -> [Int: String] {
    var out: [Int: String] = [:]
    for n in range {
        try j.transact(sync: false) { w in
            let (record, decision) = try w.append(add(n, subnet: subnet)[0])
            if case .rejected(let code, let message) = decision {
                _ = try w.append(.addFailed(Outcome(key: key(n), requestSeq: record.seq, code: code, message: message, released: true)))
                return
            }
            _ = try w.append(.addApplied(Outcome(key: key(n))))
            out[n] = try w.attachment(key(n))?.addresses.first.map { String($0.address.description.split(separator: "/")[0]) }
        }
    }
    return out
}

/// Like `flip`, but inside every copy of event `seq`'s record: `offset` bytes past `text` there.
@discardableResult
private func flipInRecord(_ dir: String, seq: Int, _ text: String, at offset: Int = 0, _ mask: UInt8 = 0x01) throws -> Int {
    let path = dir + "/data.mdb"
    var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let start = Array(#"{"seq":\#(seq),"#.utf8), inner = Array(text.utf8)
    var count = 0
    for i in 0..<(data.count - start.count) where data[i] == start[0] && data[i..<(i + start.count)].elementsEqual(start) {
        let end = min(i + 4096, data.count) - inner.count
        guard let j = (i..<end).first(where: { data[$0..<($0 + inner.count)].elementsEqual(inner) }) else { continue }
        data[j + offset] ^= mask
        count += 1
    }
    try Data(data).write(to: URL(fileURLWithPath: path))
    return count
}

private func tables(_ j: Journal) throws -> MemoryState {
    var m = MemoryState()
    try j.read { r in for t in StateTable.allCases { m.tables[t] = try r.rows(t) } }
    return m
}

/// XORs `mask` into the byte at `offset` past every occurrence of `needle` in data.mdb: the live
/// page and the stale copies LMDB's copy-on-write left, so the damage is the same whichever is read.
@discardableResult
private func flip(_ dir: String, _ needle: [UInt8], at offset: Int, _ mask: UInt8 = 0x01) throws -> Int {
    let path = dir + "/data.mdb"
    var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var count = 0
    var i = 0
    while i + needle.count <= data.count {
        if data[i] == needle[0] && data[i..<(i + needle.count)].elementsEqual(needle) {
            data[i + offset] ^= mask
            count += 1
        }
        i += 1
    }
    try Data(data).write(to: URL(fileURLWithPath: path))
    return count
}

/// Writes `bytes` at `offset` of data.mdb (a meta page field, a whole page).
private func poke(_ dir: String, _ offset: Int, _ bytes: [UInt8]) throws {
    let fd = open(dir + "/data.mdb", O_WRONLY)
    guard fd >= 0 else { throw LMDBError(code: errno, op: "open") }
    defer { close(fd) }
    guard pwrite(fd, bytes, bytes.count, off_t(offset)) == bytes.count else { throw LMDBError(code: errno, op: "pwrite") }
}

private func peek(_ dir: String, _ offset: Int, _ count: Int) throws -> [UInt8] {
    try #require(try RawFile(path: dir + "/data.mdb").read(offset, count))
}

/// The meta page liblmdb would use (the newer transaction).
private func newestMeta(_ dir: String) throws -> RawMeta {
    let (m0, m1) = try RawFile(path: dir + "/data.mdb").metas()
    let a = try #require(m0), b = try #require(m1)
    return b.txnID > a.txnID ? b : a
}

private func corruptMessage(_ body: () throws -> Void) -> String? {
    do { try body() } catch let e as JournalError where e.kind == .corrupt { return e.message } catch { return "other error: \(error)" }
    return nil
}

private func recovered(_ dir: String, toSeq: UInt64? = nil) throws -> RecoveryReport {
    let report = try JournalRecovery.run(dir, toSeq: toSeq)
    if let evidence = report.evidence {
        #expect(FileManager.default.fileExists(atPath: evidence + "/data.mdb"), "the damaged data.mdb is kept")
        #expect(FileManager.default.fileExists(atPath: evidence + "/recovery-report.txt"))
    }
    return report
}

@Suite struct CorruptionTests {
    // MARK: Event records

    @Test func flippedEventRecordIsNamedByVerifyAndRepairedByRecover() throws {
        try withCorruptDir { dir in
            do {
                let j = try Journal(stateDir: dir)
                try addPods(j, 0..<4)
                try j.append(del(1))
            }
            // Event 3 (pod1's addRequested): one bit of its container ID ("pod1" → "pnd1").
            #expect(try flipInRecord(dir, seq: 3, #""containerID":"pod1""#, at: 16) >= 1)
            let report = try Verifier.run(Journal(stateDir: dir, readOnly: true))
            #expect(!report.ok)
            #expect(report.problems.first?.seq == 4, "the chain breaks at event 4: \(report.problems)")
            #expect(report.problems.first?.message.contains("event 3 was changed") == true)

            // The state tables are intact: the writer goes on allocating correctly meanwhile.
            do {
                let j = try Journal(stateDir: dir)
                #expect(try addPods(j, 10..<11)[10] == "10.30.0.6", "the next free address, not a held one")
                try j.append(del(10))
            }
            let before = try tables(Journal(stateDir: dir, readOnly: true))
            let r = try recovered(dir)
            #expect(r.repairs.map(\.seq) == [3], "\(r.text())")
            #expect(r.lost.isEmpty && r.unreadable.isEmpty)
            let j = try Journal(stateDir: dir, readOnly: true)
            #expect(try Verifier.run(j).ok)
            #expect(try tables(j) == before)
        }
    }

    @Test func flippedNewestEventIsRefusedByTheWriter() throws {
        try withCorruptDir { dir in
            do { try addPods(Journal(stateDir: dir), 0..<3) }
            #expect(try flip(dir, Array(#"{"seq":6,"#.utf8), at: 40, 0x04) >= 1)
            let message = corruptMessage { try addPods(Journal(stateDir: dir), 3..<4) }
            #expect(message?.contains("event 6, the newest, does not hash to what the head records") == true, "\(message ?? "no error")")
            let v = try Verifier.run(Journal(stateDir: dir, readOnly: true))
            #expect(v.problems.first?.seq == 6, "\(v.problems)")
            // The head vouches for the newest event: the flip is found and undone.
            let r = try recovered(dir)
            #expect(r.repairs.map(\.seq) == [6] && r.head.seq == 6, "\(r.text())")
            #expect(try addPods(Journal(stateDir: dir), 3..<4)[3] == "10.30.0.5")
        }
    }

    @Test func unrepairableEventKeepsTheVerifiedPrefixAndListsWhatIsLost() throws {
        try withCorruptDir { dir in
            do { try addPods(Journal(stateDir: dir), 0..<4) }
            // Two changed bytes in event 6 (pod2's addApplied): beyond a single-change repair.
            #expect(try flipInRecord(dir, seq: 6, #""ifname":"eth0""#, at: 10) >= 1)
            #expect(try flipInRecord(dir, seq: 6, #""ifname":"dth0""#, at: 12) >= 1)
            let r = try recovered(dir)
            #expect(r.repairs.isEmpty)
            #expect(r.segment == ChainSegment(first: 1, last: 5, fromSnapshot: false), "\(r.text())")
            #expect(r.lost.map(\.seq) == [6, 7, 8])
            // What the lost events were about, so the node can be checked: pod3 and its address.
            let lostIPs = Set(r.lost.compactMap(\.record).flatMap(\.ips))
            #expect(lostIPs.contains("10.30.0.5/29"), "\(r.text())")
            #expect(r.stateDifferences.contains { $0.contains("pod3/eth0") && $0.contains("not by the rebuilt") })
            #expect(r.text().contains("LOST"))
            let j = try Journal(stateDir: dir, readOnly: true)
            #expect(try Verifier.run(j).ok)
            #expect(try j.read { try $0.head() }.seq == 5)
            // pod2's request is kept: its address stays held (status adding) until its DEL.
            #expect(try j.read { try $0.attachment(key(2)) }?.status == .adding)
            var explained: [String] = []
            _ = try History.explain(j, target: ExplainTarget("pod1/eth0"), node: "n") { explained.append($0.outcome) }
            #expect(explained == ["requested", "applied"], "explain works on the recovered journal")
        }
    }

    // MARK: State rows

    @Test func flippedAllocationKeyNeverHandsOutAHeldAddress() throws {
        try withCorruptDir { dir in
            let head: JournalHead
            do {
                let j = try Journal(stateDir: dir)
                let held = try addPods(j, 0..<5)
                #expect(Set(held.values) == ["10.30.0.2", "10.30.0.3", "10.30.0.4", "10.30.0.5", "10.30.0.6"])
                #expect(try addPods(j, 5..<6).isEmpty, "the /29 is full")
                head = try j.read { try $0.head() }
            }
            // Pod 1's allocation key ("red" NUL 10.30.0.3, after its node header with key size 8)
            // now reads 10.30.0.2: without checksums 10.30.0.3 would look free to the next ADD.
            let allocationKey = Array("red".utf8) + [0, 10, 30, 0, 3]
            #expect(try flip(dir, [8, 0] + allocationKey, at: 2 + 7) >= 1)
            let message = corruptMessage { try addPods(Journal(stateDir: dir), 9..<10) }
            #expect(message?.contains("allocations row \"red 10.30.0.3\" is missing but its checksum is there") == true,
                    "\(message ?? "the ADD went through")")
            #expect(try Journal(stateDir: dir, readOnly: true).read { try $0.head() } == head, "nothing was written")
            let (structure, _) = StoreCheck.structure(dir)
            #expect(structure.contains { $0.tree == "allocations" }, "verify names the table: \(structure)")
            let r = try recovered(dir)
            #expect(r.lost.isEmpty && r.head == head, "\(r.text())")
            let j = try Journal(stateDir: dir)
            #expect(try Verifier.run(j).ok)
            #expect(try addPods(j, 9..<10).isEmpty, "after recovery the pool is still full")
        }
    }

    @Test func flippedAttachmentValueIsRefusedOnReadAndNamedByVerify() throws {
        try withCorruptDir { dir in
            do { try addPods(Journal(stateDir: dir), 0..<2) }
            // A value byte of pod0's attachment row (its netns path): the row still parses.
            #expect(try flip(dir, Array("/var/run/netns/p0\"".utf8), at: 15, 0x02) >= 1)
            let message = corruptMessage { try Journal(stateDir: dir).append(del(0), sync: false) }
            #expect(message?.contains("attachments row \"pod0/eth0\" does not match its checksum") == true, "\(message ?? "no error")")
            let read = corruptMessage { _ = try Journal(stateDir: dir, readOnly: true).read { try $0.attachment(key(0)) } }
            #expect(read != nil)
            let v = try Verifier.run(Journal(stateDir: dir, readOnly: true))
            #expect(v.problems.contains { $0.message.contains("attachments row \"pod0/eth0\"") }, "\(v.problems)")
            let r = try recovered(dir)
            #expect(r.lost.isEmpty)
            try Journal(stateDir: dir).append(del(0), sync: false)
            #expect(try Verifier.run(Journal(stateDir: dir, readOnly: true)).ok)
        }
    }

    @Test func olderJournalGetsItsChecksumsOnItsFirstWrite() throws {
        try withCorruptDir { dir in
            do { try addPods(Journal(stateDir: dir), 0..<3) }
            // As written before checksums existed: no marker, no checksum rows.
            do {
                let env = try LMDBEnvironment(directory: dir)
                let sums = try env.openDatabase(RowChecksums.database, create: false)
                let meta = try env.openDatabase("meta", create: false)
                try env.write { txn in
                    try txn.drop(sums)
                    try txn.delete(meta, RowChecksums.markerKey)
                }
            }
            #expect(try Verifier.run(Journal(stateDir: dir, readOnly: true)).ok, "unchecked, not failed")
            let j = try Journal(stateDir: dir)
            try addPods(j, 3..<4)
            let (marked, count) = try j.read { r in
                (try RowChecksums.ready(r.txn, meta: j.meta), try r.txn.count(j.checksums!))
            }
            #expect(marked)
            #expect(count == StateTable.allCases.reduce(0) { n, t in n + ((try? tables(j).tables[t]?.count) ?? 0)! })
            #expect(try Verifier.run(j).ok)
        }
    }

    /// An older build keeps no checksums: after a downgrade and an upgrade, rows have changed
    /// behind them. The marker (the head they were kept at) tells that apart from damage.
    @Test func journalWrittenByAnOlderBuildIsNotMistakenForDamage() throws {
        try withCorruptDir { dir in
            var stale: [([UInt8], [UInt8])] = []
            var staleMarker: [UInt8]?
            do {
                let j = try Journal(stateDir: dir)
                try addPods(j, 0..<2)
                try j.read { r in
                    try r.txn.forEach(j.checksums!) { k, v in stale.append((Array(k), Array(v))); return true }
                    staleMarker = try r.txn.get(j.meta, RowChecksums.markerKey)
                }
                try addPods(j, 2..<4)
                try j.append(del(0))
            }
            // What the older build leaves: checksums and marker as they were before its writes.
            do {
                let env = try LMDBEnvironment(directory: dir)
                let sums = try env.openDatabase(RowChecksums.database, create: false)
                let meta = try env.openDatabase("meta", create: false)
                try env.write { txn in
                    try txn.drop(sums)
                    for (k, v) in stale { try txn.put(sums, k, v) }
                    try txn.put(meta, RowChecksums.markerKey, try #require(staleMarker))
                }
            }
            #expect(try Verifier.run(Journal(stateDir: dir, readOnly: true)).ok, "reads are not checked meanwhile")
            let j = try Journal(stateDir: dir)
            try j.append(del(2))  // pod2's row has no checksum in the stale set: kept anew, not refused
            #expect(try j.read { try RowChecksums.ready($0.txn, meta: j.meta) })
            #expect(try Verifier.run(j).ok)
        }
    }

    // MARK: Meta pages and the file

    @Test(arguments: [
        ("magic of meta page 0", 16, UInt8(0x01), "meta page 0: bad magic"),
        ("format version", 20, UInt8(0x02), "format version"),
        ("transaction id", 144, UInt8(0x01), "transaction id is damaged"),
        ("main database root", 128, UInt8(0x40), "root page"),
        ("last page", 136, UInt8(0x04), "page"),
    ])
    func damagedMetaPageIsRefusedAtOpen(field: String, offset: Int, mask: UInt8, words: String) throws {
        try withCorruptDir { dir in
            let before: MemoryState
            do {
                let j = try Journal(stateDir: dir)
                try addPods(j, 0..<4)
                before = try tables(j)
            }
            // The newest meta page for everything but the magic test (page 0 on purpose).
            let page = offset == 16 ? 0 : try newestMeta(dir).index
            let at = page * 4096 + offset
            try poke(dir, at, [try peek(dir, at, 1)[0] ^ mask])
            for readOnly in [false, true] {
                let message = corruptMessage { _ = try Journal(stateDir: dir, readOnly: readOnly) }
                #expect(message?.contains("is damaged") == true && message?.contains(words) == true,
                        "\(field), readOnly \(readOnly): \(message ?? "opened")")
            }
            let r = try recovered(dir)
            #expect(r.lost.isEmpty, "\(field): \(r.text())")
            let j = try Journal(stateDir: dir)
            #expect(try Verifier.run(j).ok, "\(field)")
            #expect(try tables(j) == before, "\(field): \(r.text())")
        }
    }

    @Test func truncatedDataFileIsRefusedNotAFault() throws {
        try withCorruptDir { dir in
            do { try addPods(Journal(stateDir: dir, policy: RetentionPolicy(snapshotEvery: 0)), 0..<8) }
            let size = try RawFile(path: dir + "/data.mdb").size
            #expect(truncate(dir + "/data.mdb", off_t(size - 3 * 4096)) == 0)
            // liblmdb would die of SIGBUS at the first page past the end.
            let message = corruptMessage { _ = try Journal(stateDir: dir) }
            #expect(message?.contains("it was truncated") == true, "\(message ?? "opened")")
            #expect(corruptMessage { _ = try Journal(stateDir: dir, readOnly: true) } != nil)
            let (structure, _) = StoreCheck.structure(dir)
            #expect(structure.first?.message.contains("truncated") == true)
            let r = try recovered(dir)
            let old = try #require(r.oldHead)
            #expect(r.segment != nil && r.head.seq <= old.seq, "\(r.text())")
            #expect(r.head == old || !r.lost.isEmpty || !r.unreadable.isEmpty, "what is not kept is listed")
            #expect(try Verifier.run(Journal(stateDir: dir, readOnly: true)).ok)
        }
    }

    @Test func emptiedDataFileIsNotAFreshJournal() throws {
        try withCorruptDir { dir in
            do { try addPods(Journal(stateDir: dir), 0..<3) }
            #expect(truncate(dir + "/data.mdb", 0) == 0)
            // liblmdb would start a new, empty journal in it: every address free again.
            let message = corruptMessage { _ = try Journal(stateDir: dir) }
            #expect(message?.contains("data.mdb is empty") == true, "\(message ?? "opened")")
            let refused = try? JournalRecovery.run(dir)
            #expect(refused == nil, "nothing readable: recover builds nothing without --to-seq 0")
            let r = try recovered(dir, toSeq: 0)
            #expect(r.nothingReadable && r.evidence != nil && r.text().contains("LOST: everything"))
            #expect(try Verifier.run(Journal(stateDir: dir)).ok)
        }
    }

    // MARK: B-tree pages (never read by liblmdb afterwards)

    @Test func damagedEventsPageIsNamedAndRecoverRestartsAtASnapshot() throws {
        try withCorruptDir { dir in
            let before: MemoryState
            let oldHead: JournalHead
            do {
                let j = try Journal(stateDir: dir, policy: RetentionPolicy(snapshotEvery: 20, retainEvents: nil))
                for round in 0..<12 {
                    try addPods(j, (round * 4)..<(round * 4 + 4), subnet: "10.30.0.0/24")
                    for n in (round * 4)..<(round * 4 + 2) { try j.append(del(n), sync: false) }
                }
                before = try tables(j)
                oldHead = try j.read { try $0.head() }
            }
            // Zero every page holding event 10 (the live leaf and stale copies): a torn write.
            let file = try RawFile(path: dir + "/data.mdb")
            let data = try #require(file.read(0, file.size))
            let needle = Array(#"{"seq":10,"#.utf8)
            var pages = Set<Int>()
            for i in 0..<(data.count - needle.count) where data[i] == needle[0] && data[i..<(i + needle.count)].elementsEqual(needle) {
                pages.insert(i / 4096)
            }
            #expect(!pages.isEmpty)
            for p in pages { try poke(dir, p * 4096, [UInt8](repeating: 0, count: 4096)) }

            let (structure, _) = StoreCheck.structure(dir)
            #expect(structure.contains { $0.tree == "events" }, "verify names the events tree: \(structure)")
            let plan = try JournalRecovery.plan(dir)
            #expect(plan.analysis.problems.first.map { $0.seq ?? 0 <= 10 } == true, "the first bad seq: \(plan.analysis.problems)")
            let r = try recovered(dir)
            // The newest snapshot after the damage carries the state: nothing of it is lost.
            #expect(r.segment?.fromSnapshot == true && r.head == oldHead, "\(r.text())")
            #expect(r.historyDropped > 0 && r.lost.isEmpty)
            let j = try Journal(stateDir: dir, readOnly: true)
            #expect(try Verifier.run(j).ok)
            #expect(try tables(j) == before)
        }
    }

    @Test func zeroedEventsBranchPageIsRecoveredFromItsLeaves() throws {
        try withCorruptDir { dir in
            let before: MemoryState
            do {
                let j = try Journal(stateDir: dir)
                try addPods(j, 0..<30, subnet: "10.30.0.0/24")
                before = try tables(j)
            }
            let meta = try newestMeta(dir)
            let events = try #require(SalvageSource(store: RawStore(file: try RawFile(path: dir + "/data.mdb"), meta: meta)).databases["events"])
            #expect(events.depth >= 2, "60 events need a branch page")
            // A torn write of the events tree's root: every leaf below it is still on disk.
            try poke(dir, Int(events.root) * 4096, [UInt8](repeating: 0, count: 4096))
            let (structure, _) = StoreCheck.structure(dir)
            #expect(structure.contains { $0.tree == "events" && $0.page == events.root }, "\(structure)")
            let r = try recovered(dir)
            #expect(r.lost.isEmpty && r.unreadable.isEmpty && r.segment?.last == 60, "\(r.text())")
            let j = try Journal(stateDir: dir, readOnly: true)
            #expect(try Verifier.run(j).ok)
            #expect(try tables(j) == before)
        }
    }

    @Test func damagedStateBranchPageIsNamedAndRebuiltFromTheEvents() throws {
        try withCorruptDir { dir in
            let before: MemoryState
            do {
                let j = try Journal(stateDir: dir)
                try addPods(j, 0..<60, subnet: "10.30.0.0/24")
                before = try tables(j)
            }
            let meta = try newestMeta(dir)
            let dbs = SalvageSource(store: RawStore(file: try RawFile(path: dir + "/data.mdb"), meta: meta)).databases
            let root = try #require(dbs["attachments"]).root
            #expect(try #require(dbs["attachments"]).depth >= 2, "60 attachment rows need a branch page")
            try poke(dir, Int(root) * 4096 + 16, [UInt8](repeating: 0xFF, count: 64))
            let (structure, _) = StoreCheck.structure(dir)
            #expect(structure.contains { $0.tree == "attachments" && $0.page == root }, "\(structure)")
            let r = try recovered(dir)
            #expect(r.lost.isEmpty && r.damage.contains { $0.hasPrefix("attachments") }, "\(r.text())")
            let j = try Journal(stateDir: dir, readOnly: true)
            #expect(try Verifier.run(j).ok)
            #expect(try tables(j) == before)
        }
    }

    // MARK: recover itself

    @Test func recoverLeavesAHealthyJournalAloneAndCutsAtToSeq() throws {
        try withCorruptDir { dir in
            do { try addPods(Journal(stateDir: dir), 0..<3) }
            let healthy = try JournalRecovery.run(dir)
            #expect(healthy.healthy && healthy.evidence == nil)
            let cut = try recovered(dir, toSeq: 4)
            #expect(cut.head.seq == 4 && cut.lost.map(\.seq) == [5, 6], "\(cut.text())")
            let j = try Journal(stateDir: dir)
            #expect(try Verifier.run(j).ok)
            #expect(try addPods(j, 5..<6)[5] == "10.30.0.4", "pod2's address is free again after the cut")
        }
    }

    @Test func recoverRefusesWhileAnotherProcessHasTheJournalOpen() throws {
        try withCorruptDir { dir in
            do { try addPods(Journal(stateDir: dir), 0..<2) }
            var fds: [Int32] = [0, 0]
            #expect(pipe(&fds) == 0)
            let child = forkChild {
                guard let j = try? Journal(stateDir: dir, readOnly: true), (try? j.read({ try $0.head() })) != nil else { return 1 }
                var byte: UInt8 = 1
                _ = write(fds[1], &byte, 1)
                pause()
                return 0
            }
            defer { kill(child, SIGKILL); _ = waitChild(child, timeout: 5) }
            var byte: UInt8 = 0
            #expect(read(fds[0], &byte, 1) == 1)
            do {
                _ = try JournalRecovery.run(dir, toSeq: 1)
                Issue.record("recover ran while the journal was open")
            } catch let e as JournalError {
                #expect(e.kind == .busy && e.message.contains("by process \(child)"), "\(e)")
            }
            close(fds[0])
            close(fds[1])
        }
    }
}

// MARK: - A writer killed inside its transaction

/// Runs `body` in a forked child and waits for it; true when the child died of SIGKILL.
private func diesOfSIGKILL(_ body: () -> Int32) -> Bool {
    let child = forkChild(body)
    var status: Int32 = 0
    let deadline = Clock.monotonicNs() + 30_000_000_000
    while waitpid(child, &status, WNOHANG) == 0 {
        if Clock.monotonicNs() > deadline {
            kill(child, SIGKILL)
            _ = waitpid(child, &status, 0)
            return false
        }
        usleep(1000)
    }
    return status & 0x7f == SIGKILL
}

/// The child appends pod 99's request and kills itself before the commit: it dies holding
/// liblmdb's writer lock, with its pages written nowhere.
private func killedWriter(_ dir: String) -> Bool {
    diesOfSIGKILL {
        guard let j = try? Journal(stateDir: dir) else { return 1 }
        _ = try? j.transact(sync: false) { w in
            _ = try w.append(add(99)[0])
            kill(getpid(), SIGKILL)
        }
        return 2
    }
}

@Suite(.serialized) struct KilledWriterTests {
    /// This process keeps the journal open meanwhile, so the lock table survives the kill and the
    /// next writer meets a mutex whose owner died: liblmdb's robust mutex hands it over.
    @Test func lockLeftByAKilledWriterNeedsNoRecoveryWhileOthersHaveItOpen() throws {
        try withCorruptDir { dir in
            let j = try Journal(stateDir: dir)
            try addPods(j, 0..<2)
            let head = try j.read { try $0.head() }
            #expect(killedWriter(dir), "the child died of SIGKILL inside its transaction")
            let start = Clock.monotonicNs()
            let got = try addPods(j, 2..<3)
            #expect(Clock.monotonicNs() - start < 5_000_000_000, "the next writer does not wait for the dead one")
            #expect(got[2] == "10.30.0.4", "the dead transaction allocated nothing: \(got)")
            #expect(try j.read { try $0.head() }.seq == head.seq + 2)
            #expect(try j.read { try $0.attachment(key(99)) } == nil)
            #expect(try Verifier.run(j).ok)
            #expect(try JournalRecovery.run(dir, dryRun: true).healthy, "the journal needs no recovery")
        }
    }

    /// Nobody has the journal open when the writer dies: the next process finds lock.mdb left
    /// behind, takes it exclusively and starts a fresh lock table.
    @Test func lockLeftByAKilledWriterNeedsNoRecoveryWhenAlone() throws {
        try withCorruptDir { dir in
            do { try addPods(Journal(stateDir: dir), 0..<2) }
            #expect(killedWriter(dir))
            #expect(FileManager.default.fileExists(atPath: dir + "/lock.mdb"))
            let j = try Journal(stateDir: dir)
            #expect(try addPods(j, 2..<3)[2] == "10.30.0.4")
            #expect(try j.read { try $0.head() }.seq == 6)
            #expect(try Verifier.run(j).ok)
        }
    }
}

// MARK: - A full disk

/// A tmpfs of `size` on a fresh directory, unmounted (lazily) afterwards.
private func withTinyFileSystem<R>(_ size: String, _ body: (_ mountPoint: String) throws -> R) throws -> R {
    try withCorruptDir { dir in
        let mnt = (dir as NSString).deletingLastPathComponent + "/tmpfs"
        guard mkdir(mnt, 0o700) == 0, mount("tmpfs", mnt, "tmpfs", 0, "size=\(size),mode=0700") == 0 else {
            throw LMDBError(code: errno, op: "mount tmpfs")
        }
        defer { umount2(mnt, Int32(MNT_DETACH)) }
        return try body(mnt)
    }
}

/// Gives the filler's space back. Truncated before it is unlinked: a process forked meanwhile by
/// another test holds its descriptor, and an unlinked but open file keeps its blocks.
private func unfill(_ path: String) {
    truncate(path, 0)
    unlink(path)
}

/// Writes a file until the file system is full.
private func fill(_ path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    defer { close(fd) }
    let chunk = [UInt8](repeating: 0xAB, count: 4096)
    while write(fd, chunk, chunk.count) == chunk.count {}
}

@Suite(.serialized, .enabled(if: geteuid() == 0, "mounts a tmpfs: needs root"))
struct FullDiskTests {
    @Test func fullDiskIsAClearErrorAndLosesNothing() throws {
        try withTinyFileSystem("256k") { mnt in
            let dir = mnt + "/state"
            // A new journal on a full disk: liblmdb's lock table would be a SIGBUS.
            fill(mnt + "/filler")
            do {
                _ = try Journal(stateDir: dir)
                Issue.record("a journal was created on a full file system")
            } catch let e as JournalError {
                #expect(e.kind == .storage && e.message.contains("no space left"), "\(e)")
            }
            unfill(mnt + "/filler")

            let j = try Journal(stateDir: dir)
            try addPods(j, 0..<3)
            let before = try tables(j)
            let head = try j.read { try $0.head() }
            fill(mnt + "/filler")
            var refused = 0
            for n in 3..<6 {
                do { try j.append(add(n)) } catch let e as JournalError {
                    #expect(e.kind == .storage && e.message.contains("no space left"), "\(e)")
                    refused += 1
                }
            }
            #expect(refused == 3, "every ADD on the full disk is refused")
            #expect(try j.read { try $0.head() } == head)
            #expect(try tables(j) == before)
            #expect(try Verifier.run(j).ok)

            unfill(mnt + "/filler")
            #expect(try addPods(j, 3..<4)[3] == "10.30.0.5", "after space is freed the next address is handed out")
            #expect(try Verifier.run(j).ok)
        }
    }
}
