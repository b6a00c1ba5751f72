import SkeinModel

// The recovery report for people (printed, and kept beside the damaged files) and as JSON. What
// matters most to the operator comes last on screen: what the rebuilt journal no longer knows,
// which is what to check on the node.

extension RecoveryReport {
    public func text() -> String {
        var out = ["skein-journal recover: \(stateDir)"]
        if healthy && evidence == nil {
            out.append("the journal verifies (chain, head, checksums) and its state matches the replay: nothing to recover")
            return out.joined(separator: "\n") + "\n"
        }
        if !damage.isEmpty {
            out.append("found:")
            out += damage.map { "  - " + $0 }
        }
        out.append("read through meta page \(metaPage)")
        out += rebuiltLines()
        out += lostLines()
        out += stateLines()
        if refused {
            out.append("NOTHING WAS BUILT: no event verifies. `recover --to-seq 0` starts an empty journal; every attachment still on the node must then be removed (drain it).")
        } else if let evidence {
            out.append("the damaged files are kept in \(evidence) (data.mdb, lock.mdb, recovery-report.txt)")
        } else {
            out.append("dry run: nothing was changed")
        }
        return out.joined(separator: "\n") + "\n"
    }

    func rebuiltLines() -> [String] {
        var out: [String] = []
        if let s = segment {
            let from = s.fromSnapshot ? "the stored snapshot at event \(s.first), then events \(s.first)…\(s.last)" : "events \(s.first)…\(s.last), a verified chain from event 1"
            out.append("rebuilt from \(from); new head: event \(head.seq) \(head.hash.prefix(16))…")
        } else {
            out.append("rebuilt from nothing: an empty journal")
        }
        out += repairs.map { "repaired event \($0.seq): \($0.note) (it now hashes to what the chain recorded)" }
        if historyDropped > 0 {
            out.append("history not kept: \(historyDropped) readable events before event \(segment?.first ?? 0) (their effect on the state is in the snapshot)")
        }
        return out
    }

    func lostLines() -> [String] {
        if nothingReadable { return ["LOST: everything the damaged journal held (none of it is readable)"] }
        guard !lost.isEmpty || !unreadable.isEmpty else { return ["lost: nothing (every event up to the old head is kept)"] }
        var out = ["LOST — \(lost.count) event(s) after the new head (the rebuilt journal does not know them):"]
        // A long tail is shown by its ends; --json lists every event.
        let shown = lost.count <= 200 ? Array(lost) : Array(lost.prefix(100)) + Array(lost.suffix(100))
        for (i, e) in shown.enumerated() {
            if lost.count > 200 && i == 100 { out.append("  … \(lost.count - 200) more (skein-journal recover --dry-run --json lists them all)") }
            out.append("  " + RecoveryReport.line(e))
        }
        for range in unreadable {
            out.append("  events \(range.lowerBound)…\(range.upperBound): unreadable (on damaged pages, past the end of the file, or reachable only through a damaged meta page)")
        }
        return out
    }

    static func line(_ e: LostEvent) -> String {
        guard let r = e.record else { return "event \(e.seq): \(e.type ?? "?") \(e.problem ?? "")" }
        var words = ["event \(e.seq): \(r.type) \(r.outcome)"]
        if let k = r.key { words.append(k) }
        if let p = r.pod { words.append("pod \(r.namespace.map { $0 + "/" } ?? "")\(p)") }
        if let n = r.network { words.append("network \(n)") }
        if !r.ips.isEmpty { words.append("ips " + r.ips.joined(separator: ",")) }
        if !r.keys.isEmpty { words.append("stale " + r.keys.joined(separator: " ")) }
        return words.joined(separator: "  ")
    }

    func stateLines() -> [String] {
        let attachments = state.attachmentRecords
        var out = ["the rebuilt state holds \(attachments.count) attachment(s):"]
        for a in attachments {
            let ips = a.addresses.map(\.address.description).joined(separator: ",")
            let host = a.spec.links.first { $0.namespace == .host && !$0.shared }?.name
            out.append("  \(a.key)  network=\(a.network) status=\(a.status.rawValue) ips=\(ips.isEmpty ? "-" : ips)"
                + (host.map { " host-link=\($0)" } ?? "") + (a.pod.map { " pod=\($0.namespace)/\($0.name)" } ?? ""))
        }
        if !stateDifferences.isEmpty {
            out.append("the damaged journal's tables differ from the rebuilt state:")
            out += stateDifferences.map { "  " + $0 }
        }
        if !lost.isEmpty || !unreadable.isEmpty || stateDifferences.contains(where: { $0.contains("not by the rebuilt") }) {
            out.append("""
                compare with the node: a pod that the lost events (or the damaged tables) attached may still run, and \
                its addresses are free in the rebuilt journal. For each such pod, delete it (or run CNI DEL for its \
                container) before new pods start on this network; `ip -o link` shows host links the rebuilt state \
                does not list. `skein-journal explain` works on the rebuilt journal and on the kept damaged copy's history.
                """)
        }
        return out
    }

    public var json: JSON {
        func head(_ h: JournalHead?) -> JSON {
            h.map { .obj([("seq", .number(String($0.seq))), ("hash", .string($0.hash))]) } ?? .null
        }
        let lostJSON: [JSON] = lost.map { e in
            .obj([("seq", .number(String(e.seq))), ("type", e.type.map { .string($0) } ?? .null),
                  ("problem", e.problem.map { .string($0) } ?? .null), ("record", e.record?.json ?? .null)])
        }
        return .obj([
            ("stateDir", .string(stateDir)), ("healthy", .bool(healthy)), ("refused", .bool(refused)),
            ("metaPage", .int(metaPage)), ("damage", .array(damage.map { .string($0) })),
            ("segment", segment.map { .obj([("first", .number(String($0.first))), ("last", .number(String($0.last))),
                                            ("fromSnapshot", .bool($0.fromSnapshot))]) } ?? .null),
            ("repairs", .array(repairs.map { .obj([("seq", .number(String($0.seq))), ("note", .string($0.note))]) })),
            ("oldHead", head(oldHead)), ("head", head(self.head)), ("lost", .array(lostJSON)),
            ("unreadable", .array(unreadable.map { .array([.number(String($0.lowerBound)), .number(String($0.upperBound))]) })),
            ("historyDropped", .int(historyDropped)),
            ("attachments", .array(state.attachmentRecords.map(\.json))),
            ("stateDifferences", .array(stateDifferences.map { .string($0) })),
            ("evidence", evidence.map { .string($0) } ?? .null),
        ])
    }
}
