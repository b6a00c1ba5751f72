import Foundation
import Glibc
import SkeinModel
import SkeinReducer
@testable import SkeinJournal
import Testing

// The history layer on synthesized journals (the journal decides every ADD, as in the field):
// lifecycle records, explain by each kind of target, replay at a time, the audit export in both
// formats and its verification — including the tampering it must catch — and bounded memory.

// MARK: - Helpers (copied from JournalTests, with pods)

private func withJournalDir<R>(_ body: (_ stateDir: String) throws -> R) throws -> R {
    var template = Array("/tmp/skein-history-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw LMDBError(code: errno, op: "mkdtemp") }
    let dir = String(cString: made)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir + "/state")
}

private let plugin = try! JSON.parse(
    #"{"cniVersion":"1.0.0","name":"blue","type":"bridge","bridge":"br-blue","ipam":{"type":"host-local","subnet":"10.10.0.0/16"}}"#)

private func key(_ cid: String) -> AttachmentKey { AttachmentKey(containerID: cid, ifname: "net1") }

private func addReq(_ cid: String, pod: String? = nil) -> Event {
    let ref = pod.map { PodRef(namespace: "ns1", name: $0, uid: "uid-" + $0) }
    return .addRequested(AddRequested(key: key(cid), network: "blue", netns: "/var/run/netns/\(cid)", pod: ref,
                                      process: ProcessRef(pid: 1, startTime: 2), plugin: plugin, requestedIPs: []))
}

private func delReq(_ cid: String, cause: EventCause = .request) -> Event {
    .delRequested(DelRequested(key: key(cid), cause: cause, process: ProcessRef(pid: 3, startTime: 4)))
}

/// The scenario every test reads: c1 a whole lifecycle; c2 fails; c3 applied, a refused duplicate
/// ADD, then released by GC; c4 crashed during ADD and recovered by its DEL. Each append is its own
/// transaction (its own time). Returns the seqs of c1's four events.
@discardableResult
private func scenario(_ j: Journal) throws -> [UInt64] {
    var seqs: [UInt64] = []
    @discardableResult func add(_ e: Event) throws -> UInt64 { try j.append([e])[0].record.seq }
    seqs.append(try add(addReq("c1", pod: "p1")))
    seqs.append(try add(.addApplied(Outcome(key: key("c1"), requestSeq: seqs[0], durationMs: 12))))
    let c2 = try add(addReq("c2", pod: "p2"))
    try add(.addFailed(Outcome(key: key("c2"), requestSeq: c2, code: 7, message: "boom, \"quoted\"\nsecond line",
                               released: true, durationMs: 3)))
    let c3 = try add(addReq("c3", pod: "p3"))
    try add(.addApplied(Outcome(key: key("c3"), requestSeq: c3)))
    let dup = try add(addReq("c3", pod: "p3"))
    try add(.addFailed(Outcome(key: key("c3"), requestSeq: dup, code: 11, message: "already attached")))
    seqs.append(try add(delReq("c1")))
    seqs.append(try add(.delApplied(Outcome(key: key("c1"), durationMs: 30))))
    try add(.gcRequested(GCRequested(valid: [], stale: [key("c3")])))
    try add(delReq("c3", cause: .gc))
    try add(.delApplied(Outcome(key: key("c3"), cause: .gc)))
    let c4 = try add(addReq("c4", pod: "p4"))
    try add(.addFailed(Outcome(key: key("c4"), requestSeq: c4, cause: .recovery, message: "interrupted")))
    try add(delReq("c4"))
    try add(.delApplied(Outcome(key: key("c4"))))
    return seqs
}

private func records(_ j: Journal) throws -> [AuditRecord] {
    var tracker = HistoryTracker(node: "node-a")
    var out: [AuditRecord] = []
    try History.stream(j, tracker: &tracker) { r, _ in out.append(r); return true }
    return out
}

private func explain(_ j: Journal, _ target: String) throws -> [AuditRecord] {
    var out: [AuditRecord] = []
    try History.explain(j, target: ExplainTarget(target), node: "n") { out.append($0) }
    return out
}

private func export(_ j: Journal, _ format: AuditFormat, _ filter: AuditFilter = AuditFilter()) throws -> String {
    var bytes: [UInt8] = []
    try History.export(j, filter: filter, format: format, node: "node-a") { bytes += $0 }
    return String(decoding: bytes, as: UTF8.self)
}

private func verify(_ text: String, chunk: Int = 7) -> AuditProblem? {
    var v = AuditVerifier()
    let bytes = Array(text.utf8)
    var i = 0
    // Small chunks: a record split across reads must not matter.
    while i < bytes.count {
        let end = min(i + chunk, bytes.count)
        bytes[i..<end].withUnsafeBytes { v.feed($0) }
        i = end
    }
    return v.finish()
}

@Suite struct HistoryTests {}

// MARK: - Records

extension HistoryTests {
    @Test func lifecycleRecordsCarryTheirFields() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            try scenario(j)
            let recs = try records(j)
            #expect(recs.count == 17)
            #expect(recs.map(\.seq) == Array(1...17))
            let raw = try j.read { r -> [UInt8] in
                var b: [UInt8] = []
                try r.forEachEvent { _, v in b = Array(v); return false }
                return b
            }
            let req = recs[0]
            #expect(req.raw == raw && req.hash == SHA256.hex(SHA256.hash(raw)) && req.prev == EventRecord.genesisHash)
            #expect(recs[1].prev == req.hash)
            #expect(req.type == "addRequested" && req.outcome == "requested" && req.cause == "request")
            #expect(req.namespace == "ns1" && req.pod == "p1" && req.podUID == "uid-p1" && req.node == "node-a")
            #expect(req.containerID == "c1" && req.ifname == "net1" && req.network == "blue")
            #expect(req.ips.count == 1 && req.ips[0].hasPrefix("10.10.") && req.ips[0].hasSuffix("/16"))
            #expect(req.mac.map { MACAddress($0) != nil } == true)
            #expect(req.time.hasSuffix("Z") && Timestamp.parse(req.time) == req.timeNs)
            let applied = recs[1]
            #expect(applied.outcome == "applied" && applied.ips == req.ips && applied.mac == req.mac)
            #expect(applied.pod == "p1" && applied.durationMs == 12)
            let failed = recs[3]
            #expect(failed.outcome == "failed" && failed.code == 7 && failed.message?.hasPrefix("boom") == true)
            #expect(failed.pod == "p2" && !failed.ips.isEmpty)
            let refused = recs[6]
            #expect(refused.outcome == "refused" && refused.code != nil && refused.ips.isEmpty)
            #expect(recs[7].outcome == "failed" && recs[7].code == 11 && recs[7].ips.isEmpty)
            #expect(recs[9].outcome == "deleted" && recs[9].ips == req.ips && recs[9].durationMs == 30)
            let gc = recs[10]
            #expect(gc.type == "gc" && gc.outcome == "gc" && gc.keys == ["c3/net1"] && gc.containerID == nil)
            #expect(recs[11].cause == "gc" && recs[12].outcome == "deleted" && recs[12].cause == "gc" && recs[12].pod == "p3")
            #expect(recs[14].cause == "recovery" && recs[14].outcome == "failed" && recs[14].pod == "p4")
            #expect(recs[16].outcome == "deleted" && recs[16].ips == recs[13].ips)
        }
    }

    @Test func liveMapForgetsEndedLifecycles() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            try scenario(j)
            var tracker = HistoryTracker(node: "n")
            try History.stream(j, tracker: &tracker) { _, _ in true }
            #expect(tracker.live.isEmpty, "\(tracker.live.keys)")
        }
    }
}

// MARK: - Explain

extension HistoryTests {
    @Test func explainByEveryKindOfTarget() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            let c1 = try scenario(j)
            let ip = try records(j)[0].ips[0].split(separator: "/")[0]
            #expect(try explain(j, "c1/net1").map(\.seq) == c1)
            #expect(try explain(j, "c1").map(\.seq) == c1)
            #expect(try explain(j, "ns1/p1").map(\.seq) == c1)
            #expect(try explain(j, "uid-p1").map(\.seq) == c1)
            #expect(try explain(j, String(ip)).map(\.seq) == c1)
            // c3: applied, the refused duplicate, and the GC that released it.
            #expect(try explain(j, "ns1/p3").map(\.outcome) == ["requested", "applied", "refused", "failed", "gc", "requested", "deleted"])
            // c4: crashed ADD, recovered by the DEL.
            #expect(try explain(j, "c4").map(\.cause) == ["request", "recovery", "request", "request"])
            #expect(try explain(j, "nobody").isEmpty)
            #expect(try explain(j, "10.99.0.1").isEmpty)
        }
    }

    @Test func explainDecodesOnlyCandidates() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            try scenario(j)
            var noise: [Event] = []
            for i in 0..<200 { noise += [addReq("x\(i)", pod: "q\(i)"), delReq("x\(i)"), .delApplied(Outcome(key: key("x\(i)")))] }
            try j.append(noise, sync: false)
            let stats = try History.explain(j, target: ExplainTarget("ns1/p1"), node: "n") { _ in }
            #expect(stats.matched == 4)
            #expect(stats.decoded < 20, "decoded \(stats.decoded) of \(17 + noise.count)")
        }
    }
}

// MARK: - Time

extension HistoryTests {
    @Test func timestampsFormatAndParse() {
        #expect(Timestamp.rfc3339(0) == "1970-01-01T00:00:00.000000000Z")
        #expect(Timestamp.rfc3339(1_764_424_980_123_456_789) == "2025-11-29T14:03:00.123456789Z")
        #expect(Timestamp.rfc3339(951_782_400_000_000_000) == "2000-02-29T00:00:00.000000000Z")
        #expect(Timestamp.rfc3339(-1) == "1969-12-31T23:59:59.999999999Z")
        #expect(Timestamp.parse("2025-11-29T14:03:00Z") == 1_764_424_980_000_000_000)
        #expect(Timestamp.parse("2025-11-29T16:03:00.5+02:00") == 1_764_424_980_500_000_000)
        #expect(Timestamp.parse("1764424980") == 1_764_424_980_000_000_000)
        #expect(Timestamp.parse("1764424980.25") == 1_764_424_980_250_000_000)
        #expect(Timestamp.parse("2025-13-01T00:00:00Z") == nil)
        #expect(Timestamp.parse("yesterday") == nil)
        for ns: Int64 in [1, 999_999_999, 1_764_424_980_123_456_789, 4_102_444_800_000_000_000] {
            #expect(Timestamp.parse(Timestamp.rfc3339(ns)) == ns)
        }
    }

    @Test func base64RoundTripsAndIsStrict() {
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode(Array("fooba".utf8)) == "Zm9vYmE=")
        #expect(Base64.encode(Array("foob".utf8)) == "Zm9vYg==")
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.decode("Zm9vYh==") == nil)   // non-zero unused bits: not canonical
        #expect(Base64.decode("Zm9v!mFy") == nil)
    }

    @Test func replayAtTimeBoundaries() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            try scenario(j)
            let recs = try records(j)
            #expect(try History.seq(atOrBefore: recs[0].timeNs - 1, in: j) == 0)
            #expect(try History.seq(atOrBefore: recs[0].timeNs, in: j) == 1)
            #expect(try History.seq(atOrBefore: recs[5].timeNs - 1, in: j) == 5)
            #expect(try History.seq(atOrBefore: recs[5].timeNs, in: j) == 6)
            #expect(try History.seq(atOrBefore: Int64.max, in: j) == 17)
            // After seq 6 c1 and c3 are attached; after 10 only c3.
            let at6 = try Verifier.run(j, upTo: History.seq(atOrBefore: recs[5].timeNs, in: j))
            #expect(at6.replayed.attachmentRecords.map(\.key.containerID) == ["c1", "c3"])
            let at10 = try Verifier.run(j, upTo: History.seq(atOrBefore: recs[9].timeNs, in: j))
            #expect(at10.replayed.attachmentRecords.map(\.key.containerID) == ["c3"])
        }
    }
}

// MARK: - Export and verify

extension HistoryTests {
    @Test func exportRoundTripsInBothFormats() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            try scenario(j)
            var want = try records(j)
            for i in want.indices { want[i].exportPrev = i == 0 ? 0 : want[i - 1].seq }
            for format in [AuditFormat.jsonl, .csv] {
                let text = try export(j, format)
                var reader = AuditReader()
                var got: [AuditLine] = []
                try Array(text.utf8).withUnsafeBytes { buf in try reader.feed(buf) { got.append($0) } }
                try reader.finish { got.append($0) }
                #expect(reader.format == format)
                #expect(got.count == want.count)
                for (line, rec) in zip(got, want) {
                    #expect(AuditFormat.columns.map { line.fields[$0] ?? "?" } == rec.columns, "\(format) seq \(rec.seq)")
                }
                #expect(verify(text) == nil, "\(format): \(String(describing: verify(text)))")
            }
            let csv = try export(j, .csv)
            #expect(csv.hasPrefix("seq,exportPrev,hash,prev,time,"))
            #expect(csv.contains("\"boom, \"\"quoted\"\"\nsecond line\""))
        }
    }

    @Test func exportFilters() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            let c1 = try scenario(j)
            let recs = try records(j)
            let ip = IPAddress(String(recs[0].ips[0].split(separator: "/")[0]))
            func seqs(_ f: AuditFilter) throws -> [UInt64] {
                try export(j, .jsonl, f).split(separator: "\n").map {
                    UInt64(try JSON.parse(String($0), limits: .stored)["seq"]!.uint64!)
                }
            }
            #expect(try seqs(AuditFilter(namespace: "ns1", pod: "p1")) == c1)
            #expect(try seqs(AuditFilter(ip: ip)) == c1)
            #expect(try seqs(AuditFilter(pod: "p3")) == [5, 6, 7, 8, 11, 12, 13])
            #expect(try seqs(AuditFilter(since: recs[13].timeNs)) == [14, 15, 16, 17])
            #expect(try seqs(AuditFilter(until: recs[1].timeNs)) == [1, 2])
            #expect(try seqs(AuditFilter(network: "red")) == [])
            // A filtered export verifies on its own too.
            #expect(verify(try export(j, .csv, AuditFilter(pod: "p3"))) == nil)
            #expect(verify(try export(j, .jsonl, AuditFilter(since: recs[13].timeNs))) == nil)
        }
    }

    @Test func auditVerifyCatchesTampering() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            try scenario(j)
            let lines = try export(j, .jsonl).split(separator: "\n").map(String.init)
            let ip = try records(j)[0].ips[0]
            func tampered(_ i: Int, _ edit: (String) -> String) -> AuditProblem? {
                var l = lines
                l[i] = edit(l[i])
                #expect(l[i] != lines[i], "the edit changed nothing")
                return verify(l.joined(separator: "\n") + "\n")
            }
            // A changed IP, on the request and on an outcome (inherited from the request).
            let p1 = tampered(0) { $0.replacingOccurrences(of: "\"\(ip)\"", with: "\"10.10.9.9/16\"") }
            #expect(p1?.line == 1 && p1?.seq == 1 && p1?.message.contains("ips") == true, "\(String(describing: p1))")
            let p2 = tampered(9) { $0.replacingOccurrences(of: "\"\(ip)\"", with: "\"10.10.9.9/16\"") }
            #expect(p2?.line == 10 && p2?.seq == 10, "\(String(describing: p2))")
            // A changed raw byte (the hash no longer matches), and a changed hash.
            let p3 = tampered(2) { line in
                let obj = try! JSON.parse(line, limits: .stored)
                var raw = Base64.decode(obj["raw"]!.string!)!
                raw[raw.count / 2] ^= 0x01
                return line.replacingOccurrences(of: obj["raw"]!.string!, with: Base64.encode(raw))
            }
            #expect(p3?.line == 3 && p3?.message.contains("SHA-256") == true, "\(String(describing: p3))")
            let p4 = tampered(4) { line in
                let h = try! JSON.parse(line, limits: .stored)["hash"]!.string!
                return line.replacingOccurrences(of: h, with: String(h.dropLast()) + (h.last == "0" ? "1" : "0"))
            }
            #expect(p4?.line == 5 && p4?.seq == 5, "\(String(describing: p4))")
            // The error message and the outcome are fields too.
            #expect(tampered(3) { $0.replacingOccurrences(of: "boom", with: "fine") }?.seq == 4)
            #expect(tampered(1) { $0.replacingOccurrences(of: "\"applied\"", with: "\"failed\"") }?.seq == 2)
            // A dropped record between consecutive seqs.
            var dropped = lines
            dropped.remove(at: 5)
            let p5 = verify(dropped.joined(separator: "\n") + "\n")
            #expect(p5?.line == 6 && p5?.seq == 7 && p5?.message.contains("dropped") == true, "\(String(describing: p5))")
        }
    }

    @Test func auditVerifyCatchesCSVTampering() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            try scenario(j)
            let csv = try export(j, .csv)
            #expect(verify(csv, chunk: 1) == nil)
            let edited = csv.replacingOccurrences(of: ",uid-p2,", with: ",uid-px,")
            #expect(edited != csv)
            let p = verify(edited)
            #expect(p?.seq == 3 && p?.line == 4 && p?.message.contains("podUID") == true, "\(String(describing: p))")
        }
    }

    @Test func exportOfManyEventsKeepsOnlyLiveAttachments() throws {
        try withJournalDir { dir in
            let j = try Journal(stateDir: dir)
            // 50,000 events: 12,500 overlapping lifecycles (m(i-2) is deleted after m(i) is added),
            // so at most 3 attachments are alive at once.
            var batch: [Event] = []
            for i in 0..<12_502 {
                if i < 12_500 {
                    let cid = "m\(i)"
                    batch += [addReq(cid, pod: "pod\(i % 97)"), .addApplied(Outcome(key: key(cid)))]
                }
                if i >= 2 { batch += [delReq("m\(i - 2)"), .delApplied(Outcome(key: key("m\(i - 2)")))] }
                if batch.count >= 2000 { try j.append(batch, sync: false); batch.removeAll() }
            }
            try j.append(batch, sync: false)
            var written = 0
            var bytes = 0
            let stats = try History.export(j, filter: AuditFilter(), format: .jsonl, node: "n") { chunk in
                written += 1
                bytes += chunk.count
            }
            #expect(stats.written == 50_000 && written == 50_000)
            #expect(stats.peakLive <= 3, "peak live attachments \(stats.peakLive)")
            #expect(bytes > 50_000 * 500)
        }
    }
}
