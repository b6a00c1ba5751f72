#!/usr/bin/env bash
# Issue 7's crash, kill-storm and concurrency suites against the release binaries, as one command.
#
#   tools/storm/run.sh                          # CI scale: every failpoint, a 200-operation storm
#   SKEIN_STORM_OPS=1000 tools/storm/run.sh     # the issue's 1,000-operation storm
#   SKEIN_STORM_SEED=<n> tools/storm/run.sh     # replay one storm's choices (the seed is printed)
#
# Needs root (the tests create network namespaces). Builds the shipped binaries with tools/build.sh
# unless SKEIN_BIN already names one; extra arguments go to `swift test` (e.g. --scratch-path DIR).
# The figures (storm ops/s, concurrent ADDs/s against the kernel-bound ideal) are printed in the
# test output, on lines starting "kill storm:" and "concurrency:".
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
if [ -z "${SKEIN_BIN:-}" ]; then
    tools/build.sh
    SKEIN_BIN="$PWD/$(swift build -c release --show-bin-path | sed "s#^$PWD/##")/skein"
fi
export SKEIN_BIN
export SKEIN_JOURNAL_BIN="${SKEIN_JOURNAL_BIN:-${SKEIN_BIN%/skein}/skein-journal}"
swift test "$@" --filter 'CrashSuiteTests|KillStormTests|ConcurrencyTests'
