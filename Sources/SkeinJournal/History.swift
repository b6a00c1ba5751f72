import Glibc
import SkeinModel

// The attachment history: the journal's events turned, one by one and in order, into lifecycle
// records a person or an auditor reads (who, where, which IPs, what happened, how long). Read-only
// and streaming: one read transaction, one event decoded at a time, and only a small map of the
// attachments that are alive at that point of the history (outcome events name only the key, so
// their pod and IPs come from the request that opened the lifecycle).

/// One attachment lifecycle event, as exported and explained. `raw` is the stored record itself, so
/// the fields can be re-derived and checked against `hash` without the journal.
public struct AuditRecord: Equatable, Sendable {
    public var seq: UInt64
    /// Seq of the record before this one in the same export (0 for the first); set by the exporter,
    /// so a verifier can tell a dropped record from a filtered-out one.
    public var exportPrev: UInt64 = 0
    public var hash: String
    public var prev: String
    public var timeNs: Int64
    public var node: String
    /// The event type, or "gc" for gcRequested.
    public var type: String
    public var cause: String = "request"
    public var namespace: String?
    public var pod: String?
    public var podUID: String?
    public var containerID: String?
    public var ifname: String?
    public var network: String?
    /// CIDR text ("10.1.2.3/24"), as the decision allocated them.
    public var ips: [String] = []
    public var mac: String?
    /// requested | applied | failed | deleted | delete-failed | gc | refused
    public var outcome: String = ""
    public var code: Int?
    public var message: String?
    public var durationMs: Int?
    /// gc: the stale keys ("cid/ifname").
    public var keys: [String] = []
    public var raw: [UInt8]
    /// False when the fields an outcome inherits (network, pod, ips, mac) were unknown because the
    /// event that opened the lifecycle was not seen (a filtered export being verified).
    public var contextKnown = true

    public var time: String { Timestamp.rfc3339(timeNs) }
    public var key: String? { containerID.map { $0 + "/" + (ifname ?? "") } }

    public init(seq: UInt64, hash: String, prev: String, timeNs: Int64, node: String, type: String, raw: [UInt8]) {
        self.seq = seq
        self.hash = hash
        self.prev = prev
        self.timeNs = timeNs
        self.node = node
        self.type = type
        self.raw = raw
    }

    /// Whether one of the record's IPs has this address (prefix length ignored).
    public func hasIP(_ ip: IPAddress) -> Bool {
        ips.contains { cidr in IPNetwork(cidr)?.address == ip }
    }
}

/// What the history knows about a live attachment: enough to fill in its outcome records.
public struct KeyContext: Equatable, Sendable {
    public enum Phase: Sendable { case adding, active, failed, deleting }
    public var network: String
    public var pod: PodRef?
    public var ips: [String]
    public var mac: String?
    public var requestSeq: UInt64
    public var phase: Phase
}

/// Turns records into AuditRecords, keeping the context of live attachments only: an entry is
/// dropped when its lifecycle ends (delApplied, or addFailed that released everything), mirroring
/// the reducer, so memory is bounded by the attachments alive at that point, not by history.
public struct HistoryTracker {
    public private(set) var live: [AttachmentKey: KeyContext] = [:]
    /// A refused request's addFailed follows it in the same transaction: its context for that one.
    private var refused: (seq: UInt64, key: AttachmentKey, network: String, pod: PodRef?)?
    public let node: String

    public init(node: String) { self.node = node }

    public func context(_ key: AttachmentKey) -> KeyContext? { live[key] }

    /// After retention pruned the events that opened them, the attachments alive at the first kept
    /// event are known from the snapshot stored with it: their context comes from its rows.
    public mutating func seed(from snapshot: Snapshot) {
        for rec in snapshot.state.attachmentRecords {
            let phase: KeyContext.Phase
            switch rec.status {
            case .adding: phase = .adding
            case .active: phase = .active
            case .failed: phase = .failed
            case .deleting: phase = .deleting
            }
            let mac = rec.spec.links.first { $0.kind == .vethPeer }?.mac?.description
            live[rec.key] = KeyContext(network: rec.network, pod: rec.pod, ips: rec.addresses.map(\.address.description),
                                       mac: mac, requestSeq: rec.requestSeq, phase: phase)
        }
    }

    /// nil for events that belong to no attachment (snapshots, pruning).
    public mutating func derive(_ rec: EventRecord, hash: String, raw: [UInt8]) -> AuditRecord? {
        var a = AuditRecord(seq: rec.seq, hash: hash, prev: rec.prev, timeNs: rec.timeNs, node: node,
                            type: rec.event.typeName, raw: raw)
        switch rec.event {
        case .addRequested(let r): requested(r, seq: rec.seq, into: &a)
        case .addApplied(let o):
            outcome(o, "applied", into: &a)
            if answers(o) { live[o.key]?.phase = .active }
        case .addFailed(let o):
            outcome(o, "failed", into: &a)
            if answers(o) {
                if o.released { live[o.key] = nil } else { live[o.key]?.phase = .failed }
            }
        case .delRequested(let d):
            setKey(d.key, into: &a)
            a.cause = d.cause.rawValue
            a.outcome = "requested"
            fill(live[d.key], into: &a)
            live[d.key]?.phase = .deleting
        case .delApplied(let o):
            outcome(o, "deleted", into: &a)
            if live[o.key]?.phase == .deleting { live[o.key] = nil }
        case .delFailed(let o): outcome(o, "delete-failed", into: &a)
        case .gcRequested(let g):
            a.type = "gc"
            a.cause = "gc"
            a.outcome = "gc"
            a.keys = g.stale.map(\.description)
        default: return nil
        }
        return a
    }

    private mutating func requested(_ r: AddRequested, seq: UInt64, into a: inout AuditRecord) {
        setKey(r.key, into: &a)
        a.network = r.network
        setPod(r.pod, into: &a)
        if let refusal = r.refusal {
            a.outcome = "refused"
            a.code = refusal.code
            a.message = refusal.message
            refused = (seq, r.key, r.network, r.pod)
            return
        }
        a.outcome = "requested"
        guard let d = r.decision else { return }
        a.ips = d.addresses.map(\.address.description)
        // The container end is the MAC the pod sees (the host end's is only ours).
        a.mac = d.spec.links.first { $0.namespace == .container && $0.mac != nil }?.mac?.description
        live[r.key] = KeyContext(network: r.network, pod: r.pod, ips: a.ips, mac: a.mac, requestSeq: seq, phase: .adding)
    }

    private mutating func outcome(_ o: Outcome, _ word: String, into a: inout AuditRecord) {
        setKey(o.key, into: &a)
        a.cause = o.cause.rawValue
        a.outcome = word
        a.code = o.code
        a.message = o.message
        a.durationMs = o.durationMs
        if let r = refused, let rs = o.requestSeq, rs == r.seq, r.key == o.key {
            // The answer to a refused duplicate: its own pod, none of the live attachment's IPs.
            a.network = r.network
            setPod(r.pod, into: &a)
            refused = nil
            return
        }
        fill(live[o.key], into: &a)
    }

    /// Mirrors the reducer: an ADD outcome answers only the ADD in progress it names.
    private func answers(_ o: Outcome) -> Bool {
        guard let c = live[o.key], c.phase == .adding else { return false }
        return o.requestSeq == nil || o.requestSeq == c.requestSeq
    }

    private func fill(_ c: KeyContext?, into a: inout AuditRecord) {
        guard let c else { a.contextKnown = false; return }
        a.network = c.network
        setPod(c.pod, into: &a)
        a.ips = c.ips
        a.mac = c.mac
    }

    private func setKey(_ k: AttachmentKey, into a: inout AuditRecord) {
        a.containerID = k.containerID
        a.ifname = k.ifname
    }

    private func setPod(_ p: PodRef?, into a: inout AuditRecord) {
        a.namespace = p?.namespace
        a.pod = p?.name
        a.podUID = p?.uid
    }
}

public struct HistoryError: Error, CustomStringConvertible {
    public let seq: UInt64
    public let message: String
    public var description: String { "event \(seq): \(message)" }
}

public enum History {
    static let gcTag = Array("\"type\":\"gcRequested\"".utf8)
    /// The node name for records: `--node`, else the host name.
    public static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "" }
        return String(cString: buf)
    }

    /// Streams every event from `from` in one read transaction. `prefilter` sees the raw bytes in
    /// LMDB's buffer (no copy) and may skip the event without decoding it; skipped events do not
    /// reach the tracker, so a prefilter must pass every event of the keys the caller cares about.
    /// `progress` is called every 65,536 events with the current seq. `body` also gets the tracker
    /// as it is after this event.
    public static func stream(_ journal: Journal, tracker: inout HistoryTracker, from: UInt64 = 1,
                              prefilter: ((UnsafeRawBufferPointer) -> Bool)? = nil,
                              progress: ((UInt64) -> Void)? = nil,
                              _ body: (AuditRecord, HistoryTracker) throws -> Bool) throws {
        try journal.read { r in
            // A pruned journal starts at a snapshot: what was alive then comes from its rows.
            if let first = try r.firstSeq(), first > 1, from <= first, let snap = try r.snapshot(at: first) {
                tracker.seed(from: snap)
            }
            try r.forEachEvent(from: from) { seq, raw in
                if seq & 0xFFFF == 0 { progress?(seq) }
                if let prefilter, !prefilter(raw) { return true }
                let bytes = Array(raw)
                let rec: EventRecord
                do { rec = try EventRecord.decode(bytes) } catch {
                    throw HistoryError(seq: seq, message: "does not decode: \(error)")
                }
                let hash = SHA256.hex(SHA256.hash(bytes))
                guard let record = tracker.derive(rec, hash: hash, raw: bytes) else { return true }
                return try body(record, tracker)
            }
        }
    }

    /// The last seq whose event is at or before `timeNs` (0: none), reading only each record's
    /// "time" field. Stops at the first later event: the state at a time is a prefix of the log.
    public static func seq(atOrBefore timeNs: Int64, in journal: Journal) throws -> UInt64 {
        try journal.read { r in
            var last: UInt64 = 0
            try r.forEachEvent { seq, raw in
                guard let t = recordTime(raw) else { throw HistoryError(seq: seq, message: "no time field") }
                if t > timeNs { return false }
                last = seq
                return true
            }
            return last
        }
    }

    /// The "time" member of a record, which the encoder writes near the start (fixed field order).
    static func recordTime(_ raw: UnsafeRawBufferPointer) -> Int64? {
        let tag = Array("\"time\":".utf8)
        guard let at = ByteSearch.find(tag, in: UnsafeRawBufferPointer(rebasing: raw.prefix(128))) else { return nil }
        var i = at + tag.count
        var negative = false
        if i < raw.count, raw[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var v: Int64 = 0
        var digits = 0
        while i < raw.count, raw[i] >= 0x30, raw[i] <= 0x39, digits < 19 {
            v = v * 10 + Int64(raw[i] - 0x30)
            i += 1
            digits += 1
        }
        return digits == 0 ? nil : (negative ? -v : v)
    }
}

/// Substring search in a raw buffer (memmem: no copy, no decoding).
public enum ByteSearch {
    public static func find(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        guard !needle.isEmpty else { return 0 }
        guard let base = haystack.baseAddress, haystack.count >= needle.count else { return nil }
        return needle.withUnsafeBytes { n -> Int? in
            // memchr for the first byte, memcmp for the rest (Glibc's module does not export memmem).
            let first = Int32(needle[0])
            var at = 0
            let lastStart = haystack.count - needle.count
            while at <= lastStart {
                guard let hit = memchr(base + at, first, lastStart - at + 1) else { return nil }
                let i = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + i, n.baseAddress!, n.count) == 0 { return i }
                at = i + 1
            }
            return nil
        }
    }

    public static func contains(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Bool {
        find(needle, in: haystack) != nil
    }

    /// The first `"containerID":"…"` value of a record, quotes included (as `jsonValue` gives it).
    public static func containerID(in raw: UnsafeRawBufferPointer) -> [UInt8]? {
        guard let at = find(containerIDTag, in: raw) else { return nil }
        var i = at + containerIDTag.count
        guard i < raw.count, raw[i] == 0x22 else { return nil }
        i += 1
        // Container IDs have no quotes or backslashes (CNI restricts them), so the next quote ends it.
        while i < raw.count, raw[i] != 0x22 { i += 1 }
        guard i < raw.count else { return nil }
        return Array(raw[(at + containerIDTag.count)...i])
    }

    static let containerIDTag = Array("\"containerID\":".utf8)

    /// The bytes a string value takes inside a stored record (JSON-escaped, quoted).
    public static func jsonValue(_ s: String) -> [UInt8] { JSON.string(s).serializedBytes() }
}
