#!/usr/bin/env bash
# Regenerates tools/skein.order: the functions that VERSION, ADD, CHECK, DEL, STATUS and GC
# execute, in first-use order, recorded with valgrind's callgrind on a real bridge attachment in a
# scratch network namespace (run as root; needs valgrind). Rebuild with tools/build.sh afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get install -y -qq valgrind >/dev/null; }
tools/build.sh >/dev/null
bin=$(swift build -c release --show-bin-path)/skein
run=ord$$
work=$(mktemp -d)
cleanup() { ip netns del "$run" 2>/dev/null || true; ip link del "${run}br" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$run"
conf='{"cniVersion":"1.1.0","name":"ord","type":"skein","stateDir":"'$work'/state","delegates":[{"cniVersion":"1.1.0","name":"ordnet","type":"bridge","bridge":"'${run}br'","isGateway":true,"ipam":{"type":"host-local","subnet":"10.253.254.0/24"}}]}'
for cmd in VERSION ADD CHECK DEL STATUS GC; do
  CNI_COMMAND=$cmd CNI_CONTAINERID=$run CNI_NETNS=/var/run/netns/$run CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/$cmd.out" "$bin" <<<"$conf" >/dev/null 2>"$work/$cmd.err"
done
# Function names in first-use order across the commands; callgrind's recursion suffixes ('2) and
# unnamed addresses dropped.
for cmd in VERSION ADD CHECK DEL STATUS GC; do
  sed -n -E 's/^c?fn=\([0-9]+\) (.+)$/\1/p' "$work/$cmd.out"
done | sed -e "s/'[0-9]*$//" -e '/^0x/d' | awk '!seen[$0]++' > tools/skein.order
wc -l tools/skein.order
