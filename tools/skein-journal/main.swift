import Glibc
import SkeinJournal
import SkeinModel
import SkeinReducer

// skein-journal: read-only tools over a Skein journal. It links the journal and the pure reducer,
// never the executor (the target graph has no edge to it), and opens LMDB read-only.

let usage = """
usage: skein-journal <command> [--state-dir DIR] [options]

commands:
  verify              check the hash chain, sequence continuity and schema of every event, and that
                      replaying the events reproduces the materialized state
  replay [--to SEQ]   rebuild the state from the events (up to SEQ) and print it; without --to it is
                      also compared with the materialized state
  help                this text

options:
  --state-dir DIR     the journal's directory (default: $SKEIN_STATE_DIR, else /var/lib/skein)
  --json              machine-readable output

exit codes:
  0  the journal is consistent
  1  a problem was found (the first bad event is named)
  2  usage error
  3  the journal cannot be opened
"""

struct Options {
    var command = ""
    var stateDir = Journal.defaultStateDir
    var json = false
    var to: UInt64?
}

func fail(_ message: String, code: Int32) -> Never {
    fputs("skein-journal: \(message)\n", stderr)
    exit(code)
}

func parseOptions(_ args: [String]) -> Options {
    var o = Options()
    if let env = getenv("SKEIN_STATE_DIR"), env.pointee != 0 { o.stateDir = String(cString: env) }
    var i = 0
    while i < args.count {
        let a = args[i]
        switch a {
        case "--state-dir":
            guard i + 1 < args.count else { fail("--state-dir needs a directory", code: 2) }
            o.stateDir = args[i + 1]; i += 1
        case "--json": o.json = true
        case "--to":
            guard i + 1 < args.count, let s = UInt64(args[i + 1]) else { fail("--to needs a sequence number", code: 2) }
            o.to = s; i += 1
        case "-h", "--help", "help": print(usage); exit(0)
        default:
            if o.command.isEmpty && !a.hasPrefix("-") { o.command = a } else { fail("unknown argument \"\(a)\"\n\n\(usage)", code: 2) }
        }
        i += 1
    }
    return o
}

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
    print("allocations: \(allocations.count)")
    for (net, ip, holder) in allocations { print("  \(net) \(ip) -> \(holder)") }
}

let opts = parseOptions(Array(CommandLine.arguments.dropFirst()))
guard !opts.command.isEmpty else { fail("no command\n\n\(usage)", code: 2) }
guard opts.command == "verify" || opts.command == "replay" else { fail("unknown command \"\(opts.command)\"\n\n\(usage)", code: 2) }

let journal: Journal
do { journal = try Journal(stateDir: opts.stateDir, readOnly: true) } catch { fail("\(error)", code: 3) }

let report: VerifyReport
do { report = try Verifier.run(journal, upTo: opts.to) } catch { fail("\(error)", code: 1) }

if opts.command == "replay" { printState(report.replayed, json: opts.json) }
if opts.json && opts.command == "verify" {
    let out = JSON.obj([("ok", .bool(report.ok)), ("events", .int(report.events)),
                        ("head", .obj([("seq", .number(String(report.head.seq))), ("hash", .string(report.head.hash))])),
                        ("problems", .array(report.problems.map { .string($0.description) }))])
    print(out.pretty())
} else {
    for p in report.problems { fputs("problem: \(p)\n", stderr) }
    if opts.command == "verify" || !report.ok {
        print(report.ok ? "ok: \(report.events) events, chain intact, replay matches the state (head \(report.head.seq) \(report.head.hash.prefix(16)))"
                        : "FAILED: \(report.problems.count) problem(s); first: \(report.problems[0])")
    }
}
exit(report.ok ? 0 : 1)
