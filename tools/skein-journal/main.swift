import Glibc
import SkeinJournal
import SkeinModel
import SkeinReducer

// skein-journal: tools over a Skein journal. It links the journal and the pure reducer, never the
// executor (the target graph has no edge to it). Every command but recover opens LMDB read-only:
// read transactions only, so it never blocks the plugin and works on a copied state directory.
// recover reads the damaged file without liblmdb and writes a new journal beside it.

let usage = """
usage: skein-journal <command> [--state-dir DIR] [options]     (skein-journal <command> --help)

commands:
  verify                     check the file's pages (without liblmdb), the hash chain, sequence
                             continuity and schema of every event, that replaying the events
                             reproduces the materialized state, and every row's checksum
  replay [--to SEQ | --at TIME] [--from-start]
                             the state rebuilt from the events (up to SEQ, or as it was at TIME);
                             without either it is also compared with the materialized state
  explain TARGET             the history of an attachment (cid/ifname), container ID, pod
                             (namespace/name or UID) or IP address: requested, allocated, applied,
                             failed, deleted, recovered, released by GC — with times and durations
  audit export               the attachment history as JSON Lines or CSV, one record per lifecycle
                             event, each with its seq, chain hash and raw event
  audit verify FILE          check an export on its own: hashes, fields, chain
  audit timeline             an HTML/SVG page: one lane per pod (--by-ip: per address) over time,
                             attachments as bars, failures, crash recoveries and GC as markers
  recover [--to-seq N] [--dry-run]
                             rebuild a damaged journal from its longest verified stretch of
                             events, keeping the damaged files; reports what was lost
                             (see skein-journal recover --help for the procedure)
  help                       this text

options:
  --state-dir DIR     the journal's directory (default: $SKEIN_STATE_DIR, else /var/lib/skein)
  --json              machine-readable output (verify, replay, explain)
  TIME                RFC 3339 (2026-11-29T14:03:00Z, 2026-11-29T16:03:00+02:00) or Unix seconds

exit codes:
  0  ok (the journal or export is consistent; the target has a history; recovered)
  1  a problem was found (the first bad event or record is named), or the target has no history
  2  usage error
  3  the journal or file cannot be opened
  4  recover: the journal is in use
"""

let verifyHelp = """
usage: skein-journal verify [--state-dir DIR] [--json]

First checks the file itself without liblmdb: both meta pages, the file's length, and every
page of every database (page type, bounds, key order). A damaged structure is named by database
and page, and the events are then read page by page to name the first bad event. Otherwise
checks every event: sequence continuity, schema, the hash chain, the journal head, that
replaying the events reproduces the materialized state tables, and every state row against its
checksum. Exit 0 consistent, 1 the first problem is named, 3 cannot open.
"""

let replayHelp = """
usage: skein-journal replay [--to SEQ | --at TIME] [--from-start] [--state-dir DIR] [--json]

Prints the state (attachments, allocations per network) rebuilt from the events: up to and
including SEQ, or as it was after the last event at or before TIME (RFC 3339 or Unix seconds;
the first event later than TIME ends the replay). Without either, the replay is also compared
with the materialized state. The replay starts at the newest snapshot that verifies; with
--from-start it reduces every event from the first (as crash recovery of a journal without
snapshots would), checking the chain on the way. Exit 0 ok, 1 a problem in the events replayed,
2 usage, 3 cannot open.
"""

func printState(_ state: MemoryState, json: Bool) {
    let attachments = state.attachmentRecords
    var allocations: [(String, IPAddress, String)] = []
    for (k, v) in state.tables[.allocations] ?? [:] {
        if let (net, ip) = StateKeys.decodeAllocation(k) { allocations.append((net, ip, String(decoding: v, as: UTF8.self))) }
    }
    allocations.sort { ($0.0, $0.1) < ($1.0, $1.1) }
    if json {
        let out = JSON.obj([
            ("attachments", .array(attachments.map(\.json))),
            ("allocations", .array(allocations.map { .obj([("network", .string($0.0)), ("ip", .string($0.1.description)), ("holder", .string($0.2))]) })),
        ])
        print(out.pretty())
        return
    }
    print("attachments: \(attachments.count)")
    for a in attachments {
        let ips = a.addresses.map(\.address.description).joined(separator: ",")
        let pod = a.pod.map { " pod=\($0.namespace)/\($0.name)" } ?? ""
        print("  \(a.key)  network=\(a.network) status=\(a.status.rawValue) ips=\(ips.isEmpty ? "-" : ips)\(pod)")
    }
    // Allocations per pool, and the links the attachments hold (host end, container end, bridge).
    print("allocations: \(allocations.count)")
    var pool = ""
    for (net, ip, holder) in allocations {
        if net != pool { print("  pool \(net):"); pool = net }
        print("    \(ip) -> \(holder)")
    }
    let links = attachments.flatMap { a in a.spec.links.map { (a.key, $0) } }
    print("links: \(links.count)")
    for (key, l) in links {
        let mac = l.mac.map { " mac=\($0)" } ?? ""
        let shared = l.shared ? " (shared)" : ""
        print("  \(key)  \(l.namespace.rawValue) \(l.name)\(mac)\(l.master.map { " master=\($0)" } ?? "")\(shared)")
    }
}

/// verify and replay: both are a Verifier run (replay stops early for --to / --at).
func verifyOrReplay(_ command: String, _ args: Args) -> Never {
    let isReplay = command == "replay"
    args.accept(isReplay ? ["--state-dir", "--json", "--to", "--at", "--from-start"] : ["--state-dir", "--json"], positional: 0...0,
                help: isReplay ? replayHelp : verifyHelp)
    var upTo: UInt64?
    if let to = args.values["--to"] {
        guard let s = UInt64(to) else { fail("--to needs a sequence number", code: 2) }
        upTo = s
    }
    let at = args.time("--at")
    if upTo != nil && at != nil { fail("--to and --at exclude each other\n\n\(replayHelp)", code: 2) }
    if !isReplay, access(args.stateDir + "/data.mdb", F_OK) == 0 {
        let (problems, _) = StoreCheck.structure(args.stateDir)
        if !problems.isEmpty { verifyDamaged(args.stateDir, structure: problems, json: args.json) }
    }
    let journal = openJournal(args)
    let report: VerifyReport
    do {
        if let at { upTo = try History.seq(atOrBefore: at, in: journal) }
        // verify checks the whole chain; replay starts at the newest snapshot that still verifies,
        // or at the first event with --from-start.
        let fromStart = args.flags.contains("--from-start")
        report = try Verifier.run(journal, upTo: upTo, fullChain: !isReplay || fromStart, fromStart: fromStart)
    } catch { fail("\(error)", code: 1) }
    if isReplay { printState(report.replayed, json: args.json) }
    if args.json && !isReplay {
        let out = JSON.obj([("ok", .bool(report.ok)), ("events", .int(report.events)),
                            ("head", .obj([("seq", .number(String(report.head.seq))), ("hash", .string(report.head.hash))])),
                            ("problems", .array(report.problems.map { .string($0.description) }))])
        print(out.pretty())
    } else {
        for p in report.problems { fputs("problem: \(p)\n", stderr) }
        if !isReplay || !report.ok {
            print(report.ok ? "ok: \(report.events) events, chain intact, replay matches the state (head \(report.head.seq) \(report.head.hash.prefix(16)))"
                            : "FAILED: \(report.problems.count) problem(s); first: \(report.problems[0])")
        }
    }
    if isReplay, let upTo, !args.json { fputs("(state after event \(upTo))\n", stderr) }
    exit(report.ok ? 0 : 1)
}

let args = Args(Array(CommandLine.arguments.dropFirst()))
guard let command = args.words.first else {
    if args.help { print(usage); exit(0) }
    fail("no command\n\n\(usage)", code: 2)
}
var rest = args
rest.words.removeFirst()
installFaultGuard(args.stateDir)
switch command {
case "help": print(usage); exit(0)
case "verify", "replay": verifyOrReplay(command, rest)
case "explain": explainCommand(rest)
case "audit": auditCommand(rest)
case "recover": recoverCommand(rest)
default: fail("unknown command \"\(command)\"\n\n\(usage)", code: 2)
}
