import SkeinJournal

/// AuditRecords (in seq order, the whole history of what is selected — not cut to the time range:
/// the renderer clips, and needs an attachment's start to draw it) → TimelineEvents.
func timelineEvents(_ records: [AuditRecord], ipLanes: Bool) -> [TimelineEvent] {
    var attached = Set<String>()            // keys whose addApplied was seen and that have not ended
    var out: [TimelineEvent] = []
    for r in records {
        guard let key = r.key else { continue }   // gcRequested: its releases follow as deleted/cause gc
        let kind: TimelineEvent.Kind
        switch (r.outcome, r.cause) {
        case ("applied", _): kind = .attachStart
        case ("deleted", "gc"): kind = .gc
        case ("deleted", "recovery"), ("failed", "recovery"): kind = .crashRecovered
        case ("deleted", _):
            // A DEL of something never applied (crashed or failed ADD) draws no bar; one whose
            // start precedes the records seen (contextKnown false) runs from the left edge.
            guard attached.contains(key) || !r.contextKnown else { continue }
            kind = .attachEnd
        case ("failed", _), ("delete-failed", _): kind = .failure
        case ("refused", _): kind = .refused
        default: continue                     // requested (ADD and DEL)
        }
        if kind == .attachStart { attached.insert(key) }
        if kind == .attachEnd || kind == .gc || kind == .crashRecovered { attached.remove(key) }

        let cid = String((r.containerID ?? "").prefix(12))
        let label = "\(r.ifname ?? "?") \(cid)"
        let pod = r.namespace.map { "\($0)/\(r.pod ?? "?")" } ?? "container \(cid)"
        var detail = "seq \(r.seq) \(r.type), cause \(r.cause)\npod \(pod)"
        if let uid = r.podUID { detail += " (uid \(uid))" }
        detail += "\ncontainer \(r.containerID ?? "?") \(r.ifname ?? "?") on \(r.network ?? "?")"
        if !r.ips.isEmpty { detail += "\nips " + r.ips.joined(separator: ", ") }
        if let mac = r.mac { detail += "\nmac " + mac }
        if let code = r.code { detail += "\ncode \(code)" + (r.message.map { ": " + $0 } ?? "") }
        else if let m = r.message { detail += "\n" + m }
        if let ms = r.durationMs { detail += "\ntook \(ms) ms" }
        detail += "\nnode \(r.node)"

        if ipLanes {
            // One lane per address of the pool ("network ip"); a record without addresses
            // (a refusal) goes to the network's own lane.
            let ips = r.ips.map { String($0.split(separator: "/").first ?? Substring($0)) }
            for ip in ips.isEmpty ? ["(no address)"] : ips {
                out.append(TimelineEvent(lane: "\(r.network ?? "?") \(ip)", timeNs: r.timeNs, kind: kind, label: label, detail: detail))
            }
        } else {
            out.append(TimelineEvent(lane: pod, timeNs: r.timeNs, kind: kind, label: label, detail: detail))
        }
    }
    return out
}
