#!/usr/bin/env bash
# Installs what building and testing Skein needs on Debian 12, if it is missing. Idempotent.
set -euo pipefail
pkgs=(libssl-dev openssl python3 liblmdb-dev lmdb-utils libnl-route-3-dev libnl-3-dev containernetworking-plugins iproute2 iputils-ping jq procps)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 -m kubernetes_validate --version 2>/dev/null | grep -qx 1.37.0 || PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'kubernetes-validate==1.37.0'  # offline Kubernetes schemas for tools/validate-manifests.sh
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
command -v swift >/dev/null || { echo "deps: no Swift toolchain (expected /opt/swift)" >&2; exit 1; }
