import SkeinModel

// `explain TARGET`: the history of one attachment, container, pod or IP address. Matching is made
// cheap by a byte search in LMDB's buffer before anything is decoded: an event is decoded only if
// its raw bytes contain every part of the target, or the container ID of an attachment that has
// already matched (its outcomes name only the key, not the pod or the IPs).

public struct ExplainTarget: Sendable {
    public let text: String
    let ip: IPAddress?
    let pair: (String, String)?

    /// `cid/ifname` or `namespace/name` (both are tried), an IP address, or a container ID or pod UID.
    public init(_ text: String) {
        self.text = text
        ip = IPAddress(text)
        if ip == nil, let slash = text.firstIndex(of: "/") {
            pair = (String(text[..<slash]), String(text[text.index(after: slash)...]))
        } else {
            pair = nil
        }
    }

    /// Byte strings a stored record must all contain to be worth decoding: whole JSON string
    /// values (quotes included), so a short ID does not match inside every hex name and MAC. An
    /// address is stored as "ip/len" (decisions, results) or "ip" (requested IPs): the opening
    /// quote is enough.
    var needles: [[UInt8]] {
        if let ip { return [[0x22] + Array(ip.description.utf8)] }
        if let pair { return [ByteSearch.jsonValue(pair.0), ByteSearch.jsonValue(pair.1)] }
        return [ByteSearch.jsonValue(text)]
    }

    /// The exact test on a decoded record (the byte search only ruled records out).
    public func matches(_ r: AuditRecord) -> Bool {
        if let ip { return r.hasIP(ip) }
        if let (a, b) = pair {
            return (r.containerID == a && r.ifname == b) || (r.namespace == a && r.pod == b)
        }
        return r.containerID == text || r.podUID == text
    }
}

public struct ExplainStats: Sendable {
    public var matched = 0
    /// Events whose bytes passed the byte search and were decoded (for the benchmark and tests).
    public var decoded = 0
}

extension History {
    /// Calls `body` with every record of the target's history, in order.
    @discardableResult
    public static func explain(_ journal: Journal, target: ExplainTarget, node: String,
                               progress: ((UInt64) -> Void)? = nil,
                               _ body: (AuditRecord) throws -> Void) throws -> ExplainStats {
        var tracker = HistoryTracker(node: node)
        var stats = ExplainStats()
        let needles = target.needles
        // Container IDs of matched attachments (their outcomes name only the key), looked up by
        // the first "containerID" in the raw bytes: one search per event however many matched.
        var followed = Set<[UInt8]>()
        var matchedKeys = Set<String>()
        let prefilter = { (raw: UnsafeRawBufferPointer) -> Bool in
            if needles.allSatisfy({ ByteSearch.contains($0, in: raw) }) { return true }
            if followed.isEmpty { return false }
            if let cid = ByteSearch.containerID(in: raw), followed.contains(cid) { return true }
            // A GC lists several keys: look for each followed ID (GC events are rare).
            return ByteSearch.contains(History.gcTag, in: raw) && followed.contains { ByteSearch.contains($0, in: raw) }
        }
        try stream(journal, tracker: &tracker, prefilter: prefilter, progress: progress) { r, tracker in
            stats.decoded += 1
            let hit: Bool
            if r.type == "gc" {
                hit = r.keys.contains { matchedKeys.contains($0) }
            } else {
                hit = target.matches(r)
            }
            guard hit else { return true }
            if let key = r.key, let cid = r.containerID {
                // Followed while alive: memory stays bounded by the target's live attachments even
                // when an address passed through a million pods. A later ADD of the same key
                // matches by its own bytes again.
                let ended = (r.type == "delApplied" || r.type == "addFailed") && tracker.context(AttachmentKey(containerID: cid, ifname: r.ifname ?? "")) == nil
                if ended {
                    matchedKeys.remove(key)
                    if !matchedKeys.contains(where: { $0.hasPrefix(cid + "/") }) { followed.remove(ByteSearch.jsonValue(cid)) }
                } else if matchedKeys.insert(key).inserted {
                    followed.insert(ByteSearch.jsonValue(cid))
                }
            }
            stats.matched += 1
            try body(r)
            return true
        }
        return stats
    }
}
