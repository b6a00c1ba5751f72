#!/usr/bin/env python3
"""Journal benchmark (issue 5): a synthesized journal of N events (default 1,000,000), then
`skein-journal verify`, `replay` and `audit export` timed with their peak RSS, and the plugin's
ADD latency on a journal of 100,000 events against an empty one, side by side (A/B interleaved,
fresh network namespace per iteration). A benchmark, not a test: it reports, it does not fail.

    sudo tools/bench/journal_bench.py [--events 1000000] [--iterations 40] [--json FILE]

--json FILE writes the figures (every ADD sample, the medians and ratio, each command's wall time
and peak RSS) for tools/bench/perf.py, which runs this beside bench.py and concurrency_bench.py.

Needs root (network namespaces), the release binaries (tools/build.sh) and the synthesizer
(swift build -c release --product skein-journal-synth), which it builds if missing.
"""
import argparse, json, os, secrets, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sh(*cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


def bin_path(scratch=None):
    if scratch:
        return os.path.join(os.path.abspath(scratch), "release")
    return sh("swift", "build", "-c", "release", "--show-bin-path", cwd=ROOT).stdout.strip()


def timed(cmd, env=None):
    """Wall seconds and peak RSS (MB) of one command, via GNU time."""
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    rss_kb = int(r.stderr.strip().splitlines()[-1])
    return wall, rss_kb / 1024


def synthesize(synth, directory, events):
    t = time.perf_counter()
    sh(synth, directory, str(events))
    return time.perf_counter() - t


def add_latency(skein, states, iterations, prefix, subnet="10.253.128.0/17"):
    """ADD wall times (ms) per state dir, interleaved, each on a fresh netns (DEL afterwards)."""
    samples = {name: [] for name in states}
    bridge = prefix + "br"
    conf = lambda d: json.dumps({"cniVersion": "1.0.0", "name": prefix, "type": "skein", "stateDir": d,
                                 "retainEvents": 0,
                                 "delegates": [{"cniVersion": "1.0.0", "name": prefix + "-net", "type": "bridge",
                                                "bridge": bridge, "isGateway": True,
                                                "ipam": {"type": "host-local", "subnet": subnet}}]})
    try:
        for i in range(iterations + 3):
            order = list(states.items()) if i % 2 == 0 else list(reversed(states.items()))
            for name, d in order:
                ns = f"{prefix}{name[0]}{i}"
                sh("ip", "netns", "add", ns)
                env = {"CNI_CONTAINERID": f"{prefix}-{name}-{i}", "CNI_NETNS": f"/var/run/netns/{ns}",
                       "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni", "PATH": os.environ["PATH"]}
                try:
                    t = time.perf_counter_ns()
                    r = subprocess.run([skein], input=conf(d), env=dict(env, CNI_COMMAND="ADD"), capture_output=True, text=True)
                    ms = (time.perf_counter_ns() - t) / 1e6
                    if r.returncode != 0:
                        sys.exit(f"ADD failed: {r.stdout}{r.stderr}")
                    if i >= 3:
                        samples[name].append(ms)
                    r = subprocess.run([skein], input=conf(d), env=dict(env, CNI_COMMAND="DEL"), capture_output=True, text=True)
                    if r.returncode != 0:
                        sys.exit(f"DEL failed: {r.stdout}{r.stderr}")
                finally:
                    sh("ip", "netns", "del", ns, check=False)
    finally:
        sh("ip", "link", "del", bridge, check=False)
    return samples


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000, help="0 skips the big journal")
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--keep", action="store_true", help="keep the synthesized journals")
    ap.add_argument("--json", metavar="FILE", help="write the figures and raw samples as JSON")
    ap.add_argument("--scratch-path", metavar="DIR", help="SwiftPM scratch path of the release build (default: .build)")
    ap.add_argument("--subnet", default="10.253.128.0/17", help="subnet of the ADD-latency bridge (default: %(default)s)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (network namespaces)")
    # SIGTERM/SIGHUP unwind like Ctrl-C, so the finally blocks remove the namespaces and the bridge.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    bindir = bin_path(args.scratch_path)
    synth, journal, skein = (os.path.join(bindir, n) for n in ("skein-journal-synth", "skein-journal", "skein"))
    if not os.path.exists(synth):
        scratch = ["--scratch-path", os.path.abspath(args.scratch_path)] if args.scratch_path else []
        sh("swift", "build", "-c", "release", *scratch, "--product", "skein-journal-synth", cwd=ROOT)
    work = tempfile.mkdtemp(prefix="skein-jbench-")
    prefix = "jb" + secrets.token_hex(2)
    report = {"events": args.events, "iterations": args.iterations, "subnet": args.subnet,
              "binaries": {"skein": skein, "skein-journal": journal, "synth": synth}}
    try:
        if args.events > 0:
            report["big"] = big_journal(synth, journal, work, args.events)
        print("\nADD latency: journal with 100,000 events vs empty (median of", args.iterations, "each, interleaved)")
        hundred = os.path.join(work, "100k")
        synthesize(synth, hundred, 100_000)
        samples = add_latency(skein, {"empty": os.path.join(work, "empty"), "100k": hundred}, args.iterations, prefix,
                              args.subnet)
        med = {name: statistics.median(v) for name, v in samples.items()}
        print(f"| empty | 100k | ratio | target |\n|---|---|---|---|\n| {med['empty']:.2f} ms | {med['100k']:.2f} ms | "
              f"{med['100k'] / med['empty']:.3f} | <= 1.10 |")
        report["add"] = {"journal_events": 100_000, "samples_ms": samples, "median_ms": med,
                         "ratio": med["100k"] / med["empty"], "target": 1.10}
    finally:
        # Also after a failure: what was measured before it stays usable.
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1)
            print("wrote", args.json)
        if args.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def big_journal(synth, journal, work, events):
    big = os.path.join(work, "big")
    print(f"synthesizing {events:,} events ...", flush=True)
    secs = synthesize(synth, big, events)
    size = sum(os.path.getsize(os.path.join(big, f)) for f in os.listdir(big))
    print(f"  {secs:.1f} s, data {size / 2**20:.0f} MiB")
    rows = []
    for key, label, cmd in [
            ("verify", "verify (whole chain, state from the newest snapshot)", [journal, "verify", "--state-dir", big]),
            ("replay", "replay --from-start (every event reduced from the first, chain checked)",
             [journal, "replay", "--from-start", "--state-dir", big, "--json"]),
            ("replay_snapshot", "replay (from the newest snapshot)", [journal, "replay", "--state-dir", big, "--json"]),
            ("audit_export", "audit export --format jsonl", [journal, "audit", "export", "--format", "jsonl",
                                                              "--state-dir", big, "--out", os.path.join(work, "audit.jsonl")])]:
        wall, rss = timed(cmd)
        rows.append((key, label, wall, rss))
    print(f"\n| {events:,} events | wall s | peak RSS MB |\n|---|---|---|")
    for _, label, wall, rss in rows:
        print(f"| {label} | {wall:.2f} | {rss:.1f} |")
    return {"events": events, "synth_s": secs, "data_mib": size / 2**20,
            "commands": {key: {"label": label, "wall_s": wall, "peak_rss_mb": rss} for key, label, wall, rss in rows}}


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        # The finally blocks above have removed the namespaces, the bridge and the journals.
        sys.exit("interrupted")
