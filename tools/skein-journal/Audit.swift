import Glibc
import SkeinJournal
import SkeinModel

// `audit export` and `audit verify`: the attachment history for auditors, and its check without
// the journal. Both stream: memory is one record plus the live attachments' context.

let auditHelp = """
usage: skein-journal audit export --format jsonl|csv [--since TIME] [--until TIME] [--namespace NS]
                                  [--pod NAME] [--network NET] [--ip IP] [--out FILE] [--node NAME]
                                  [--state-dir DIR]
       skein-journal audit verify FILE [--json]
       skein-journal audit timeline [--by-ip] [--since TIME] [--until TIME] [--namespace NS] [--pod NAME]
                                    [--network NET] [--ip IP] [--out FILE.html] [--state-dir DIR]

export: one record per attachment lifecycle event (ADD requested/refused, applied, failed, DEL
  requested, deleted, delete-failed, GC), with time (RFC 3339 UTC), node, pod namespace/name/UID,
  container ID, ifname, network, IPs, MAC, outcome, CNI code, error, duration; and the event's
  seq, chain hash, prev hash and raw stored bytes (base64), so the export can be verified on its
  own. exportPrev is the seq of the record before it in the same file. CSV has a header and
  RFC 4180 quoting; lists (ips, keys) are space-separated. TIME: RFC 3339 or Unix seconds.
  --pod matches the pod name (with --namespace, one pod); --ip any address the attachment held.
verify: checks every record of FILE (JSON Lines or CSV, detected from the content): sha256(raw) is
  the hash, raw decodes to the record's seq/prev/type/key/time, the derived fields (ips, pod,
  outcome, code, …) are what the event says, no record was dropped (exportPrev), and consecutive
  seqs chain (prev == the previous record's hash). The node column is not part of the event.

timeline: one self-contained HTML page (inline SVG, no external resources) with one lane per pod
  (or, with --by-ip, per address of a pool) over time: attachments as bars, failures, refusals,
  crash recoveries and GC releases as markers, details on hover. --since/--until set the window;
  the history before it is still read, so an attachment that started earlier is drawn.

exit codes: 0 ok, 1 (verify) the first bad record is named by line and seq, or (export) the
journal is corrupt, 2 usage, 3 the journal or FILE cannot be opened or written
"""

func auditCommand(_ args: Args) -> Never {
    guard let sub = args.words.first else {
        if args.help { print(auditHelp); exit(0) }
        fail("audit needs a subcommand\n\n\(auditHelp)", code: 2)
    }
    var rest = args
    rest.words.removeFirst()
    switch sub {
    case "export": auditExport(rest)
    case "verify": auditVerify(rest)
    case "timeline": auditTimeline(rest)
    default: fail("unknown audit subcommand \"\(sub)\"\n\n\(auditHelp)", code: 2)
    }
}

func auditExport(_ args: Args) -> Never {
    args.accept(["--state-dir", "--format", "--since", "--until", "--namespace", "--pod", "--network", "--ip",
                 "--out", "--node"], positional: 0...0, help: auditHelp)
    guard let formatText = args.values["--format"], let format = AuditFormat(rawValue: formatText) else {
        fail("audit export needs --format jsonl or --format csv", code: 2)
    }
    var filter = AuditFilter(since: args.time("--since"), until: args.time("--until"), namespace: args.values["--namespace"],
                             pod: args.values["--pod"], network: args.values["--network"])
    if let ip = args.values["--ip"] {
        guard let addr = IPAddress(ip) else { fail("--ip: \"\(ip)\" is not an IP address", code: 2) }
        filter.ip = addr
    }
    let journal = openJournal(args)
    let out = Output(path: args.values["--out"])
    let progress = Progress(verb: "export")
    do {
        let stats = try History.export(journal, filter: filter, format: format, node: args.node,
                                       progress: progress.callback) { try out.write($0) }
        try out.close()
        progress.done()
        if args.values["--out"] != nil, isatty(2) == 1 { fputs("\(stats.written) records\n", stderr) }
    } catch let e as OutputError {
        progress.done()
        fail("\(e)", code: 3)
    } catch {
        progress.done()
        fail("\(error)", code: 1)
    }
    exit(0)
}

func auditVerify(_ args: Args) -> Never {
    args.accept(["--json"], positional: 1...1, help: auditHelp)
    let path = args.words[0]
    guard let file = fopen(path, "r") else { fail("cannot open \(path): \(String(cString: strerror(errno)))", code: 3) }
    defer { fclose(file) }
    var verifier = AuditVerifier()
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    let tty = isatty(2) == 1
    var chunks = 0
    while true {
        let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if n == 0 { break }
        buffer.withUnsafeBytes { verifier.feed(UnsafeRawBufferPointer(rebasing: $0.prefix(n))) }
        chunks += 1
        if tty, chunks & 15 == 0 { fputs("\raudit verify: \(verifier.records) records…", stderr) }
    }
    if tty { fputs("\r\u{1B}[K", stderr) }
    guard ferror(file) == 0 else { fail("cannot read \(path)", code: 3) }
    let problem = verifier.finish()
    if args.json {
        var o: [(String, JSON)] = [("ok", .bool(problem == nil)), ("records", .int(verifier.records)),
                                   ("format", verifier.format.map { .string($0.rawValue) } ?? .null)]
        if let problem {
            o.append(("problem", .obj([("line", .int(problem.line)), ("seq", problem.seq.map { .int($0) } ?? .null),
                                       ("message", .string(problem.message))])))
        }
        print(JSON.obj(o).pretty())
    } else if let problem {
        print("FAILED: \(problem)")
    } else {
        print("ok: \(verifier.records) records (\(verifier.format?.rawValue ?? "?")), every hash, field and chain link checks")
    }
    exit(problem == nil ? 0 : 1)
}

func auditTimeline(_ args: Args) -> Never {
    args.accept(["--state-dir", "--since", "--until", "--namespace", "--pod", "--network", "--ip", "--out", "--node",
                 "--by-ip"], positional: 0...0, help: auditHelp)
    // The window clips the picture, not the history: records before --since are still read so that
    // an attachment that began earlier gets its bar.
    var filter = AuditFilter(namespace: args.values["--namespace"], pod: args.values["--pod"],
                             network: args.values["--network"])
    if let ip = args.values["--ip"] {
        guard let addr = IPAddress(ip) else { fail("--ip: \"\(ip)\" is not an IP address", code: 2) }
        filter.ip = addr
    }
    let since = args.time("--since")
    let until = args.time("--until")
    let journal = openJournal(args)
    var records: [AuditRecord] = []
    // Before the window only the attachments still open at its start are kept (memory stays
    // bounded by the window plus the live attachments, not by the history).
    var openBefore: [String: AuditRecord] = [:]
    var tracker = HistoryTracker(node: args.node)
    do {
        try History.stream(journal, tracker: &tracker) { r, tracker in
            if let until, r.timeNs > until { return false }
            guard filter.matches(r, tracker: tracker) else { return true }
            var slim = r
            slim.raw = []
            if let since, r.timeNs < since, let key = r.key {
                if r.outcome == "applied" { openBefore[key] = slim } else if r.outcome != "requested" { openBefore[key] = nil }
                return true
            }
            if !openBefore.isEmpty {
                records += openBefore.values.sorted { $0.seq < $1.seq }
                openBefore = [:]
            }
            records.append(slim)
            return true
        }
    } catch { fail("\(error)", code: 1) }
    records += openBefore.values.sorted { $0.seq < $1.seq }
    let events = timelineEvents(records, ipLanes: args.flags.contains("--by-ip"))
    let title = "\(args.node): attachments" + (filter.byAttachmentDescription.map { " (\($0))" } ?? "")
    exit(runTimeline(events, title: title, out: args.values["--out"], ipLanes: args.flags.contains("--by-ip"),
                     from: args.time("--since"), to: until) == 0 ? 0 : 3)
}
