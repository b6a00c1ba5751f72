#!/usr/bin/env bash
# Fuzzes skein's input parsers with libFuzzer: a fixed seed, the seed corpus in tools/fuzz/seeds,
# the dictionaries in tools/fuzz/dict, N executions per target, one target after another on one
# core, so a run is repeatable. See tools/fuzz/README.md.
#
#   tools/fuzz/run.sh [--runs N] [--seed S] [--target NAME]... [--max-len BYTES] [--no-asan]
#
# Defaults: 1,000,000 runs per target, seed 1, every target, inputs up to 4096 bytes, ASan on.
# Per target it writes the libFuzzer log to $out/<target>.log and any crashing input to
# $out/crashes/; the summary table goes to stdout and $out/summary.txt. Exit status 1 if any
# target found something (a crash, a violated property, a timeout, an out-of-memory).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH

runs=1000000 seed=1 max_len=4096 sanitizers=fuzzer,address targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --target) targets+=("$2"); shift 2 ;;
        --max-len) max_len=$2; shift 2 ;;
        --no-asan) sanitizers=fuzzer; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(json yaml cni-request skein-config network-selection nad)

scratch=.build-fuzz
out=${SKEIN_FUZZ_OUT:-$scratch/fuzz-run}

# 1. The parsers and the harness, instrumented. SwiftPM builds them as libraries; the fuzzer binary
#    is linked by hand because SwiftPM's link of an executable target defines `main` itself
#    (--defsym main=<module>_main), which collides with libFuzzer's.
swift build -c release --scratch-path "$scratch" --target SkeinFuzz -Xswiftc "-sanitize=$sanitizers" >&2
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)
swiftc -O -sanitize="$sanitizers" -parse-as-library -module-name SkeinFuzzMain -I "$bin/Modules" \
    tools/fuzz/libfuzzer/Entry.swift "$bin"/SkeinModel.build/*.o "$bin"/SkeinMeta.build/*.o "$bin"/SkeinFuzz.build/*.o \
    -o "$bin/skein-fuzz" 2> >(grep -v "Cannot export local symbol" >&2)

# 2. One target at a time, from a fresh copy of the seed corpus (so a rerun starts where this did).
rm -rf "$out" && mkdir -p "$out/crashes"
export SWIFT_BACKTRACE=enable=no   # Swift's backtracer would stall libFuzzer's crash handling
# Repeatability: Swift seeds its hashing per process, and libFuzzer keys its comparison tables by
# code address, so per-process hash seeds and ASLR would each change which inputs it keeps.
export SWIFT_DETERMINISTIC_HASHING=1
norandom=(setarch "$(uname -m)" -R)
"${norandom[@]}" true 2>/dev/null || norandom=()
printf '%-18s %10s %8s %9s %7s %7s %8s %8s  %s\n' target execs seconds exec/s cov ft corpus rss_mb result | tee "$out/summary.txt"
status=0
for t in "${targets[@]}"; do
    corpus="$out/corpus/$t"
    mkdir -p "$corpus" && cp tools/fuzz/seeds/"$t"/* "$corpus"/
    start=$(date +%s.%N)
    set +e
    SKEIN_FUZZ_TARGET=$t "${norandom[@]}" "$bin/skein-fuzz" "$corpus" -seed="$seed" -runs="$runs" -max_len="$max_len" \
        -dict="tools/fuzz/dict/$t.dict" -timeout=10 -reload=0 -rss_limit_mb=4096 -detect_leaks=0 -print_final_stats=1 \
        -artifact_prefix="$out/crashes/$t-" >"$out/$t.log" 2>&1
    rc=$?
    set -e
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
    rate=$(echo "${execs:-0} / $seconds" | bc)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$out/$t.log")
    last=$(grep -E '^#[0-9]+' "$out/$t.log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
    result=clean
    if [[ $rc -ne 0 ]]; then result="FOUND (exit $rc): $(ls "$out"/crashes/"$t"-* 2>/dev/null | tr '\n' ' ')"; status=1; fi
    printf '%-18s %10s %8.1f %9s %7s %7s %8s %8s  %s\n' "$t" "${execs:-?}" "$seconds" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
        "${corp:-?}" "${rss:-?}" "$result" | tee -a "$out/summary.txt"
done
echo "logs, corpora and crashes: $out (seed $seed, $runs runs per target, max_len $max_len, sanitizers $sanitizers)" >&2
exit $status
