#!/usr/bin/env bash
# Regenerates tools/skein.order, the function layout of the `skein` binary (see tools/build.sh).
#
# Peak RSS of a CNI call is mostly text pages: every first touch of a 64 KB window of the binary
# maps the whole window (the kernel's fault-around), so the functions a call runs must sit
# together. The order is: the functions of a meta ADD of three networks (bridge eth0, bridge and
# macvlan from nadDir), then those that single bridge/macvlan ADDs, CHECK, DEL, VERSION, STATUS
# and GC add, recorded with valgrind's callgrind on real attachments in a scratch network
# namespace; then the string functions (memcpy, strlen, …) glibc's ifunc resolvers pick on THIS
# CPU, read from the running binary with gdb (callgrind's virtual CPU picks other variants).
#
# Run as root after code changes on the CNI path (names of specialised functions drift), then
# tools/build.sh. Stale names in the file are harmless (lld ignores them); new code is merely left
# unordered.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in valgrind gdb; do
  command -v $tool >/dev/null || apt-get install -y -qq $tool >/dev/null
done
tools/build.sh >/dev/null 2>&1
bin=$(swift build -c release --show-bin-path)/skein
run=ord$$
work=$(mktemp -d)
cleanup() {
  ip netns del "$run" 2>/dev/null || true
  for l in "${run}br" "${run}nb" "${run}m"; do ip link del "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$run"
ip link add "${run}m" type veth peer name "${run}p"
ip link set "${run}m" up
mkdir -p "$work/nads"
bridge() { echo '{"cniVersion":"1.1.0","name":"'$1'","type":"bridge","bridge":"'$2'","isGateway":true,"ipam":{"type":"host-local","subnet":"'$3'"}}'; }
macvlan() { echo '{"cniVersion":"1.1.0","name":"'$1'","type":"macvlan","master":"'${run}m'","mode":"bridge","ipam":{"type":"host-local","subnet":"'$2'"}}'; }
nad() { jq -n --arg name "$1" --arg conf "$2" '{apiVersion:"k8s.cni.cncf.io/v1",kind:"NetworkAttachmentDefinition",metadata:{name:$name,namespace:"default"},spec:{config:$conf}}'; }
nad ord-b "$(bridge ordb "${run}nb" 10.253.252.0/24)" > "$work/nads/ord-b.json"
nad ord-c "$(macvlan ordc 10.253.251.0/24)" > "$work/nads/ord-c.json"
skein() { echo '{"cniVersion":"1.1.0","name":"ord","type":"skein","stateDir":"'$work'/state","delegates":['"$1"']'"$2"'}'; }
meta=$(skein "$(bridge orda "${run}br" 10.253.254.0/24)" ',"nadDir":"'$work'/nads","capabilities":{"podAnnotations":true},"runtimeConfig":{"podAnnotations":{"k8s.v1.cni.cncf.io/networks":"ord-b,ord-c"}}')
single=$(skein "$(bridge orda "${run}br" 10.253.254.0/24)" '')
mvlan=$(skein "$(macvlan ordm 10.253.253.0/24)" '')

# step NAME COMMAND CONTAINER IFNAME CONFIG
step() {
  CNI_COMMAND=$2 CNI_CONTAINERID=$3 CNI_NETNS=/var/run/netns/$run CNI_IFNAME=$4 CNI_PATH=/usr/lib/cni \
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/$1.out" "$bin" <<<"$5" >/dev/null 2>"$work/$1.err" ||
    { echo "gen-order: $1 failed" >&2; cat "$work/$1.err" >&2; exit 1; }
  steps+=("$1")
}
steps=()
step meta-add ADD "${run}a" eth0 "$meta"
step bridge-add ADD "${run}b" eth1 "$single"
step macvlan-add ADD "${run}c" eth2 "$mvlan"
step meta-check CHECK "${run}a" eth0 "$meta"
step meta-del DEL "${run}a" eth0 "$meta"
step bridge-del DEL "${run}b" eth1 "$single"
step macvlan-del DEL "${run}c" eth2 "$mvlan"
step version VERSION "${run}a" eth0 "$single"
step status STATUS "${run}a" eth0 "$single"
step gc GC "${run}a" eth0 "$single"

# glibc runs every ifunc resolver at start-up (IRELATIVE relocations): they go first.
resolvers=$(readelf -rW "$bin" | awk '$3 == "R_X86_64_IRELATIVE" { print $4 }' | python3 -c '
import subprocess, sys
want = {int(a, 16) for a in sys.stdin.read().split()}
nm = subprocess.run(["nm", "--defined-only", sys.argv[1]], capture_output=True, text=True).stdout
print("\n".join(sorted({p[2] for p in (l.split() for l in nm.splitlines()) if len(p) == 3 and int(p[0], 16) in want})))' "$bin")
# The ifunc'ed string functions this CPU runs (libm's are off the CNI path): the IRELATIVE slots, read once relocated (at main).
slots=$(readelf -rW "$bin" | awk '$3 == "R_X86_64_IRELATIVE" { printf "0x%s ", $1 }')
gdb -q -batch -ex 'set environment CNI_COMMAND VERSION' -ex 'break main' -ex 'run' \
    -ex "python
import gdb
inf = gdb.selected_inferior()
for s in '$slots'.split():
    print('SLOT %x' % int.from_bytes(bytes(inf.read_memory(int(s, 16), 8)), 'little'))
" "$bin" </dev/null 2>/dev/null | awk '/^SLOT /{print $2}' > "$work/slots"
ifuncs=$(nm --defined-only "$bin" | python3 -c '
import sys
want = {int(a, 16) for a in open(sys.argv[1]).read().split()}
names = sorted({p[2] for p in (l.split() for l in sys.stdin) if len(p) == 3 and int(p[0], 16) in want
                and p[2].startswith(("__mem", "__str", "__stp", "__raw", "__wmem", "__wcs"))})
print("\n".join(names))' "$work/slots")

{
  # The resolvers, this CPU's string functions (every call uses them), then each step's functions in turn
  # (callgrind recursion suffixes and unnamed addresses dropped).
  echo "$resolvers"
  echo "$ifuncs"
  for s in "${steps[@]}"; do
    sed -n -E 's/^c?fn=\([0-9]+\) (.+)$/\1/p' "$work/$s.out"
  done
} | sed -e "s/'[0-9]*$//" -e '/^0x/d' -e '/^$/d' | awk '!seen[$0]++' > tools/skein.order
echo "tools/skein.order: $(wc -l < tools/skein.order) functions ($(echo "$ifuncs" | wc -w) ifunc variants)" >&2

# Callgrind misses some functions the real calls run (tail-called metadata accessors, value
# witnesses, paths valgrind's CPU takes differently). Each miss costs a whole 64 KB window, so
# relink and replay the real ADD/DEL under perf's page-fault sampling, and move every function a
# text fault lands in that the order lacks to the front, until none is left (a fault reveals one
# function per window, hence the passes).
command -v perf >/dev/null || apt-get install -y -qq linux-perf >/dev/null
for pass in 1 2 3 4 5; do
  tools/build.sh >/dev/null 2>&1
  : > "$work/faults"
  for cfg in meta single mvlan; do
    for cmd in ADD DEL; do
      CNI_COMMAND=$cmd CNI_CONTAINERID="${run}p$pass$cfg" CNI_NETNS=/var/run/netns/$run CNI_IFNAME=eth9 \
        CNI_PATH=/usr/lib/cni perf record -q -e page-faults -c 1 -d -o "$work/pf.data" \
        "$bin" <<<"${!cfg}" >/dev/null 2>&1 || { echo "gen-order: real $cmd ($cfg) failed" >&2; exit 1; }
      perf script -i "$work/pf.data" -F addr 2>/dev/null >> "$work/faults"
    done
  done
  missing=$(nm -n --defined-only "$bin" | python3 -c '
import bisect, sys
syms = [(int(p[0], 16), p[2]) for p in (l.split() for l in sys.stdin) if len(p) == 3 and p[1] in "tTwWiI"]
addrs = [a for a, _ in syms]
lo, hi = syms[0][0], syms[-1][0]
have = set(l.strip() for l in open(sys.argv[1]))
out = []
for l in open(sys.argv[2]):
    a = int(l.split()[0], 16)
    i = bisect.bisect_right(addrs, a) - 1
    if lo <= a <= hi and i >= 0 and syms[i][1] not in have and syms[i][1] not in out:
        out.append(syms[i][1])
print("\n".join(out))' tools/skein.order "$work/faults")
  [ -n "$missing" ] || break
  echo "gen-order: pass $pass: $(echo "$missing" | wc -l) functions the real calls fault on moved to the front" >&2
  { echo "$resolvers"; echo "$ifuncs"; echo "$missing"; cat tools/skein.order; } | sed '/^$/d' | awk '!seen[$0]++' > "$work/order"
  mv "$work/order" tools/skein.order
done
tools/build.sh >/dev/null 2>&1
echo "tools/skein.order: $(wc -l < tools/skein.order) functions" >&2
