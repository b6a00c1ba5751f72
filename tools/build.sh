#!/usr/bin/env bash
# Release build of both executables. `skein` is a static executable: start-up is paid on every CNI call.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
swift build -c release -Xswiftc -static-executable --product skein
swift build -c release -Xswiftc -static-executable --product skein-journal
bin=$(swift build -c release --show-bin-path)
ls -l "$bin/skein" "$bin/skein-journal" >&2
