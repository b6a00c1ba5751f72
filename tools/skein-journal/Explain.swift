import Glibc
import SkeinJournal
import SkeinModel

// `explain TARGET`: one target's history as a table for people, or JSON (the export's records).

let explainHelp = """
usage: skein-journal explain TARGET [--state-dir DIR] [--node NAME] [--json]

TARGET is one of:
  cid/ifname        one attachment          (also tried as namespace/name of a pod)
  namespace/name    a pod                   (also tried as cid/ifname)
  CONTAINER_ID      every attachment of a container (also tried as a pod UID)
  POD_UID           a pod by UID
  IP                whoever held the address (10.1.2.3, fd00::4)

Prints, in order: ADD requested (with the IPs allocated and the container MAC), applied, failed
(CNI code and message), DEL requested, deleted, recovered after a crash (cause recovery), released
by GC — each with its time, seq and, for outcomes, how long it took. Events are matched by a byte
search in the stored records first, so only candidate events are decoded.

exit codes: 0 history printed, 1 no event concerns TARGET (or the journal is corrupt), 2 usage,
3 the journal cannot be opened
"""

func explainCommand(_ args: Args) -> Never {
    args.accept(["--state-dir", "--json", "--node"], positional: 1...1, help: explainHelp)
    let target = ExplainTarget(args.words[0])
    let journal = openJournal(args)
    let progress = Progress(verb: "explain")
    var rows: [AuditRecord] = []
    var printedHeader = false
    do {
        try History.explain(journal, target: target, node: args.node, progress: progress.callback) { r in
            if args.json { rows.append(r); return }
            // The table streams: a long history is not collected before the first line shows.
            progress.done()
            if !printedHeader { print(ExplainTable.header); printedHeader = true }
            print(ExplainTable.row(r))
        }
    } catch { progress.done(); fail("\(error)", code: 1) }
    progress.done()
    if args.json {
        // The records keep seq, hash and raw, so any row can be verified like an export's.
        print(JSON.obj([("target", .string(target.text)), ("events", .array(rows.map(\.json)))]).pretty())
    }
    if rows.isEmpty && !printedHeader {
        fputs("skein-journal: no event concerns \"\(target.text)\"\n", stderr)
        exit(1)
    }
    exit(0)
}

enum ExplainTable {
    static let header = pad("TIME (UTC)", 30) + pad("SEQ", 8) + pad("EVENT", 34) + pad("ATTACHMENT", 26)
        + pad("POD", 24) + pad("IPS", 20) + "DURATION"

    static func row(_ r: AuditRecord) -> String {
        let pod = r.pod.map { (r.namespace.map { $0 + "/" } ?? "") + $0 } ?? "-"
        let duration = r.durationMs.map { "\($0) ms" } ?? ""
        var line = pad(r.time, 30) + pad(String(r.seq), 8) + pad(what(r), 34) + pad(r.key ?? "-", 26)
            + pad(pod, 24) + pad(r.ips.isEmpty ? "-" : r.ips.joined(separator: ","), 20) + duration
        if let detail = detail(r) { line += "\n" + String(repeating: " ", count: 38) + detail }
        return line
    }

    /// The event in words, with its cause where that changes the meaning.
    static func what(_ r: AuditRecord) -> String {
        switch (r.type, r.outcome, r.cause) {
        case ("gc", _, _): return "GC: stale attachments"
        case ("addRequested", "refused", _): return "ADD refused"
        case ("addRequested", _, _): return r.ips.isEmpty ? "ADD requested" : "ADD requested, allocated"
        case ("addApplied", _, _): return "ADD applied"
        case ("addFailed", _, "recovery"): return "recovered after a crash (undone)"
        case ("addFailed", _, "rollback"): return "ADD failed, rolled back"
        case ("addFailed", _, _): return "ADD failed"
        case ("delRequested", _, "gc"): return "GC: DEL requested"
        case ("delRequested", _, "recovery"): return "recovery: DEL requested"
        case ("delRequested", _, _): return "DEL requested"
        case ("delApplied", _, "gc"): return "released by GC"
        case ("delApplied", _, _): return "deleted, released"
        case ("delFailed", _, _): return "DEL failed"
        default: return "\(r.type) (\(r.outcome))"
        }
    }

    static func detail(_ r: AuditRecord) -> String? {
        var parts: [String] = []
        if let code = r.code { parts.append("code \(code)") }
        if let m = r.message { parts.append(m) }
        if r.type == "gc" { parts.append("stale: " + r.keys.joined(separator: " ")) }
        if r.outcome == "requested", r.type == "addRequested", let mac = r.mac { parts.append("mac \(mac)") }
        if r.cause != "request", r.type != "gc" { parts.append("cause \(r.cause)") }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
