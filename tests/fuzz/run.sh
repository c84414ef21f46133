#!/bin/sh
# make fuzz: runs each libFuzzer target of BUILD (configured with -DONDINE_FUZZ=ON) for SECONDS
# from its corpus in BUILD/fuzz/corpus/<target> (kept between runs, started from the seeds),
# with the same limits as the smoke tests, and prints one line per target. A crash leaves its
# input in BUILD/fuzz/crash-<target>-*: copy it to tests/fuzz/regressions/<target>/ with the fix.
# Usage: run.sh BUILD SECONDS
set -eu
build=$1
seconds=$2
here=$(dirname "$0")
/usr/bin/python3 "$here/make_seeds.py" "$build/fuzz/seeds" >/dev/null
status=0
for t in load session run; do
    corpus="$build/fuzz/corpus/$t"
    mkdir -p "$corpus"
    log="$build/fuzz/$t.log"
    if ! OMP_NUM_THREADS=1 "$build/bin/fuzz_$t" -rss_limit_mb=2048 -malloc_limit_mb=512 \
            -timeout=20 -max_len=65536 -max_total_time="$seconds" -print_final_stats=1 \
            -artifact_prefix="$build/fuzz/crash-$t-" "$corpus" "$build/fuzz/seeds/$t" \
            >"$log" 2>&1; then
        status=1
        echo "fuzz_$t: FAILED, see $log and $build/fuzz/crash-$t-*"
        continue
    fi
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 execs in \2 s/p' "$log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
    units=$(find "$corpus" -type f | wc -l)
    echo "fuzz_$t: $runs, corpus $units units, peak RSS $rss MB, no crash"
done
exit $status
