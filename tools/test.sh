#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the release binaries the integration tests
# exec, and runs every test (root tests skip themselves when not root).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
tools/build.sh
export SKEIN_BIN="$PWD/$(swift build -c release --show-bin-path | sed "s#^$PWD/##")/skein"
export SKEIN_JOURNAL_BIN="${SKEIN_BIN%/skein}/skein-journal"
swift test "$@"
