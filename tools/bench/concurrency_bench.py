#!/usr/bin/env python3
"""Concurrency benchmark (issue 7): 32 simultaneous ADDs of distinct pods on one bridge network,
Skein against the reference bridge plugin (+ host-local) side by side in the same run, and the
kernel-bound ideal measured in the same run. A benchmark, not a test: it has no target; it exits
non-zero only if a plugin call fails or two pods of one burst got the same address. See
tools/bench/README.md, "Concurrency".

    sudo tools/bench/concurrency_bench.py [--skein .build/release/skein] [--rounds 5] [--json FILE]

Everything happens inside a "node" network namespace this run creates (bridges, host veth ends,
the gateway addresses), and each pod is its own namespace; all carry the run prefix (`cb` + 4 hex
digits) and are deleted at the end, also on a failure, Ctrl-C, SIGTERM or SIGHUP.

Per round (the side that goes first alternates):
  1. burst: N processes forked beforehand (stdio on memfds), each waiting on one pipe, released
     at once by closing it; each then execs its ADD. Wall = release to last exit. Every ADD must
     exit 0 with an address, and the N addresses must be distinct. Then N DELs the same way
     (reported, no target).
  2. sequential: the same N ADDs one after another (skein with SKEIN_TRACE=1), then DELs.
  3. bare kernel work: N veth pairs created with the peer in a pod namespace, enslaved and up, in
     one `ip -batch` process (its start-up, the fastest of three one-line batches, subtracted).

The kernel-bound ideal, as Tests/SkeinIntegrationTests/ConcurrencyTests.swift defines it:
rtnetlink operations serialize on the kernel's RTNL lock, so no number of processes can attach pods
faster than one after another at kernel cost only. Ideal ADDs/s = N / (sum over the sequential skein
ADDs of their kernel phases: SKEIN_TRACE `observe` + `apply`). The bare `ip -batch` figure is printed
beside it. Python 3 standard library only; run as root.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import ipaddress
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REF_DIR = "/usr/lib/cni"
IP = shutil.which("ip") or "/usr/sbin/ip"
SPAWN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CLONE_NEWNET = 0x40000000
BURST_DEADLINE_S = 120  # a hung plugin fails the run instead of hanging it
KERNEL_PHASES = ("observe", "apply")


class PluginFailed(Exception):
    pass


class Deadline(Exception):
    pass


def setns(path: str) -> None:
    """Moves this (single-threaded) process into the network namespace at `path`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def ip_batch(lines: list, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([IP, "-batch", "-"], input="\n".join(lines) + "\n", capture_output=True, text=True)
    if check and r.returncode != 0:
        raise PluginFailed(f"ip -batch failed: {r.stderr.strip()}")
    return r


class Run:
    """Run prefix, temp dir, node namespace, and the clean-up of everything carrying the prefix."""

    def __init__(self) -> None:
        self.prefix = "cb" + secrets.token_hex(2)
        self.tmp = tempfile.mkdtemp(prefix=f"skein-cbench-{self.prefix}-")
        self.node = f"{self.prefix}-node"
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        self.live: set = set()  # pids of a burst in flight (killed on clean-up)
        self.cleaned = False

    def enter_node(self) -> None:
        subprocess.run([IP, "netns", "add", self.node], check=True, capture_output=True)
        subprocess.run([IP, "-n", self.node, "link", "set", "lo", "up"], check=True, capture_output=True)
        setns(f"/var/run/netns/{self.node}")

    def kill_live(self) -> None:
        for pid in list(self.live):
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        self.live.clear()

    def cleanup(self) -> None:
        if self.cleaned:
            return
        self.cleaned = True
        self.kill_live()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.setns(self.home, CLONE_NEWNET)
        listed = subprocess.run([IP, "netns", "list"], capture_output=True, text=True).stdout
        ours = [x.split()[0] for x in listed.splitlines() if x.strip() and x.split()[0].startswith(self.prefix + "-")]
        # Pods first (their veth peers go with them), the node last (bridges, host ends).
        ours.sort(key=lambda n: n == self.node)
        if ours:
            ip_batch([f"netns del {n}" for n in ours], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Spawning
# --------------------------------------------------------------------------------------


def _memfd(name: str, data: bytes = b"") -> int:
    # Close-on-exec: a child keeps only the three it dup2s onto its stdio, not the other calls'.
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    if data:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def _on_deadline(_signum, _frame):
    raise Deadline()


def _exec_when_released(argv0: str, env: dict, stdio: tuple, ready_w: int, go_r: int, go_w: int) -> None:
    """In a forked child: report ready, block until the parent closes the last write end of the
    `go` pipe (EOF releases every child at once), then exec the plugin."""
    try:
        os.close(go_w)
        os.write(ready_w, b".")
        os.close(ready_w)
        os.read(go_r, 1)
        for target, fd in zip((0, 1, 2), stdio):
            os.dup2(fd, target)
        os.execve(argv0, [argv0], env)
    finally:
        os._exit(127)


def burst(run: Run, calls: list) -> dict:
    """Forks one waiting child per (argv0, env, stdin) (untimed), releases them all at once, and
    reaps them as they finish. Wall = release to last exit; per call: ms, status, stdout, stderr.
    Spawning 32 processes one after another would instead stagger the starts over tens of ms."""
    n = len(calls)
    fds = [(_memfd("in", data), _memfd("out"), _memfd("err")) for _, _, data in calls]
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    index: dict = {}
    end, status = [0] * n, [None] * n
    released = False
    old = signal.signal(signal.SIGALRM, _on_deadline)
    signal.alarm(BURST_DEADLINE_S)
    try:
        for i, (argv0, env, _) in enumerate(calls):
            pid = os.fork()
            if pid == 0:
                _exec_when_released(argv0, env, fds[i], ready_w, go_r, go_w)
            index[pid] = i
            run.live.add(pid)
        got = 0
        while got < n:
            got += len(os.read(ready_r, n - got))
        t0 = time.perf_counter_ns()
        os.close(go_w)
        released = True
        while run.live:
            pid, st, _ = os.wait4(-1, 0)
            t = time.perf_counter_ns()
            if pid in index:
                end[index[pid]], status[index[pid]] = t, st
                run.live.discard(pid)
    except Deadline:
        raise PluginFailed(f"{len(run.live)} of {n} calls still running after {BURST_DEADLINE_S} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        if not released:
            run.kill_live()  # before closing `go`, which would release them
            os.close(go_w)
        outs = [(_read_all(o), _read_all(e)) for _, o, e in fds]
        for fd in [ready_r, ready_w, go_r] + [fd for trio in fds for fd in trio]:
            os.close(fd)
    return {"wall_ms": (max(end) - t0) / 1e6,
            "calls": [{"ms": (end[i] - t0) / 1e6, "status": status[i], "stdout": outs[i][0], "stderr": outs[i][1]}
                      for i in range(n)]}


def describe(call: dict, env: dict, what: str) -> str:
    st = call["status"]
    how = f"exit {os.WEXITSTATUS(st)}" if os.WIFEXITED(st) else f"status {st}"
    return (f"{what} failed ({how})\n  env: {' '.join(f'{k}={v}' for k, v in env.items() if k != 'PATH')}\n"
            f"  stdout: {call['stdout'].decode(errors='replace').strip() or '(empty)'}\n"
            f"  stderr: {call['stderr'].decode(errors='replace').strip() or '(empty)'}")


def first_ip(stdout: bytes):
    try:
        ips = json.loads(stdout).get("ips")
        return ips[0]["address"].split("/")[0]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def trace_phases(stderr: bytes) -> dict:
    """The phases SKEIN_TRACE=1 printed ("skein trace: parse=0.1ms ... total=2.5ms"), in ms."""
    out: dict = {}
    for line in stderr.decode(errors="replace").splitlines():
        if line.startswith("skein trace:"):
            for field in line[len("skein trace:"):].split():
                k, _, v = field.partition("=")
                if v.endswith("ms"):
                    out[k] = out.get(k, 0.0) + float(v[:-2])
    return out


# --------------------------------------------------------------------------------------
# One side: the plugin, its config, and its calls
# --------------------------------------------------------------------------------------


class Side:
    def __init__(self, run: Run, label: str, code: str, argv0: str, conf: dict, trace: bool):
        self.run, self.label, self.code, self.argv0, self.trace = run, label, code, argv0, trace
        self.data = json.dumps(conf).encode()
        self.conf = conf

    def env(self, command: str, cid: str, pod: str) -> dict:
        env = {"PATH": SPAWN_PATH, "CNI_COMMAND": command, "CNI_CONTAINERID": cid,
               "CNI_NETNS": f"/var/run/netns/{pod}", "CNI_IFNAME": "eth0", "CNI_PATH": REF_DIR}
        if self.trace:
            env["SKEIN_TRACE"] = "1"
        return env

    def pods(self, tag: str, n: int) -> list:
        return [f"{self.run.prefix}-{self.code}{tag}-{i}" for i in range(n)]

    def calls(self, command: str, pods: list) -> list:
        return [(self.argv0, self.env(command, f"{pod}-cid", pod), self.data) for pod in pods]

    def check(self, command: str, pods: list, result: dict) -> list:
        """Every call exited 0 (ADD: with an address); the ADD addresses, in pod order."""
        ips = []
        for pod, call in zip(pods, result["calls"]):
            ok = call["status"] == 0
            ip = first_ip(call["stdout"]) if command == "ADD" and ok else None
            if not ok or (command == "ADD" and ip is None):
                raise PluginFailed(f"[{self.label}] " + describe(call, self.env(command, f"{pod}-cid", pod), command))
            ips.append(ip)
        return ips

    def concurrent(self, command: str, pods: list) -> dict:
        r = burst(self.run, self.calls(command, pods))
        ips = self.check(command, pods, r)
        out = {"wall_ms": r["wall_ms"], "per_call_ms": [c["ms"] for c in r["calls"]]}
        if command == "ADD":
            out["ips"] = ips
            out["distinct"] = len(set(ips)) == len(ips)
            if not out["distinct"]:
                raise PluginFailed(f"[{self.label}] {len(pods)} concurrent ADDs gave duplicate addresses: {sorted(ips)}")
        if self.trace:
            out["traces"] = [trace_phases(c["stderr"]) for c in r["calls"]]
        return out

    def sequential(self, command: str, pods: list) -> dict:
        per, traces = [], []
        t0 = time.perf_counter_ns()
        for call in self.calls(command, pods):
            r = burst(self.run, [call])
            self.check(command, [pods[len(per)]], r)
            per.append(r["calls"][0]["ms"])
            traces.append(trace_phases(r["calls"][0]["stderr"]))
        out = {"wall_ms": (time.perf_counter_ns() - t0) / 1e6, "per_call_ms": per}
        if self.trace:
            out["traces"] = traces
        return out


def bridge_conf(name: str, bridge: str, subnet: str, data_dir: str) -> dict:
    return {"cniVersion": "1.0.0", "name": name, "type": "bridge", "bridge": bridge, "isGateway": True,
            "ipam": {"type": "host-local", "subnet": subnet, "dataDir": data_dir}}


def make_sides(run: Run, skein: str, pool: ipaddress.IPv4Network) -> list:
    nets = list(pool.subnets(new_prefix=24))
    ref = bridge_conf(f"{run.prefix}-r", f"{run.prefix}r", str(nets[1]), os.path.join(run.tmp, "hl-r"))
    sk_delegate = bridge_conf(f"{run.prefix}-s", f"{run.prefix}s", str(nets[2]), os.path.join(run.tmp, "hl-s"))
    sk = {"cniVersion": "1.0.0", "name": f"{run.prefix}-skein", "type": "skein",
          "stateDir": os.path.join(run.tmp, "skein-state"), "delegates": [sk_delegate]}
    return [Side(run, "reference", "r", os.path.join(REF_DIR, "bridge"), ref, False),
            Side(run, "skein", "s", skein, sk, True)]


# --------------------------------------------------------------------------------------
# The kernel alone
# --------------------------------------------------------------------------------------


def bare_veth_ms(run: Run, n: int, rnd: int) -> float:
    """ms for the kernel to create n veth pairs with the peer in a pod namespace, enslave and raise
    the host end, in one `ip -batch` process (its start-up subtracted: the fastest of three
    one-line batches, since a busy machine only ever adds to it)."""
    bridge = f"{run.prefix}bk"
    if subprocess.run([IP, "link", "show", bridge], capture_output=True).returncode != 0:
        subprocess.run([IP, "link", "add", bridge, "type", "bridge"], check=True, capture_output=True)
    pods = [f"{run.prefix}-k{rnd}-{i}" for i in range(n)]
    ip_batch([f"netns add {p}" for p in pods])
    try:
        lines = []
        for i, pod in enumerate(pods):
            host = f"{run.prefix}k{i}"
            lines += [f"link add {host} type veth peer name eth0 netns {pod}", f"link set {host} master {bridge} up"]
        startup = []
        for _ in range(3):
            t0 = time.perf_counter_ns()
            ip_batch(["link show dev lo"])
            startup.append(time.perf_counter_ns() - t0)
        t0 = time.perf_counter_ns()
        ip_batch(lines)
        return max(0.0, time.perf_counter_ns() - t0 - min(startup)) / 1e6
    finally:
        ip_batch([f"netns del {p}" for p in pods], check=False)


# --------------------------------------------------------------------------------------
# Rounds and the summary
# --------------------------------------------------------------------------------------


def one_round(run: Run, sides: list, n: int, rnd: int) -> dict:
    order = sides if rnd % 2 == 0 else list(reversed(sides))
    out: dict = {"round": rnd, "order": [s.label for s in order]}
    for phase in ("concurrent", "sequential"):
        pods = {s.label: s.pods(f"{phase[0]}{rnd}", n) for s in sides}
        ip_batch([f"netns add {p}" for ps in pods.values() for p in ps])
        try:
            res: dict = {}
            for s in order:
                run_op = s.concurrent if phase == "concurrent" else s.sequential
                res[s.label] = {"ADD": run_op("ADD", pods[s.label])}
            for s in order:
                res[s.label]["DEL"] = s.concurrent("DEL", pods[s.label])
            out[phase] = res
        finally:
            ip_batch([f"netns del {p}" for ps in pods.values() for p in ps], check=False)
    out["bare_veth_ms"] = bare_veth_ms(run, n, rnd)
    return out


def summarize(rounds: list, n: int) -> dict:
    med = statistics.median
    s: dict = {"count": n, "rounds": len(rounds)}
    for label in ("reference", "skein"):
        conc = [r["concurrent"][label]["ADD"]["wall_ms"] for r in rounds]
        seq = [r["sequential"][label]["ADD"]["wall_ms"] for r in rounds]
        dels = [r["concurrent"][label]["DEL"]["wall_ms"] for r in rounds]
        s[label] = {"burst_wall_ms": med(conc), "burst_adds_per_s": n / (med(conc) / 1000),
                    "sequential_wall_ms": med(seq), "sequential_adds_per_s": n / (med(seq) / 1000),
                    "speedup": med(seq) / med(conc), "del_burst_wall_ms": med(dels),
                    "distinct_addresses": all(r["concurrent"][label]["ADD"]["distinct"] for r in rounds)}
    kernel = [sum(t.get(k, 0.0) for t in r["sequential"]["skein"]["ADD"]["traces"] for k in KERNEL_PHASES)
              for r in rounds]
    bare = [r["bare_veth_ms"] for r in rounds]
    s["ideal"] = {"kernel_ms_per_add": med(kernel) / n, "adds_per_s": n / (med(kernel) / 1000),
                  "bare_veth_ms_per_pod": med(bare) / n,
                  "bare_veth_pods_per_s": n / (med(bare) / 1000) if med(bare) > 0 else float("inf")}
    s["skein_fraction_of_ideal"] = s["skein"]["burst_adds_per_s"] / s["ideal"]["adds_per_s"]
    s["reference_fraction_of_ideal"] = s["reference"]["burst_adds_per_s"] / s["ideal"]["adds_per_s"]
    s["ratio_burst_wall"] = s["skein"]["burst_wall_ms"] / s["reference"]["burst_wall_ms"]
    phases = ("journal-open", "settle", "request-commit", "observe", "apply", "outcome-commit", "total")
    traces = [t for r in rounds for t in r["concurrent"]["skein"]["ADD"]["traces"]]
    s["skein_concurrent_phase_means_ms"] = {p: statistics.fmean(t.get(p, 0.0) for t in traces) for p in phases}
    return s


def print_summary(s: dict) -> None:
    r, k, i = s["reference"], s["skein"], s["ideal"]
    n = s["count"]
    print(f"\n== {n} concurrent ADDs on one bridge network, median of {s['rounds']} rounds ==")
    rows = [("burst wall (ms)", f"{r['burst_wall_ms']:.1f}", f"{k['burst_wall_ms']:.1f}", f"{s['ratio_burst_wall']:.3f}"),
            ("throughput (ADDs/s)", f"{r['burst_adds_per_s']:.1f}", f"{k['burst_adds_per_s']:.1f}",
             f"{k['burst_adds_per_s'] / r['burst_adds_per_s']:.3f}"),
            ("one after another (ADDs/s)", f"{r['sequential_adds_per_s']:.1f}", f"{k['sequential_adds_per_s']:.1f}",
             f"{k['sequential_adds_per_s'] / r['sequential_adds_per_s']:.3f}"),
            ("speed-up from concurrency", f"{r['speedup']:.2f}x", f"{k['speedup']:.2f}x", "-"),
            ("DEL burst wall (ms)", f"{r['del_burst_wall_ms']:.1f}", f"{k['del_burst_wall_ms']:.1f}",
             f"{k['del_burst_wall_ms'] / r['del_burst_wall_ms']:.3f}"),
            ("distinct addresses, every round", "yes" if r["distinct_addresses"] else "NO",
             "yes" if k["distinct_addresses"] else "NO", "-")]
    w = [max(len(x[c]) for x in rows + [("", "reference", "skein", "ratio skein/ref")]) for c in range(4)]
    print("| " + " | ".join(h.ljust(w[c]) for c, h in enumerate(("", "reference", "skein", "ratio skein/ref"))) + " |")
    print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for row in rows:
        print("| " + " | ".join(v.ljust(w[c]) for c, v in enumerate(row)) + " |")
    print(f"  kernel-bound ideal (sequential skein ADDs' observe+apply, RTNL-serialized): {i['kernel_ms_per_add']:.2f} ms"
          f"/ADD = {i['adds_per_s']:.1f} ADDs/s; skein's burst runs at {100 * s['skein_fraction_of_ideal']:.0f}% of it, "
          f"the reference's at {100 * s['reference_fraction_of_ideal']:.0f}%")
    print(f"  bare veth into netns + enslave + up (one ip -batch): {i['bare_veth_ms_per_pod']:.2f} ms/pod = "
          f"{i['bare_veth_pods_per_s']:.1f} pods/s")
    print("  skein's concurrent ADDs, mean phase times (ms): "
          + ", ".join(f"{p} {v:.2f}" for p, v in s["skein_concurrent_phase_means_ms"].items()))


def main() -> int:
    ap = argparse.ArgumentParser(description="32 concurrent ADDs: skein vs the reference bridge plugin (run as root).")
    ap.add_argument("--skein", default=".build/release/skein", help="the skein binary (default: %(default)s)")
    ap.add_argument("--count", type=int, default=32, help="simultaneous ADDs per burst (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds; medians are over rounds (default: %(default)s)")
    ap.add_argument("--subnet-pool", default="10.242.0.0/16",
                    help="the /24s of both sides come from here, inside the node namespace (default: %(default)s)")
    ap.add_argument("--json", metavar="FILE", help="write every per-call figure, the traces and the summary")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("concurrency_bench: must run as root", file=sys.stderr)
        return 2
    if not 1 <= args.count <= 200 or args.rounds < 1:
        ap.error("--count must be 1..200 and --rounds >= 1")
    skein = os.path.abspath(args.skein)
    for p in (skein, os.path.join(REF_DIR, "bridge"), os.path.join(REF_DIR, "host-local"), IP):
        if not os.access(p, os.X_OK):
            print(f"concurrency_bench: not an executable: {p}", file=sys.stderr)
            return 2
    run = Run()
    atexit.register(run.cleanup)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    report: dict = {"prefix": run.prefix, "skein": skein, "count": args.count, "rounds_requested": args.rounds,
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "loadavg_start": os.getloadavg(),
                    "cpus": os.cpu_count(), "kernel_phases": list(KERNEL_PHASES)}
    rounds: list = []
    code = 0
    print(f"concurrency_bench: prefix {run.prefix}, {args.count} concurrent ADDs x {args.rounds} rounds, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    try:
        run.enter_node()
        sides = make_sides(run, skein, ipaddress.IPv4Network(args.subnet_pool))
        report["configs"] = {s.label: s.conf for s in sides}
        # A node that already runs pods: the journal and the bridges exist before the bursts.
        for s in sides:
            pods = s.pods("w", 1)
            ip_batch([f"netns add {pods[0]}"])
            try:
                s.sequential("ADD", pods)
                s.sequential("DEL", pods)
            finally:
                ip_batch([f"netns del {pods[0]}"], check=False)
        for rnd in range(args.rounds):
            rounds.append(one_round(run, sides, args.count, rnd))
            c = rounds[-1]["concurrent"]
            print(f"  round {rnd + 1}/{args.rounds}: burst reference {c['reference']['ADD']['wall_ms']:.1f} ms, "
                  f"skein {c['skein']['ADD']['wall_ms']:.1f} ms", flush=True)
        report["summary"] = summarize(rounds, args.count)
        print_summary(report["summary"])
    except PluginFailed as e:
        code = 1
        report["failure"] = str(e)
        print(f"\nconcurrency_bench: PLUGIN FAILURE\n{e}", file=sys.stderr)
    except KeyboardInterrupt:
        code = 130
        report["interrupted"] = True
        print("\nconcurrency_bench: interrupted; cleaning up", file=sys.stderr)
    finally:
        run.cleanup()
        report["rounds"] = rounds
        report["loadavg_end"] = os.getloadavg()
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1)
            print(f"concurrency_bench: wrote {args.json}")
    return code


if __name__ == "__main__":
    sys.exit(main())
