#!/usr/bin/env bash
# One-command demo of Skein's main job, on a fresh machine (run as root):
# installs what it needs, builds, puts two network namespaces ("pods") on a Skein bridge network with
# a local state directory, shows their addresses, pings one from the other, verifies the journal,
# deletes both attachments, and cleans up — even on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
tools/deps.sh
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
tools/build.sh >/dev/null
bin=$(swift build -c release --show-bin-path)

run=demo$$
br="sk${run: -6}"
state=$(mktemp -d /tmp/skein-demo.XXXXXX)
cleanup() {
  for p in a b; do ip netns del "$run-$p" 2>/dev/null || true; done
  ip link del "$br" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT

conf=$(cat <<JSON
{"cniVersion":"1.0.0","name":"demo","type":"skein","stateDir":"$state/journal",
 "delegates":[{"cniVersion":"1.0.0","name":"demo-bridge","type":"bridge","bridge":"$br","isGateway":true,
   "ipam":{"type":"host-local","subnet":"10.248.0.0/24","routes":[{"dst":"0.0.0.0/0"}]}}]}
JSON
)
cni() { # cni COMMAND POD
  CNI_COMMAND=$1 CNI_CONTAINERID="$run-$2" CNI_NETNS="/var/run/netns/$run-$2" CNI_IFNAME=eth0 \
    CNI_PATH=/usr/lib/cni "$bin/skein" <<<"$conf"
}

for p in a b; do
  ip netns add "$run-$p"
  echo "== ADD pod $p"
  cni ADD "$p" | jq -c '{ips: [.ips[].address], interfaces: [.interfaces[].name]}'
done
echo "== addresses inside the pods"
for p in a b; do echo "pod $p: $(ip -n "$run-$p" -brief addr show eth0)"; done
addr_b=$(ip -n "$run-b" -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1)
echo "== pod a pings pod b ($addr_b)"
ip netns exec "$run-a" ping -c 3 -W 1 "$addr_b"
echo "== CHECK"
cni CHECK a && echo "pod a: CHECK ok"
echo "== skein-journal verify"
"$bin/skein-journal" verify --state-dir "$state/journal"
echo "== DEL both (and once more: DEL is idempotent)"
for p in a b; do cni DEL "$p"; cni DEL "$p"; done
"$bin/skein-journal" replay --state-dir "$state/journal"
echo "== done"
