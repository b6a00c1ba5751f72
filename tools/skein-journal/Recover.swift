import Glibc
import SkeinJournal
import SkeinModel

// `recover`: rebuild a damaged journal from what still verifies (JournalRecovery does the work;
// this is the command line and the procedure an operator follows).

let recoverHelp = """
usage: skein-journal recover [--state-dir DIR] [--to-seq N] [--dry-run] [--json]

Rebuilds a damaged journal from what still verifies, keeping the damaged files. Use it when skein
answers CNI error 102 saying the journal is damaged, or `skein-journal verify` fails.

It never reads the damaged file with liblmdb and never modifies or deletes it:
  1. reads data.mdb page by page, checking every page (the newest meta page, and the older one,
     which holds the transaction before, when that reaches further);
  2. checks the hash chain; a record with one flipped bit (or, up to 1 KiB, one changed byte, or
     a damaged prev field) is restored when its hash then matches what the next event (or the
     head) recorded for it: proven, not guessed;
  3. keeps the verified stretch of events that reaches furthest: from event 1, or from a stored
     snapshot that still hashes to its digest (when the damage is older than a snapshot, the
     state is then complete and only the history before the snapshot is left out);
     --to-seq N stops it at event N (to cut off events you do not trust);
  4. writes those records byte for byte into a new journal, replays them through the reducer
     (which reproduces the state tables bit for bit) and gives every row its checksum;
  5. keeps the damaged data.mdb and lock.mdb, and this report, in DIR/damaged-<UTC time>/, and
     renames the new data.mdb into place.
It then reports what was repaired, what was LOST (the events after the new head, with the pods,
attachments and addresses they concerned, and unreadable ranges), the attachments the rebuilt
state holds, and how the damaged journal's own tables differ from it.

Procedure:
  1. Stop what uses the journal: the container runtime (it runs skein) or drain the node, and any
     skein-journal reader. recover refuses (exit 4) while a process has the journal open; a skein
     started during the rebuild waits, then gets a CNI error and is retried by the runtime.
  2. skein-journal verify --state-dir DIR              names the damage (exit 1)
  3. skein-journal recover --state-dir DIR --dry-run   shows what would be kept and lost
  4. skein-journal recover --state-dir DIR             rebuilds
  5. Compare the LOST list and the differences with the node: a pod they attached may still
     run with addresses the rebuilt journal considers free. Delete those pods (or run CNI DEL for
     them) before new pods start on their networks. `skein-journal explain` works on the rebuilt
     journal, and on the kept copy (--state-dir DIR/damaged-…) for the history it still holds.
  6. skein-journal verify --state-dir DIR              must now print ok; restart the runtime.
A journal that verifies is left alone (nothing to recover) unless --to-seq is given.
If no event verifies at all, nothing is built (exit 1); --to-seq 0 then starts an empty journal,
after which every attachment still on the node must be removed (drain it).
A lock.mdb left by a killed process needs no recovery: liblmdb's robust mutex (or a fresh lock
table when nobody has the journal open) lets the next call proceed.

exit codes: 0 recovered, or nothing to recover; 1 nothing verifies (nothing built); 2 usage;
3 the journal cannot be read, or the new one cannot be written; 4 the journal is in use
"""

func recoverCommand(_ args: Args) -> Never {
    args.accept(["--state-dir", "--to-seq", "--dry-run", "--json"], positional: 0...0, help: recoverHelp)
    var toSeq: UInt64?
    if let text = args.values["--to-seq"] {
        guard let n = UInt64(text) else { fail("--to-seq needs a sequence number", code: 2) }
        toSeq = n
    }
    let dir = args.stateDir
    guard access(dir + "/data.mdb", F_OK) == 0 else { fail("no journal in \(dir) (no data.mdb)", code: 3) }
    let report: RecoveryReport
    do {
        report = try JournalRecovery.run(dir, toSeq: toSeq, dryRun: args.flags.contains("--dry-run"))
    } catch let e as JournalError where e.kind == .busy {
        fail("\(e)", code: 4)
    } catch {
        fail("\(error)", code: 3)
    }
    if args.json { print(report.json.pretty()) } else { print(report.text(), terminator: "") }
    exit(report.refused ? 1 : 0)
}

/// verify when the file's structure is damaged: liblmdb is not let near it (it may abort on a
/// damaged page); the events are read page by page and the chain checked as recover would.
func verifyDamaged(_ dir: String, structure: [RawDamage], json: Bool) -> Never {
    var problems = structure.map(\.description)
    var events = 0
    var oldHead: JournalHead?
    do {
        let plan = try JournalRecovery.plan(dir)
        problems += plan.analysis.problems.map(\.description)
        problems += plan.analysis.repairs.map { "event \($0.seq): damaged, and repairable by `skein-journal recover`: \($0.note)" }
        events = plan.analysis.readable
        oldHead = plan.head
    } catch {
        problems.append("\(error)")
    }
    if json {
        let head = oldHead.map { JSON.obj([("seq", .number(String($0.seq))), ("hash", .string($0.hash))]) } ?? .null
        print(JSON.obj([("ok", .bool(false)), ("events", .int(events)), ("head", head),
                        ("problems", .array(problems.map { .string($0) }))]).pretty())
    } else {
        for p in problems { fputs("problem: \(p)\n", stderr) }
        print("FAILED: \(problems.count) problem(s); first: \(problems.first ?? "?")")
        print("the file's structure is damaged: `skein-journal recover --state-dir \(dir) --dry-run` shows what can be kept")
    }
    exit(1)
}

/// The tools read journals with liblmdb, which may die on a damaged page: say so, exit 1.
func installFaultGuard(_ dir: String) {
    let text = "skein-journal: crashed reading the journal in \(dir) (a fault or a failed assertion in liblmdb: "
        + "most likely a damaged page); `skein-journal verify` checks the file without liblmdb, "
        + "`skein-journal recover` rebuilds it\n"
    JournalFaultGuard.install(stdout: [], stderr: Array(text.utf8), exitCode: 1)
}
