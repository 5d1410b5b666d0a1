#!/usr/bin/env bash
# A 20-point sweep against 20 separate `plexlab replay --param` runs of the same points on one corpus trace,
# measured side by side (interleaved, best of REPEAT) in one run. Writes Reports/sweep-bench.md.
#
#   scripts/bench-sweep.sh                               # Traces/sqlite3.plextrace, best of 3
#   TRACE=Traces/lua.plextrace REPEAT=5 scripts/bench-sweep.sh
#
# The points: dbt-ibtc with ibtc-size 1,4,16,64,256 x ras-depth 0,4,8,16 (ras-depth and the IBTC are what
# the variants change; translation and linking are the same in each). Three ways to get them:
#   replays   20 processes, each `plexlab replay TRACE --strategy dbt-ibtc --param ibtc-size=X --param ras-depth=Y --json`
#   passes    one `plexlab sweep --points-per-shard 1`: one process, 20 passes over the trace (one per point)
#   sweep     one `plexlab sweep`: one process, one pass, the 20 variants side by side
set -euo pipefail
cd "$(dirname "$0")/.."

TRACE="${TRACE:-Traces/sqlite3.plextrace}"
REPEAT="${REPEAT:-3}"
OUT="${OUT:-Reports/sweep-bench.md}"
IBTC=(1 4 16 64 256)
RAS=(0 4 8 16)

swift build -c release --product plexlab
BIN="$(swift build -c release --show-bin-path)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }

run_replays() {
    for i in "${IBTC[@]}"; do
        for r in "${RAS[@]}"; do
            "$BIN/plexlab" replay "$TRACE" --strategy dbt-ibtc --param "ibtc-size=$i" --param "ras-depth=$r" --json \
                > "$WORK/replay-$i-$r.json"
        done
    done
}
run_sweep() {  # $1: output directory, $2...: extra options
    local dir="$1"; shift
    rm -rf "$dir"
    "$BIN/plexlab" sweep "$TRACE" --strategies dbt-ibtc --grid "ibtc-size=$(IFS=,; echo "${IBTC[*]}")" \
        --grid "ras-depth=$(IFS=,; echo "${RAS[*]}")" --jobs 1 --out "$dir" "$@" > /dev/null 2> /dev/null
}

best_replays=""; best_passes=""; best_sweep=""; rounds=()
min() { python3 -c "import sys; v=[float(x) for x in sys.argv[1:] if x]; print(f'{min(v):.3f}')" "$@"; }
for round in $(seq "$REPEAT"); do
    t0=$(now); run_replays; t1=$(now)
    run_sweep "$WORK/passes" --points-per-shard 1; t2=$(now)
    run_sweep "$WORK/sweep"; t3=$(now)
    best_replays=$(min "$best_replays" "$(elapsed "$t0" "$t1")")
    best_passes=$(min "$best_passes" "$(elapsed "$t1" "$t2")")
    best_sweep=$(min "$best_sweep" "$(elapsed "$t2" "$t3")")
    line="round $round: replays $(elapsed "$t0" "$t1") s, passes $(elapsed "$t1" "$t2") s, sweep $(elapsed "$t2" "$t3") s"
    rounds+=("$line")
    echo "$line" >&2
done

# The sweep's numbers are the replays' numbers, point by point.
python3 - "$WORK" "${IBTC[*]}" "${RAS[*]}" <<'PY'
import json, sys
work, ibtc, ras = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
for name in ("sweep", "passes"):
    rows = json.load(open(f"{work}/{name}/results.json"))["rows"]
    for i in ibtc:
        for r in ras:
            row = next(x for x in rows if x["parameters"] == {"ibtc-size": i, "ras-depth": r})
            alone = json.load(open(f"{work}/replay-{i}-{r}.json"))["traces"][0]["strategies"][0]
            assert row["traps"] == alone["traps"] and row["counts"] == alone["counts"], (name, i, r)
print("all 20 points equal their replays", file=sys.stderr)
PY

blocks=$("$BIN/plexlab" info "$TRACE" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['summary']['blocksExecuted'])")
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.1f}')" "$1" "$2"; }
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
{
    echo "# Sweep versus separate replays"
    echo
    echo "Written by \`scripts/bench-sweep.sh\` on $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD),"
    echo "release build, $cpu, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo
    echo "20 points on \`$TRACE\` ($blocks executed blocks): dbt-ibtc with ibtc-size ${IBTC[*]} x ras-depth ${RAS[*]}."
    echo "Wall time, best of $REPEAT interleaved rounds; every point's counts checked equal to its replay's."
    echo
    echo "| way | what runs | seconds | vs 20 replays |"
    echo "| --- | --- | ---: | ---: |"
    echo "| replays | 20 \`plexlab replay --param ...\` processes | $best_replays | 1.0x |"
    echo "| passes | \`plexlab sweep --points-per-shard 1\`: one process, one pass per point | $best_passes | $(ratio "$best_replays" "$best_passes")x faster |"
    echo "| **sweep** | \`plexlab sweep\`: one process, one pass, 20 variants side by side | **$best_sweep** | **$(ratio "$best_replays" "$best_sweep")x faster** |"
    echo
    echo "Every round (the machine is shared: compare within a round):"
    echo
    for line in "${rounds[@]}"; do echo "- $line"; done
    echo
    echo "The sweep decodes the trace once and counts block executions once for all 20 variants; each"
    echo "variant still runs its own per-block loop (its own code cache, links, IBTC and return stack), so the"
    echo "gain is the decoding, the trace's set-up and the process start-ups, not the strategies' own work."
} > "$OUT"
cat "$OUT"
