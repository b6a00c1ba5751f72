#!/usr/bin/env python3
"""Skein performance, all in one harness (issue 7): one command that runs, side by side in the same
run, Skein against the reference CNI plugins and against its own targets, and prints one table.

    sudo tools/bench/perf.py                # the full figures (about 3-4 minutes on 2 cores)
    sudo tools/bench/perf.py --quick        # a smoke run (about 30 seconds)

It builds the release binaries if they are missing (tools/build.sh, and the journal synthesizer),
then runs, one after another:
  bench.py               ADD, DEL, ADD+DEL and peak RSS against bridge+host-local and
                         macvlan+host-local; the three-network meta ADD against the three ADDs
  journal_bench.py       replay / verify / audit export of a synthesized 1M-event journal; ADD on a
                         100k-event journal against an empty one
  concurrency_bench.py   32 simultaneous ADDs, skein and the reference bridge plugin, against the
                         kernel-bound ideal measured in the same run
and prints: metric | reference | skein | ratio | target | met?. Every raw figure goes to the JSON
file (--json). A benchmark, not a test: a missed target changes the exit status only with
--enforce; a failed plugin call (or an interrupted run) always does. See tools/bench/README.md.
Python 3 standard library only; run as root.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SWIFT_DIR = "/opt/swift/usr/bin"

# Full figures and the --quick smoke run. Subnets stay in 10.240-10.242 (integration tests use
# 10.246-10.254); the concurrency bench's live inside its own node namespace anyway.
MODES = {
    "full": {"iterations": 30, "warmup": 3, "rss_runs": 10, "startup_runs": 30, "events": 1_000_000,
             "add_iterations": 30, "rounds": 5},
    "quick": {"iterations": 5, "warmup": 1, "rss_runs": 3, "startup_runs": 10, "events": 100_000,
              "add_iterations": 5, "rounds": 1},
}
BENCH_POOL, JOURNAL_SUBNET, CONCURRENCY_POOL = "10.240.0.0/16", "10.241.0.0/16", "10.242.0.0/16"
# The issue's targets: on the ratio skein/reference (medians; peak RSS: skein's maximum against the
# reference bridge process's median), the replay in seconds. Missing keys are reported only.
TARGETS = {
    "bridge": {"ADD": 0.20, "ADD+DEL": 0.55, "RSS": 1.0},
    "macvlan": {"ADD": 0.20, "ADD+DEL": 0.55, "RSS": 1.0},
    "meta3": {"ADD": 0.25},
    "journal": {"ADD": 1.10, "replay": 5.0},
}


# --------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------


def swift_shim(scratch: str, tmp: str) -> dict:
    """tools/build.sh has no scratch-path option: a `swift` first on PATH that adds --scratch-path
    to `swift build` makes it build into `scratch` with its own flags, unchanged."""
    real = shutil.which("swift") or os.path.join(SWIFT_DIR, "swift")
    shim = os.path.join(tmp, "swift")
    with open(shim, "w") as f:
        f.write(f'#!/bin/sh\nif [ "$1" = build ]; then shift; exec "{real}" build --scratch-path "{scratch}" "$@"; fi\n'
                f'exec "{real}" "$@"\n')
    os.chmod(shim, 0o755)
    return dict(os.environ, PATH=f"{tmp}:{SWIFT_DIR}:{os.environ.get('PATH', '')}")


def build(scratch: str, bindir: str, rebuild: bool) -> list:
    """Runs tools/build.sh when skein or skein-journal is missing (or --rebuild), and builds the
    journal synthesizer when it is missing. Returns the commands run."""
    done = []
    with tempfile.TemporaryDirectory(prefix="skein-perf-shim-") as tmp:
        env = swift_shim(scratch, tmp)
        if rebuild or not all(os.access(os.path.join(bindir, b), os.X_OK) for b in ("skein", "skein-journal")):
            print(f"perf: tools/build.sh (scratch path {scratch})", flush=True)
            subprocess.run([os.path.join(ROOT, "tools", "build.sh")], cwd=ROOT, env=env, check=True)
            done.append("tools/build.sh")
        if not os.access(os.path.join(bindir, "skein-journal-synth"), os.X_OK):
            print("perf: swift build -c release --product skein-journal-synth", flush=True)
            subprocess.run(["swift", "build", "-c", "release", "--product", "skein-journal-synth"],
                           cwd=ROOT, env=env, check=True)
            done.append("swift build -c release --product skein-journal-synth")
    return done


# --------------------------------------------------------------------------------------
# Running the three benchmarks
# --------------------------------------------------------------------------------------


class Interrupted(Exception):
    pass


def run_child(name: str, cmd: list) -> tuple:
    """Runs one benchmark with its output on our terminal, in its own process group: Ctrl-C reaches
    only this process, which passes exactly one SIGINT on and waits while the child cleans up (a
    second signal during its clean-up could leave namespaces behind). Returns (exit code, seconds)."""
    print(f"\nperf: == {name} ==\nperf: {' '.join(cmd)}", flush=True)
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, process_group=0)
    interrupted = False
    while True:
        try:
            code = child.wait()
            break
        except KeyboardInterrupt:
            if not interrupted:
                interrupted = True
                child.send_signal(signal.SIGINT)
    if interrupted:
        raise Interrupted()
    return code, time.monotonic() - t0


def load(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def commands(args, mode: dict, bindir: str, tmp: str) -> list:
    skein = os.path.join(bindir, "skein")
    py = [sys.executable, "-B"]
    return [
        ("bench", os.path.join(tmp, "bench.json"),
         py + [os.path.join(HERE, "bench.py"), "--skein", skein, "--iterations", str(mode["iterations"]),
               "--warmup", str(mode["warmup"]), "--rss-runs", str(mode["rss_runs"]),
               "--startup-runs", str(mode["startup_runs"]), "--subnet-pool", BENCH_POOL]),
        ("journal", os.path.join(tmp, "journal.json"),
         py + [os.path.join(HERE, "journal_bench.py"), "--scratch-path", args.scratch_path,
               "--events", str(mode["events"]), "--iterations", str(mode["add_iterations"]),
               "--subnet", JOURNAL_SUBNET]),
        ("concurrency", os.path.join(tmp, "concurrency.json"),
         py + [os.path.join(HERE, "concurrency_bench.py"), "--skein", skein, "--rounds", str(mode["rounds"]),
               "--subnet-pool", CONCURRENCY_POOL]),
    ]


# --------------------------------------------------------------------------------------
# The summary table
# --------------------------------------------------------------------------------------


def row(metric: str, ref, skein, target=None, *, ratio=None, seconds=False, met=None, nd=2) -> dict:
    """One line of the table. `ratio` defaults to skein/ref; a numeric target applies to the ratio,
    or with seconds=True to the skein figure itself. A skein figure of None means the benchmark that
    measures it failed (the line is kept, so a failed run still shows every target)."""
    if ratio is None and isinstance(ref, (int, float)) and isinstance(skein, (int, float)) and ref:
        ratio = skein / ref
    if met is None and isinstance(target, (int, float)) and skein is not None:
        met = (skein if seconds else ratio) <= target
    return {"metric": metric, "reference": ref, "skein": skein, "ratio": ratio, "target": target,
            "seconds": seconds, "met": met, "failed": skein is None, "digits": nd}


def bench_rows(b) -> list:
    rows = []
    for sc, label in (("bridge", "bridge+host-local"), ("macvlan", "macvlan+host-local"),
                      ("meta3", "meta ADD of 3 networks")):
        summ = ((b or {}).get("scenarios", {}).get(sc) or {}).get("summary") or {}
        for op in ("ADD", "DEL", "ADD+DEL"):
            o = summ.get("ops", {}).get(op, {})
            what = "1 skein ADD vs sum of 3 reference ADDs" if (sc, op) == ("meta3", "ADD") else op
            rows.append(row(f"{label}: {what} (ms, median)", o.get("reference_median_ms"), o.get("skein_median_ms"),
                            TARGETS[sc].get(op)))
        r = summ.get("rss") or {}
        rows.append(row(f"{label}: peak RSS (MB; reference median, skein max)",
                        r["reference_median_kb"] / 1024 if r else None, r["skein_max_kb"] / 1024 if r else None,
                        TARGETS[sc].get("RSS")))
    su = (b or {}).get("startup") or {}
    if su.get("reference", {}).get("ms") and su.get("skein", {}).get("ms"):
        ok = lambda side: all(x == 0 for x in su[side]["status"])
        figure = lambda side: statistics.median(su[side]["ms"]) if ok(side) else None
        rows.append(row("start-up floor: CNI VERSION (ms, median)", figure("reference"), figure("skein")))
    return rows


def journal_rows(j, events: int) -> list:
    n = f"{events:,}"
    add = (j or {}).get("add") or {}
    med = add.get("median_ms", {})
    cmds = ((j or {}).get("big") or {}).get("commands") or {}
    wall = lambda key: cmds.get(key, {}).get("wall_s")
    return [
        row("ADD on a 100,000-event journal vs an empty one (ms, median)", med.get("empty"), med.get("100k"),
            TARGETS["journal"]["ADD"]),
        row(f"skein-journal replay --from-start, {n}-event journal, every event reduced (s)", None, wall("replay"),
            TARGETS["journal"]["replay"], seconds=True),
        row(f"skein-journal replay from the newest snapshot, {n}-event journal (s)", None, wall("replay_snapshot"),
            seconds=True),
        row(f"skein-journal verify, {n}-event journal, whole chain (s)", None, wall("verify")),
        row(f"skein-journal audit export, {n}-event journal (s)", None, wall("audit_export")),
    ]


def concurrency_rows(c) -> list:
    s = (c or {}).get("summary") or {}
    n = (c or {}).get("count", 32)
    r, k, ideal = s.get("reference", {}), s.get("skein", {}), s.get("ideal", {})
    distinct = [side.get("distinct_addresses") for side in (r, k)]
    yes = lambda v: None if v is None else ("yes" if v else "NO")
    return [
        row(f"{n} concurrent ADDs: burst wall (ms, median)", r.get("burst_wall_ms"), k.get("burst_wall_ms"), nd=1),
        row(f"{n} concurrent ADDs: throughput (ADDs/s)", r.get("burst_adds_per_s"), k.get("burst_adds_per_s"), nd=1),
        # The reference column holds the ideal here: the ratio is the fraction of it skein reaches.
        row(f"{n} concurrent ADDs: skein vs kernel-bound ideal (ADDs/s; reference column = ideal)",
            ideal.get("adds_per_s"), k.get("burst_adds_per_s"), nd=1),
        row(f"{n} concurrent ADDs: all addresses distinct, every round", yes(distinct[0]), yes(distinct[1]),
            "all distinct", met=None if None in distinct else all(distinct)),
    ]


def cell(v, nd: int) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.{nd}f}"


def target_cell(r: dict) -> str:
    t = r["target"]
    if t is None:
        return "-"
    if isinstance(t, str):
        return t
    return f"<= {t:g} s" if r["seconds"] else f"<= {t:.2f}x"


def render(rows: list) -> str:
    head = ["metric", "reference", "skein", "ratio", "target", "met?"]
    body = []
    for r in rows:
        met = "FAILED (no figure)" if r["failed"] else ("-" if r["met"] is None else ("yes" if r["met"] else "NO"))
        body.append([r["metric"], cell(r["reference"], r["digits"]), cell(r["skein"], r["digits"]),
                     cell(r["ratio"], 3), target_cell(r), met])
    w = [max(len(x[i]) for x in body + [head]) for i in range(len(head))]
    line = lambda cells: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(cells)) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (x + 2) for x in w) + "|"] + [line(b) for b in body])


# --------------------------------------------------------------------------------------


def parse_args():
    ap = argparse.ArgumentParser(description="Skein performance, all in one harness (run as root).")
    ap.add_argument("--quick", action="store_true", help="a smoke run: few iterations, a 100k-event journal, 1 round")
    ap.add_argument("--skip-build", action="store_true", help="do not build; the binaries must exist")
    ap.add_argument("--rebuild", action="store_true", help="run tools/build.sh even if the binaries exist")
    ap.add_argument("--scratch-path", default=".build", help="SwiftPM scratch path of the release build "
                    "(binaries in SCRATCH/release; default: %(default)s)")
    ap.add_argument("--json", metavar="FILE", help="raw results (default: /tmp/skein-perf-<time>.json)")
    ap.add_argument("--enforce", action="store_true", help="exit 1 if a target is missed")
    ap.add_argument("--iterations", type=int, help="timed iterations of bench.py and of the 100k ADD")
    ap.add_argument("--events", type=int, help="events in the big journal")
    ap.add_argument("--rounds", type=int, help="rounds of the concurrency burst")
    args = ap.parse_args()
    if args.skip_build and args.rebuild:
        ap.error("--skip-build and --rebuild exclude each other")
    args.scratch_path = os.path.abspath(os.path.join(ROOT, args.scratch_path))
    mode = dict(MODES["quick" if args.quick else "full"])
    for key, value in (("iterations", args.iterations), ("add_iterations", args.iterations),
                       ("events", args.events), ("rounds", args.rounds)):
        if value is not None:
            if value < 1:
                ap.error(f"--{key.split('_')[-1]} must be >= 1")
            mode[key] = value
    return args, mode


def on_term(_signum, _frame):
    # SIGTERM/SIGHUP take the Ctrl-C path: the running benchmark gets one SIGINT and cleans up.
    raise KeyboardInterrupt()


def main() -> int:
    args, mode = parse_args()
    if os.geteuid() != 0:
        print("perf: must run as root (network namespaces, bridges)", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_term)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_path = args.json or f"/tmp/skein-perf-{stamp}.json"
    bindir = os.path.join(args.scratch_path, "release")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    report: dict = {"perf": {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "mode": "quick" if args.quick else "full",
                             "parameters": mode, "targets": TARGETS, "bin_dir": bindir, "git_head": head or None,
                             "host": {"kernel": platform.release(), "cpus": os.cpu_count(),
                                      "loadavg_start": os.getloadavg()}, "steps": {}}}
    try:
        if not args.skip_build:
            report["perf"]["built"] = build(args.scratch_path, bindir, args.rebuild)
        missing = [b for b in ("skein", "skein-journal", "skein-journal-synth")
                   if not os.access(os.path.join(bindir, b), os.X_OK)]
        if missing:
            print(f"perf: missing in {bindir}: {', '.join(missing)} (run without --skip-build)", file=sys.stderr)
            return 2
        report["perf"]["binaries"] = {b: {"path": os.path.join(bindir, b), "size_bytes": os.path.getsize(
            os.path.join(bindir, b))} for b in ("skein", "skein-journal")}
        code = run_all(args, mode, bindir, report)
    except subprocess.CalledProcessError as e:
        print(f"perf: build failed: {e}", file=sys.stderr)
        return 2
    except (Interrupted, KeyboardInterrupt):
        print("\nperf: interrupted (the benchmark that was running cleaned up after itself)", file=sys.stderr)
        report["perf"]["interrupted"] = True
        code = 130
    report["perf"]["seconds"] = time.monotonic() - t0
    report["perf"]["loadavg_end"] = os.getloadavg()
    with open(out_path, "w") as f:
        json.dump(report, f, indent=1)
    print(f"perf: total {report['perf']['seconds'] / 60:.1f} min; raw results in {out_path}")
    return code


def run_all(args, mode: dict, bindir: str, report: dict) -> int:
    failed = False
    with tempfile.TemporaryDirectory(prefix="skein-perf-") as tmp:
        for name, json_path, cmd in commands(args, mode, bindir, tmp):
            load_start = os.getloadavg()[0]
            code, secs = run_child(name, cmd + ["--json", json_path])
            report["perf"]["steps"][name] = {"command": cmd, "exit": code, "seconds": secs,
                                             "loadavg_1min": [load_start, os.getloadavg()[0]]}
            report[name] = load(json_path)
            failed |= code != 0
    rows = bench_rows(report["bench"]) + journal_rows(report["journal"], mode["events"]) \
        + concurrency_rows(report["concurrency"])
    report["summary"] = rows
    missed = any(r["met"] is False for r in rows)
    steps = ", ".join(f"{k} {v['seconds'] / 60:.1f} min (load {v['loadavg_1min'][0]:.1f} -> {v['loadavg_1min'][1]:.1f})"
                      + ("" if v["exit"] == 0 else f" (exit {v['exit']})") for k, v in report["perf"]["steps"].items())
    print(f"\n== Skein performance ({report['perf']['mode']}: {mode['iterations']} iterations, "
          f"{mode['events']:,}-event journal, {mode['rounds']} concurrency round(s); load average "
          f"{os.getloadavg()[0]:.2f}) ==")
    print("ratio = skein / reference, medians; targets apply to the ratio unless given in seconds.")
    print(render(rows))
    print(f"steps: {steps}")
    if failed:
        print("perf: a benchmark failed (a plugin call failed, see its output above)", file=sys.stderr)
        return 1
    if missed:
        print("perf: some targets were missed" + (" (--enforce)" if args.enforce else " (reported only; --enforce "
                                                  "makes that an error)"), file=sys.stderr)
        return 1 if args.enforce else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
