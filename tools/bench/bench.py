#!/usr/bin/env python3
"""Skein benchmark: Skein vs. the reference CNI plugins, side by side in the same run.

A benchmark, not a test: it reports medians, p90s and ratios, and exits 0 unless a plugin
call fails (or --enforce is given and a target is missed). See tools/bench/README.md.

Every iteration, per side: `ip netns add` (untimed) -> ADD (timed) -> DEL (timed) ->
`ip netns del` (untimed). Reference and Skein iterations alternate (A/B, with the order
flipped every iteration) so machine noise lands on both. Timing is whole-process:
time.perf_counter_ns() around posix_spawn + wait4. Peak RSS comes from a separate untimed pass
under GNU time(1): see the RSS note in the code (wait4 from Python cannot measure it).

Python 3 standard library only. Must run as root.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import ipaddress
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

REF_DIR = "/usr/lib/cni"
IP = shutil.which("ip") or "/usr/sbin/ip"
SPAWN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# --------------------------------------------------------------------------------------
# Scenarios. Each builds its configs from a `Names` object (one per side), which hands out
# run-unique network names, bridge names, free /16 subnets and directories, and records the
# bridges/links it handed out so they are deleted at the end.
#
#   reference(n) -> dict | list[dict]   plain reference plugin config(s); the binary is
#                                        REF_DIR/<config["type"]>. A list is run as sequential
#                                        calls (ifnames eth0, net1, net2, ...; DEL in reverse);
#                                        the op's time is the sum, its peak RSS the max.
#   skein(n)     -> dict                 the "type": "skein" config (one call, ifname eth0).
#   setup(n)     -> None                 optional, untimed, once per side before warm-up
#                                        (e.g. create a dummy master link for macvlan; create
#                                        it through n.link(...) so it is cleaned up).
#   min_ips                              the ADD result must carry at least this many "ips".
#   targets                              optional ratio targets replacing TARGETS for this scenario.
#
# To add a scenario, append a Scenario below ("meta3" shows a list of reference calls against one
# skein call of the same three attachments).
# --------------------------------------------------------------------------------------


def bridge_conf(n: "Names", tag: str = "0") -> dict:
    return {
        "cniVersion": "1.0.0",
        "name": n.net(tag),
        "type": "bridge",
        "bridge": n.br(tag),
        "isGateway": True,
        # Skein accepts dataDir and ignores it (allocations live in its journal); the
        # reference uses it, which keeps host-local's state inside this run's temp dir.
        "ipam": {"type": "host-local", "subnet": n.subnet(tag), "dataDir": n.dir("hl-" + tag)},
    }


def macvlan_master(n: "Names") -> None:
    """A veth pair in the host namespace; macvlan attachments go on its first end (no dummy here)."""
    a, b = n.link("m"), n.link("p")
    subprocess.run([IP, "link", "add", a, "type", "veth", "peer", "name", b], check=True, capture_output=True)
    subprocess.run([IP, "link", "set", a, "up"], check=True, capture_output=True)


def macvlan_conf(n: "Names", tag: str = "0") -> dict:
    return {
        "cniVersion": "1.0.0",
        "name": n.net(tag),
        "type": "macvlan",
        "master": n.link("m"),
        "mode": "bridge",
        "ipam": {"type": "host-local", "subnet": n.subnet(tag), "dataDir": n.dir("hl-" + tag)},
    }


def skein_conf(n: "Names", delegates: list) -> dict:
    return {
        "cniVersion": "1.0.0",
        "name": n.net("skein"),
        "type": "skein",
        "stateDir": n.dir("skein-state"),
        "delegates": delegates,
    }


META3_NETWORKS = "k8s.v1.cni.cncf.io/networks"


def meta3_nads(n: "Names") -> None:
    """The macvlan master, and (skein's side) nadDir with the bridge and macvlan NADs."""
    macvlan_master(n)
    if n.side != "s":
        return
    os.makedirs(n.dir("nads"), exist_ok=True)
    for nad, conf in (("bench-b", bridge_conf(n, "b")), ("bench-c", macvlan_conf(n, "c"))):
        obj = {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
               "metadata": {"name": nad, "namespace": "default"}, "spec": {"config": json.dumps(conf)}}
        with open(os.path.join(n.dir("nads"), nad + ".json"), "w") as f:
            json.dump(obj, f)


def meta3_skein(n: "Names") -> dict:
    """One skein ADD of three networks: the cluster bridge (eth0), then the pod's networks from
    nadDir (net1 bridge, net2 macvlan), named by the podAnnotations capability as a runtime
    without a Kubernetes API passes them."""
    conf = skein_conf(n, [bridge_conf(n, "a")])
    conf.update({"nadDir": n.dir("nads"), "capabilities": {"podAnnotations": True},
                 "runtimeConfig": {"podAnnotations": {META3_NETWORKS: "bench-b,bench-c"}}})
    return conf


@dataclass
class Scenario:
    name: str
    reference: Callable[["Names"], Union[dict, list]]
    skein: Callable[["Names"], dict]
    setup: Optional[Callable[["Names"], None]] = None
    min_ips: int = 1
    # Targets for this scenario, replacing TARGETS (None: TARGETS).
    targets: Optional[dict] = None


SCENARIOS: list = [
    Scenario(
        name="bridge",
        reference=lambda n: bridge_conf(n),
        skein=lambda n: skein_conf(n, [bridge_conf(n)]),
    ),
    Scenario(
        name="macvlan",
        reference=lambda n: macvlan_conf(n),
        skein=lambda n: skein_conf(n, [macvlan_conf(n)]),
        setup=macvlan_master,
    ),
    # The meta-plugin's job: three attachments in one skein ADD vs the sum of the reference
    # plugins' three ADDs (bridge eth0, bridge net1, macvlan net2; DELs in reverse).
    Scenario(
        name="meta3",
        reference=lambda n: [bridge_conf(n, "a"), bridge_conf(n, "b"), macvlan_conf(n, "c")],
        skein=meta3_skein,
        setup=meta3_nads,
        targets={"ADD": 0.25, "DEL": None, "ADD+DEL": None},
    ),
]

# Targets on the ratio skein/reference (medians). None = report only.
TARGETS = {"ADD": 0.20, "DEL": None, "ADD+DEL": 0.55}


# --------------------------------------------------------------------------------------
# Naming and cleanup
# --------------------------------------------------------------------------------------


class Run:
    """Per-run unique prefix, temp dir, and everything that must be removed at the end."""

    def __init__(self, keep_tmp: bool = False):
        self.prefix = "bn" + secrets.token_hex(2)
        self.tmp = tempfile.mkdtemp(prefix=f"skein-bench-{self.prefix}-")
        self.keep_tmp = keep_tmp
        self.links: list = []       # link names to `ip link del`
        self.netns: set = set()     # namespaces currently existing
        self.extra_dirs: list = []  # e.g. /var/lib/cni/networks/<net> if a plugin used the default
        self.used_octets: set = set()
        self.cleaned = False
        # --subnet-pool: subnets are carved from this network instead of 10.x.0.0/16 (so a run can
        # stay out of ranges other tests on the machine use).
        self.subnet_pool: Optional[ipaddress.IPv4Network] = None
        self.pool_taken: set = set()

    def free_octet(self) -> int:
        """A second octet x such that 10.x.0.0/16 is not in use on this host."""
        if not self.used_octets:
            out = subprocess.run([IP, "-4", "-o", "addr"], capture_output=True, text=True).stdout
            out += subprocess.run([IP, "-4", "route", "show", "table", "all"],
                                  capture_output=True, text=True).stdout
            self.used_octets.update(int(m) for m in re.findall(r"\b10\.(\d+)\.", out))
            self.used_octets.add(-1)
        choices = [x for x in range(64, 255) if x not in self.used_octets]
        if not choices:
            raise SystemExit("bench: no free 10.x.0.0/16 subnet on this host")
        x = random.choice(choices)
        self.used_octets.add(x)
        return x

    def free_pool_subnet(self) -> str:
        """The first /20 (a /24 in a pool smaller than a /20) of --subnet-pool that no address or
        route on this host touches and this run has not handed out yet."""
        pool = self.subnet_pool
        out = subprocess.run([IP, "-4", "-o", "addr"], capture_output=True, text=True).stdout
        out += subprocess.run([IP, "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
        used = [ipaddress.ip_network(m, strict=False) for m in re.findall(r"\b\d+\.\d+\.\d+\.\d+(?:/\d+)?", out)]
        for block in pool.subnets(new_prefix=max(pool.prefixlen, 20 if pool.prefixlen <= 20 else 24)):
            if str(block) not in self.pool_taken and not any(block.overlaps(u) for u in used if u.prefixlen > 0):
                self.pool_taken.add(str(block))
                return str(block)
        raise SystemExit(f"bench: no free subnet left in --subnet-pool {pool}")

    def cleanup(self) -> None:
        if self.cleaned:
            return
        self.cleaned = True
        # Namespaces first: deleting one also deletes the veth pairs with an end inside it.
        try:
            listed = subprocess.run([IP, "netns", "list"], capture_output=True, text=True).stdout
            names = {line.split()[0] for line in listed.splitlines() if line.strip()}
        except OSError:
            names = set()
        for ns in sorted((names & self.netns) | {x for x in names if x.startswith(self.prefix + "-")}):
            subprocess.run([IP, "netns", "del", ns], capture_output=True)
        try:
            listed = subprocess.run([IP, "-o", "link", "show"], capture_output=True, text=True).stdout
            present = {m.split("@")[0] for m in re.findall(r"^\d+: ([^:]+):", listed, re.M)}
        except OSError:
            present = set()
        for link in list(dict.fromkeys(self.links)) + sorted(x for x in present if x.startswith(self.prefix)):
            if link in present:
                subprocess.run([IP, "link", "del", link], capture_output=True)
                present.discard(link)
        for d in self.extra_dirs:
            shutil.rmtree(d, ignore_errors=True)
        if not self.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


class Names:
    """Names for one side ("r" = reference, "s" = skein) of one scenario."""

    def __init__(self, run: Run, scenario: str, side: str):
        self.run, self.scenario, self.side = run, scenario, side
        self._subnets: dict = {}
        self._bridges: dict = {}
        self.nets: list = []

    def net(self, tag: str) -> str:
        name = f"{self.run.prefix}-{self.side}-{self.scenario}-{tag}"
        if name not in self.nets:
            self.nets.append(name)
            # If a config leaves out ipam.dataDir, host-local writes here; remove it at the end.
            self.run.extra_dirs.append(os.path.join("/var/lib/cni/networks", name))
        return name

    def br(self, tag: str) -> str:
        if tag not in self._bridges:
            # IFNAMSIZ: at most 15 characters. "bnXXXX" + side + scenario index + tag.
            name = f"{self.run.prefix}{self.side}{len(self.run.links)}{tag}"[:15]
            self._bridges[tag] = name
            self.run.links.append(name)
        return self._bridges[tag]

    def link(self, tag: str) -> str:
        """A run-unique name for any extra host link a scenario's setup creates."""
        return self.br("l" + tag)

    def subnet(self, tag: str) -> str:
        if tag not in self._subnets:
            self._subnets[tag] = (self.run.free_pool_subnet() if self.run.subnet_pool
                                  else f"10.{self.run.free_octet()}.0.0/16")
        return self._subnets[tag]

    def dir(self, tag: str) -> str:
        return os.path.join(self.run.tmp, self.side, self.scenario, tag)


# --------------------------------------------------------------------------------------
# Running a plugin
# --------------------------------------------------------------------------------------


class PluginFailed(Exception):
    pass


@dataclass
class Sample:
    ns: int            # wall time, nanoseconds, as seen by this process
    cpu_ns: int        # ru_utime + ru_stime from wait4 (includes the children it waited for)
    rss_kb: int        # peak RSS; see the RSS note: only meaningful from an RSS-pass spawn
    status: int
    stdout: bytes
    stderr: bytes


def _memfd(name: str, data: bytes = b"") -> int:
    fd = os.memfd_create(name, 0)
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


# RSS note. On Linux, exec() folds the *old* address space's high-water RSS into the process's
# ru_maxrss (fs/exec.c exec_mmap -> setmax_mm_hiwater_rss). posix_spawn/vfork/fork from this
# Python process therefore report max(Python's RSS, the plugin's), i.e. ~13-20 MB whatever the
# plugin does. The same happens to any child a Go plugin spawns. So peak RSS is measured in a
# separate, untimed pass through GNU time(1): `time` is small; it forks (new signal struct, a copy
# of its own ~1 MB address space) and execs the plugin, and its wait4 then reports the plugin's
# real peak (floor ~1 MB). Timed runs are spawned directly and never wrapped.
GNU_TIME = "/usr/bin/time"


def spawn(argv0: str, env: dict, stdin: bytes, rss_log: Optional[str] = None) -> Sample:
    """posix_spawn + wait4, timed with perf_counter_ns; stdio through memfds (set up untimed).
    With rss_log, the plugin runs under GNU time, which writes its peak RSS (KB) there."""
    fin, fout, ferr = _memfd("in", stdin), _memfd("out"), _memfd("err")
    argv = [argv0] if rss_log is None else [GNU_TIME, "-f", "%M", "-o", rss_log, argv0]
    try:
        actions = [(os.POSIX_SPAWN_DUP2, fin, 0), (os.POSIX_SPAWN_DUP2, fout, 1),
                   (os.POSIX_SPAWN_DUP2, ferr, 2)]
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        _, status, ru = os.wait4(pid, 0)
        t1 = time.perf_counter_ns()
        out, err = _read_all(fout), _read_all(ferr)
    finally:
        for fd in (fin, fout, ferr):
            os.close(fd)
    cpu = int((ru.ru_utime + ru.ru_stime) * 1e9)
    rss = -1
    if rss_log is not None:
        try:
            with open(rss_log) as f:
                lines = [x for x in f.read().splitlines() if x.strip()]
            os.unlink(rss_log)
            rss = int(lines[-1])
        except (OSError, ValueError, IndexError):
            rss = -1
    return Sample(t1 - t0, cpu, rss, status, out, err)


def plugin_env(command: str, cid: str, netns: str, ifname: str, cni_path: str) -> dict:
    return {
        "PATH": SPAWN_PATH,
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": cid,
        "CNI_NETNS": f"/var/run/netns/{netns}",
        "CNI_IFNAME": ifname,
        "CNI_PATH": cni_path,
    }


def describe_failure(what: str, s: Sample, argv0: str, env: dict, conf: bytes) -> str:
    if os.WIFEXITED(s.status):
        how = f"exit {os.WEXITSTATUS(s.status)}"
    elif os.WIFSIGNALED(s.status):
        how = f"killed by signal {os.WTERMSIG(s.status)}"
    else:
        how = f"status {s.status}"
    return (f"{what} failed ({how}): {argv0}\n"
            f"  env: {' '.join(f'{k}={v}' for k, v in env.items() if k != 'PATH')}\n"
            f"  config: {conf.decode(errors='replace')}\n"
            f"  stdout: {s.stdout.decode(errors='replace').strip() or '(empty)'}\n"
            f"  stderr: {s.stderr.decode(errors='replace').strip() or '(empty)'}")


def check_add(s: Sample, min_ips: int) -> Optional[str]:
    if s.status != 0:
        return "non-zero exit"
    try:
        res = json.loads(s.stdout)
    except ValueError as e:
        return f"stdout is not JSON ({e})"
    if not isinstance(res, dict):
        return "result is not a JSON object"
    ips = res.get("ips")
    if not isinstance(ips, list) or len(ips) < min_ips:
        return f"result has no ips entry (need {min_ips})"
    return None


# Wrappers put first on CNI_PATH during the RSS pass, so that every plugin a plugin execs
# (the reference bridge execs host-local) is also measured on its own.
CHILD_WRAPPER = """#!/bin/sh
exec {time} -a -o {log} -f "{name} $CNI_COMMAND %M" {real} "$@"
"""


def make_wrapper_dir(run: Run, side_code: str) -> tuple:
    d = os.path.join(run.tmp, f"wrap-{side_code}")
    log = os.path.join(run.tmp, f"children-{side_code}.log")
    os.makedirs(d, exist_ok=True)
    for name in sorted(os.listdir(REF_DIR)):
        real = os.path.join(REF_DIR, name)
        if os.path.isfile(real) and os.access(real, os.X_OK):
            w = os.path.join(d, name)
            with open(w, "w") as f:
                f.write(CHILD_WRAPPER.format(time=GNU_TIME, log=log, name=name, real=real))
            os.chmod(w, 0o755)
    return d, log


def read_child_log(log: str) -> dict:
    """{"host-local ADD": [kb, ...], ...} from the wrappers' log, then truncate it."""
    out: dict = {}
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2].isdigit():
                    out.setdefault(f"{parts[0]} {parts[1]}", []).append(int(parts[2]))
        os.unlink(log)
    return out


@dataclass
class Side:
    """One side of one scenario: how to call it and the samples collected."""
    label: str              # "reference" / "skein"
    code: str               # "r" / "s"
    calls: list             # list of (argv0, config dict, ifname), run in order for ADD
    cni_path: str
    min_ips: int
    samples: dict = field(default_factory=lambda: {"ADD": [], "DEL": [], "ADD+DEL": []})
    rss: list = field(default_factory=list)       # RSS pass: {"iter", "ADD_kb", "DEL_kb", "calls"}
    children: dict = field(default_factory=dict)  # RSS pass: exec'd children's own peaks

    def one(self, run: Run, it: str, record: bool, rss_wrap: Optional[tuple] = None) -> None:
        ns = f"{run.prefix}-{self.code}-{it}"
        cid = f"{run.prefix}-{self.code}-{it}"
        r = subprocess.run([IP, "netns", "add", ns], capture_output=True, text=True)
        if r.returncode != 0:
            raise PluginFailed(f"ip netns add {ns} failed: {r.stderr.strip()}")
        run.netns.add(ns)
        cni_path = self.cni_path if rss_wrap is None else rss_wrap[0] + ":" + self.cni_path
        rss_log = None if rss_wrap is None else os.path.join(run.tmp, f"rss-{self.code}.txt")
        try:
            per_op = {}
            for op, calls in (("ADD", self.calls), ("DEL", list(reversed(self.calls)))):
                total_ns, cpu, rss, per_call = 0, 0, -1, []
                for argv0, conf, ifname in calls:
                    env = plugin_env(op, cid, ns, ifname, cni_path)
                    data = json.dumps(conf).encode()
                    s = spawn(argv0, env, data, rss_log)
                    why = check_add(s, self.min_ips) if op == "ADD" else (
                        None if s.status == 0 else "non-zero exit")
                    if why:
                        raise PluginFailed(f"[{self.label}, iteration {it}] {why}\n"
                                           + describe_failure(op, s, argv0, env, data))
                    total_ns += s.ns
                    cpu += s.cpu_ns
                    rss = max(rss, s.rss_kb)
                    call = {"plugin": os.path.basename(argv0), "ifname": ifname}
                    call.update({"rss_kb": s.rss_kb} if rss_wrap else {"ms": s.ns / 1e6, "cpu_ms": s.cpu_ns / 1e6})
                    per_call.append(call)
                per_op[op] = {"ms": total_ns / 1e6, "cpu_ms": cpu / 1e6, "rss_kb": rss, "calls": per_call}
        finally:
            subprocess.run([IP, "netns", "del", ns], capture_output=True)
            run.netns.discard(ns)
        if not record:
            return
        if rss_wrap is not None:
            self.rss.append({"iter": it, "ADD_kb": per_op["ADD"]["rss_kb"], "DEL_kb": per_op["DEL"]["rss_kb"],
                             "calls": {"ADD": per_op["ADD"]["calls"], "DEL": per_op["DEL"]["calls"]}})
            for k, v in read_child_log(rss_wrap[1]).items():
                self.children.setdefault(k, []).extend(v)
            return
        for op in ("ADD", "DEL"):
            self.samples[op].append({"iter": it, "ms": per_op[op]["ms"], "cpu_ms": per_op[op]["cpu_ms"],
                                     "calls": per_op[op]["calls"]})
        self.samples["ADD+DEL"].append({"iter": it, "ms": per_op["ADD"]["ms"] + per_op["DEL"]["ms"],
                                        "cpu_ms": per_op["ADD"]["cpu_ms"] + per_op["DEL"]["cpu_ms"]})


# --------------------------------------------------------------------------------------
# Statistics and output
# --------------------------------------------------------------------------------------


def pct(xs: list, p: float) -> float:
    """Percentile with linear interpolation (numpy's default)."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def fmt(x: float, nd: int = 2) -> str:
    return "-" if x != x else f"{x:.{nd}f}"


def table(headers: list, rows: list) -> str:
    w = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w[i]) for i, c in enumerate(cells)) + " |"
    sep = "|" + "|".join("-" * (x + 2) for x in w) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in rows])


def summarize(ref: Side, sk: Side, targets: Optional[dict] = None) -> dict:
    med = statistics.median
    targets = TARGETS if targets is None else targets
    summary: dict = {"ops": {}, "cpu": {}, "rss": None}
    for op in ("ADD", "DEL", "ADD+DEL"):
        r = [x["ms"] for x in ref.samples[op]]
        s = [x["ms"] for x in sk.samples[op]]
        rm, sm = med(r), med(s)
        ratio = sm / rm if rm else float("nan")
        target = targets.get(op)
        summary["ops"][op] = {
            "reference_median_ms": rm, "reference_p90_ms": pct(r, 90),
            "skein_median_ms": sm, "skein_p90_ms": pct(s, 90),
            "ratio": ratio, "target": target,
            "pass": None if target is None else ratio <= target,
        }
        rc, sc = med([x["cpu_ms"] for x in ref.samples[op]]), med([x["cpu_ms"] for x in sk.samples[op]])
        summary["cpu"][op] = {"reference_median_ms": rc, "skein_median_ms": sc, "ratio": sc / rc if rc else None}
    if ref.rss and sk.rss:
        r_rss = [x[k] for x in ref.rss for k in ("ADD_kb", "DEL_kb")]
        s_rss = [x[k] for x in sk.rss for k in ("ADD_kb", "DEL_kb")]
        summary["rss"] = {
            "runs_per_side": len(ref.rss),
            "reference_median_kb": med(r_rss), "reference_p90_kb": pct(r_rss, 90), "reference_max_kb": max(r_rss),
            "skein_median_kb": med(s_rss), "skein_p90_kb": pct(s_rss, 90), "skein_max_kb": max(s_rss),
            "per_op": {op: {"reference_median_kb": med([x[op + "_kb"] for x in ref.rss]),
                            "skein_median_kb": med([x[op + "_kb"] for x in sk.rss])} for op in ("ADD", "DEL")},
            "children": {side.label: {k: {"median_kb": med(v), "max_kb": max(v), "n": len(v)}
                                      for k, v in sorted(side.children.items())} for side in (ref, sk)},
            "pass": max(s_rss) <= med(r_rss),
        }
    return summary


def print_summary(name: str, summ: dict, n: int) -> None:
    def mb(kb: float) -> float:
        return kb / 1024.0
    rows = []
    for op in ("ADD", "DEL", "ADD+DEL"):
        o = summ["ops"][op]
        t = o["target"]
        rows.append([f"{op} (ms)", fmt(o["reference_median_ms"]), fmt(o["reference_p90_ms"]),
                     fmt(o["skein_median_ms"]), fmt(o["skein_p90_ms"]), fmt(o["ratio"], 3),
                     "-" if t is None else f"<= {t:.2f}",
                     "report" if o["pass"] is None else ("PASS" if o["pass"] else "FAIL")])
    r = summ["rss"]
    if r:
        rows.append(["peak RSS (MB)", fmt(mb(r["reference_median_kb"])), fmt(mb(r["reference_p90_kb"])),
                     fmt(mb(r["skein_median_kb"])), fmt(mb(r["skein_p90_kb"])),
                     fmt(r["skein_median_kb"] / r["reference_median_kb"], 3),
                     f"skein max {mb(r['skein_max_kb']):.2f} <= ref median {mb(r['reference_median_kb']):.2f}",
                     "PASS" if r["pass"] else "FAIL"])
    print(f"\n== scenario {name}: {n} timed iterations per side, A/B interleaved ==")
    print(table(["operation", "reference median", "reference p90", "skein median", "skein p90",
                 "ratio skein/ref", "target", "result"], rows))
    c = summ["cpu"]
    print("  CPU user+sys (incl. waited-for children), medians ms: "
          + ";  ".join(f"{op} ref {fmt(c[op]['reference_median_ms'])} / skein {fmt(c[op]['skein_median_ms'])}"
                       for op in ("ADD", "DEL")))
    if r:
        po = r["per_op"]
        print(f"  peak RSS ({r['runs_per_side']} untimed iterations per side under GNU time), medians MB: "
              f"ADD ref {mb(po['ADD']['reference_median_kb']):.2f} / skein {mb(po['ADD']['skein_median_kb']):.2f};  "
              f"DEL ref {mb(po['DEL']['reference_median_kb']):.2f} / skein {mb(po['DEL']['skein_median_kb']):.2f}")
        print("  The reference figure is the bridge process's ru_maxrss, which Linux reports as max(bridge, the"
              " children it waited for, i.e. host-local).")
        for label, kids in r["children"].items():
            if kids:
                print(f"  {label}: children exec'd through CNI_PATH, own peak RSS medians MB: "
                      + ", ".join(f"{k} {mb(v['median_kb']):.2f} (n={v['n']})" for k, v in kids.items()))
            else:
                print(f"  {label}: exec'd no plugin through CNI_PATH")


def startup_floor(ref_bin: str, skein: str, n: int, rss_runs: int, tmp: str) -> dict:
    env = {"PATH": SPAWN_PATH, "CNI_COMMAND": "VERSION", "CNI_PATH": REF_DIR}
    stdin = b'{"cniVersion":"1.0.0"}'
    out: dict = {"reference": {"ms": [], "status": [], "rss_kb": []}, "skein": {"ms": [], "status": [], "rss_kb": []}}
    bins = {"reference": ref_bin, "skein": skein}
    for i in range(n):
        for label in (("reference", "skein") if i % 2 == 0 else ("skein", "reference")):
            s = spawn(bins[label], env, stdin)
            out[label]["ms"].append(s.ns / 1e6)
            out[label]["status"].append(s.status)
            try:
                ok = "supportedVersions" in json.loads(s.stdout)
            except (ValueError, TypeError):
                ok = False
            out[label].setdefault("version_json_ok", []).append(ok)
    if os.access(GNU_TIME, os.X_OK):
        for _ in range(rss_runs):
            for label in ("reference", "skein"):
                out[label]["rss_kb"].append(spawn(bins[label], env, stdin, os.path.join(tmp, "rss-v.txt")).rss_kb)
    return out


# --------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description="Benchmark Skein against the reference CNI plugins (run as root).")
    ap.add_argument("--skein", default=".build/release/skein", help="path to the skein binary (default: %(default)s)")
    ap.add_argument("--iterations", type=int, default=30, help="timed iterations per side (default: %(default)s)")
    ap.add_argument("--warmup", type=int, default=3, help="discarded iterations per side first (default: %(default)s)")
    ap.add_argument("--rss-runs", type=int, default=10,
                    help="untimed ADD/DEL iterations per side under GNU time for peak RSS; 0 = skip "
                         "(default: %(default)s)")
    ap.add_argument("--startup-runs", type=int, default=30, help="VERSION calls per binary (default: %(default)s)")
    ap.add_argument("--scenario", action="append", help="run only this scenario (repeatable); default: all")
    ap.add_argument("--json", metavar="FILE", help="write raw samples and the summary as JSON")
    ap.add_argument("--enforce", action="store_true", help="exit 1 if a target is missed")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (skein stateDir, host-local data)")
    ap.add_argument("--subnet-pool", metavar="CIDR",
                    help="carve the subnets (/20s) from this IPv4 network instead of free 10.x.0.0/16s")
    ap.add_argument("--skein-is-reference", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if os.geteuid() != 0:
        print("bench: must run as root (creates network namespaces and bridges)", file=sys.stderr)
        return 2
    if args.iterations < 1:
        ap.error("--iterations must be >= 1")
    if args.warmup < 1:
        print("bench: warning: with --warmup 0 the first ADD of each side also creates its bridge", file=sys.stderr)
    skein = os.path.join(REF_DIR, "bridge") if args.skein_is_reference else os.path.abspath(args.skein)
    for p in [skein, os.path.join(REF_DIR, "bridge"), os.path.join(REF_DIR, "host-local"), IP]:
        if not os.access(p, os.X_OK):
            print(f"bench: not an executable: {p}", file=sys.stderr)
            return 2
    if args.rss_runs > 0 and not os.access(GNU_TIME, os.X_OK):
        print(f"bench: warning: {GNU_TIME} (Debian package 'time') not found: peak RSS is not measured",
              file=sys.stderr)
        args.rss_runs = 0
    scenarios = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    if not scenarios:
        ap.error(f"no such scenario; known: {', '.join(s.name for s in SCENARIOS)}")

    pool = None
    if args.subnet_pool:
        try:
            pool = ipaddress.IPv4Network(args.subnet_pool)
        except ValueError as e:
            ap.error(f"--subnet-pool: {e}")
        if pool.prefixlen > 24:
            ap.error("--subnet-pool must be a /24 or larger")

    run = Run(keep_tmp=args.keep_tmp)
    run.subnet_pool = pool
    atexit.register(run.cleanup)

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    report: dict = {
        "prefix": run.prefix, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {"kernel": platform.release(), "cpus": os.cpu_count(), "python": platform.python_version(),
                 "loadavg_start": os.getloadavg()},
        "skein": {"path": skein, "size_bytes": os.path.getsize(skein), "stand_in": args.skein_is_reference},
        "reference": {"dir": REF_DIR},
        "iterations": args.iterations, "warmup": args.warmup, "rss_runs": args.rss_runs, "targets": TARGETS,
        "subnet_pool": args.subnet_pool,
        "scenario_targets": {sc.name: sc.targets for sc in SCENARIOS if sc.targets is not None},
        "startup": {}, "scenarios": {},
    }
    print(f"bench: run prefix {run.prefix}, temp dir {run.tmp}, load average {os.getloadavg()[0]:.2f}")
    print(f"bench: skein = {skein}{'  (STAND-IN: reference bridge)' if args.skein_is_reference else ''}")
    failed = missed = False
    gc.disable()
    try:
        ref_bin = os.path.join(REF_DIR, "bridge")
        su = startup_floor(ref_bin, skein, args.startup_runs, min(args.rss_runs, 5), run.tmp)
        report["startup"] = su
        rows = []
        for label, d in su.items():
            bad = sum(1 for x in d["status"] if x != 0)
            nojson = sum(1 for x in d["version_json_ok"] if not x)
            rows.append([label, os.path.basename(skein if label == "skein" else ref_bin),
                         fmt(statistics.median(d["ms"])), fmt(pct(d["ms"], 90)),
                         fmt(statistics.median(d["rss_kb"]) / 1024) if d["rss_kb"] else "-",
                         ("ok" if not bad else f"{bad} non-zero exits")
                         + ("" if not nojson else f", {nojson} without a VERSION JSON result")])
        print(f"\n== start-up floor: CNI_COMMAND=VERSION, {args.startup_runs} runs each, interleaved ==")
        print(table(["side", "binary", "median ms", "p90 ms", "peak RSS MB", "result"], rows))

        for sc in scenarios:
            rn, sn = Names(run, sc.name, "r"), Names(run, sc.name, "s")

            def calls_of(confs):
                confs = confs if isinstance(confs, list) else [confs]
                return [(os.path.join(REF_DIR, c["type"]), c, "eth0" if i == 0 else f"net{i}")
                        for i, c in enumerate(confs)]
            ref_calls = calls_of(sc.reference(rn))
            sk_calls = calls_of(sc.reference(sn)) if args.skein_is_reference else [(skein, sc.skein(sn), "eth0")]
            for n in (rn, sn):
                os.makedirs(n.dir(""), exist_ok=True)
                if sc.setup:
                    sc.setup(n)
            ref = Side("reference", "r", ref_calls, REF_DIR, sc.min_ips)
            sk = Side("skein", "s", sk_calls, REF_DIR, sc.min_ips)
            print(f"\nbench: scenario {sc.name}: warm-up {args.warmup}, {args.iterations} timed iterations, "
                  f"{args.rss_runs} RSS iterations per side", flush=True)
            total = args.warmup + args.iterations
            for i in range(total):
                record = i >= args.warmup
                for side in ((ref, sk) if i % 2 == 0 else (sk, ref)):
                    side.one(run, f"{sc.name}{i}", record)
                gc.collect()
                done = i - args.warmup + 1
                if record and (done % 10 == 0 or i == total - 1):
                    print(f"  {done}/{args.iterations}", flush=True)
            if args.rss_runs > 0:
                wraps = {side.code: make_wrapper_dir(run, side.code) for side in (ref, sk)}
                for i in range(args.rss_runs):
                    for side in ((ref, sk) if i % 2 == 0 else (sk, ref)):
                        side.one(run, f"{sc.name}m{i}", True, wraps[side.code])
            summ = summarize(ref, sk, sc.targets)
            print_summary(sc.name, summ, args.iterations)
            report["scenarios"][sc.name] = {
                "reference_calls": [{"plugin": c[0], "config": c[1], "ifname": c[2]} for c in ref_calls],
                "skein_calls": [{"plugin": c[0], "config": c[1], "ifname": c[2]} for c in sk_calls],
                "samples": {"reference": ref.samples, "skein": sk.samples},
                "rss_samples": {"reference": ref.rss, "skein": sk.rss},
                "rss_children_kb": {"reference": ref.children, "skein": sk.children},
                "summary": summ,
            }
            if any(o["pass"] is False for o in summ["ops"].values()) or (summ["rss"] and not summ["rss"]["pass"]):
                missed = True
    except PluginFailed as e:
        failed = True
        report["failure"] = str(e)
        print(f"\nbench: PLUGIN FAILURE\n{e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nbench: interrupted; cleaning up", file=sys.stderr)
        report["interrupted"] = True
    finally:
        gc.enable()
        run.cleanup()
        report["host"]["loadavg_end"] = os.getloadavg()
        if args.json:
            report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1)
            print(f"bench: wrote {args.json}")
    if report.get("interrupted"):
        return 130
    if failed:
        return 1
    if args.enforce and missed:
        print("bench: --enforce: a target was missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
