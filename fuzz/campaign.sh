# fuzz/run campaign SECONDS [TARGET...]: sourced by fuzz/run, which has built the modules and
# defines build_target, committed, fuzz_options and bin.
# Each target runs for SECONDS on its scratch corpus plus the committed seeds and corpus; then
# everything it has is minimized with libFuzzer's -merge=1 into a fresh directory, which replaces
# fuzz/corpus/TARGET (seeds, committed already, are left out of it). Logs, crash inputs and the
# table (fuzz/out/campaign.txt) stay in fuzz/out/, which is git-ignored.

# The last "cov: N ft: M" of a libFuzzer log, as "N M".
coverage_of() { grep -o 'cov: [0-9]* ft: [0-9]*' "$1" | tail -n 1 | awk '{print $2, $4}'; }

campaign_target() { # name seconds → one table row
    local name=$1 seconds=$2 log="fuzz/out/campaign-$1.log" result=ok
    build_target "$name"
    mkdir -p "fuzz/corpus-$name"
    echo "fuzz: campaign: $name for $seconds s" >&2
    # shellcheck disable=SC2046
    # A unit that takes a minute hangs; 10 s (the smoke run's limit) is reached by a starved process at nice 19.
    if ! "$bin/fuzz-$name" -max_total_time="$seconds" "${fuzz_options[@]}" -timeout=60 -artifact_prefix="fuzz/out/$name-" \
            "fuzz/corpus-$name" $(committed "$name") >"$log" 2>&1; then
        result=FAILED
    fi
    local execs cov ft
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    read -r cov ft < <(coverage_of "$log"; echo)
    # Minimize: seeds first (so what they cover is not kept again), then everything else.
    local fresh="fuzz/out/merge-$name"
    rm -rf "$fresh"
    mkdir -p "$fresh"
    [ -d "fuzz/seeds/$name" ] && find "fuzz/seeds/$name" -maxdepth 1 -type f ! -name 'make-*' -exec cp {} "$fresh/" \;
    local seeded
    seeded=$(ls "$fresh")
    # shellcheck disable=SC2046
    if "$bin/fuzz-$name" -merge=1 "${fuzz_options[@]}" "$fresh" "fuzz/corpus-$name" $(committed "$name") \
            >"fuzz/out/merge-$name.log" 2>&1; then
        for f in $seeded; do rm -f "$fresh/$f"; done
        rm -rf "fuzz/corpus/$name"
        mkdir -p fuzz/corpus
        mv "$fresh" "fuzz/corpus/$name"
    else
        result="$result merge-failed"
    fi
    local files size
    files=$(find "fuzz/corpus/$name" -type f 2>/dev/null | wc -l)
    size=$(find "fuzz/corpus/$name" -type f -printf '%s\n' 2>/dev/null | awk '{s += $1} END {printf "%d", (s + 1023) / 1024}')
    printf '%-9s %8s %12s %10s %8s %8s %7s %8s  %s\n' "$name" "$seconds" "${execs:-?}" \
        "$(( ${execs:-0} / (seconds > 0 ? seconds : 1) ))" "${cov:-?}" "${ft:-?}" "$files" "${size:-0}K" "$result" \
        | tee -a fuzz/out/campaign.txt
}

campaign() { # seconds targets...
    local seconds=$1
    shift
    mkdir -p fuzz/out
    {
        echo "# fuzz campaign $(date -u +%Y-%m-%dT%H:%MZ), $seconds s per target, $(git rev-parse --short HEAD 2>/dev/null)"
        printf '%-9s %8s %12s %10s %8s %8s %7s %8s  %s\n' target seconds execs execs/s cov ft corpus size result
    } | tee -a fuzz/out/campaign.txt
    local failed=0
    for t in "$@"; do
        campaign_target "$t" "$seconds" || failed=1
        tail -n 1 fuzz/out/campaign.txt | grep -q 'FAILED' && failed=1
    done
    return $failed
}
