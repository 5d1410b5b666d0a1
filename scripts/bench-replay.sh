#!/usr/bin/env bash
# Replay throughput: every strategy alone and all together against plain decompression of the same trace
# (the floor), measured side by side in one run of replay-bench. Writes Reports/replay-bench.md.
#
#   scripts/bench-replay.sh                 # corpus (Traces/*.plextrace) + generated large traces
#   REPEAT=5 scripts/bench-replay.sh        # best of 5 interleaved runs (default 3)
#   BASELINE_BIN=path/to/replay-bench BASELINE_LABEL="..." scripts/bench-replay.sh
#                                           # also measure an older build: trace by trace, in turn
#
# Generated traces live in .build/bench (not committed): the worked example of docs/strategies.md
# imported through `plexlab import` with N = 3,000,000 (9M blocks), and a synthetic mix of calls, returns,
# indirect branches, jcc both ways, page crossings, data touches and code writes (24M blocks, block ids
# stored raw so that its floor is not the predictive decoder's).
set -euo pipefail
cd "$(dirname "$0")/.."

REPEAT="${REPEAT:-3}"
OUT="${OUT:-Reports/replay-bench.md}"
WORK=.build/bench
mkdir -p "$WORK" "$(dirname "$OUT")"

swift build -c release --product plexlab
swift build -c release --product replay-bench
BIN="$(swift build -c release --show-bin-path)"

if [ ! -f "$WORK/worked-loop.plextrace" ]; then
    "$BIN/replay-bench" worked-jsonl "$WORK/worked-loop.jsonl" --n 3000000
    "$BIN/plexlab" import "$WORK/worked-loop.jsonl" --out "$WORK/worked-loop.plextrace" --force
    rm -f "$WORK/worked-loop.jsonl"
fi
if [ ! -f "$WORK/synthetic-mix.plextrace" ]; then
    # Raw block ids: the predictive codec decodes this deliberately unpredictable walk at about 12M blocks/s,
    # which would make the floor, not the replay, what this trace measures.
    "$BIN/replay-bench" synthetic "$WORK/synthetic-mix.plextrace" --blocks 24000000 --codec raw
fi

# Full-length recordings of the record-bench workloads (scripts/record-workloads.sh), with the block codec
# `plexlab record` writes by default: the corpus traces are capped at 4M instructions, these are not.
source scripts/record-workloads.sh
record_workloads_prepare "$WORK/record-inputs"
export PLEXLAB_QEMU_PLUGIN="$BIN/libPlexLabQEMUPlugin.so"
swift build -c release --product PlexLabQEMUPlugin
RECORDED=()
for name in "${RECORD_WORKLOADS[@]}"; do
    # Recorded again whenever plexlab was rebuilt: the default codec may have changed.
    if [ ! -f "$WORK/recorded-$name.plextrace" ] || [ "$BIN/plexlab" -nt "$WORK/recorded-$name.plextrace" ]; then
        workload_argv "$name"
        "$BIN/plexlab" record --out "$WORK/recorded-$name.plextrace" --force -- "${argv[@]}" > /dev/null < /dev/null
    fi
    RECORDED+=("$WORK/recorded-$name.plextrace")
done

shopt -s nullglob
TRACES=(Traces/*.plextrace "$WORK/synthetic-mix.plextrace" "$WORK/worked-loop.plextrace" "${RECORDED[@]}")

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
{
    echo "# Replay throughput"
    echo
    echo "Written by \`scripts/bench-replay.sh\` on $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)."
    echo "Machine: $cpu, $(nproc) cores shared with other jobs (load average $(cut -d' ' -f1-3 /proc/loadavg) at the start),"
    echo "$(swift --version 2>&1 | head -1)."
    echo
    echo "Every figure is CPU time of this process (not wall time: the machine is shared), best of $REPEAT"
    echo "interleaved runs: for each trace, the floor, each strategy alone and all strategies together run in turn,"
    echo "so the ratios compare measurements taken side by side. The *chunk loop* is reading and decompressing the"
    echo "chunks plus what the engine and the strategies do with each one; the *floor* is the same loop with"
    echo "nothing done per chunk (\`TraceReader.forEachChunk\`). The *whole run* adds opening the trace, loading"
    echo "block definitions and code pages, building the block table, and the summaries at the end: fixed costs"
    echo "that dominate the short corpus traces. Two large traces are made here: synthetic-mix (24M blocks of"
    echo "calls, returns, indirect branches, jcc both ways, page crossings, data touches and code writes, block"
    echo "ids stored raw: the predictive codec decodes this deliberately unpredictable walk at about 12M blocks/s)"
    echo "and worked-loop (the worked example of docs/strategies.md with N = 3,000,000, through \`plexlab import\`)."
    echo "The recorded-* traces are full-length \`plexlab record\` runs of the record-bench workloads"
    echo "(scripts/record-workloads.sh: python3 startup, a python3 loop, sqlite3, gzip of random data), stored with"
    echo "the recorder's default block codec, so their floor is that codec's decoder (Reports/codec-bench.md)."
    if [ -n "${BASELINE_BIN:-}" ]; then
        echo
        echo "Before and after were measured trace by trace in turn (the same traces, the same load); compare the"
        echo "ratios to the floor, which each build measured side by side with its own runs."
    fi
    echo
    if [ -f Reports/replay-bench-notes.md ]; then
        cat Reports/replay-bench-notes.md
        echo
    fi
    if [ -n "${BASELINE_BIN:-}" ]; then
        # Trace by trace, the baseline and this build in turn, so both see the same machine load.
        for trace in "${TRACES[@]}"; do
            name="$(basename "$trace")"
            # An older build may not read a trace this build recorded (a newer block codec): say so.
            if ! "$BASELINE_BIN" measure --repeat "$REPEAT" "$trace" > "$WORK/before-$name.md" 2> "$WORK/before-$name.err"; then
                printf '| trace | blocks |\n| --- | --- |\n| %s | not readable by this build: %s |\n' \
                    "$name" "$(head -1 "$WORK/before-$name.err" | tr '|' '/')" > "$WORK/before-$name.md"
            fi
            "$BIN/replay-bench" measure --repeat "$REPEAT" "$trace" > "$WORK/after-$name.md"
        done
        for side in before after; do
            if [ $side = before ]; then echo "## Before: ${BASELINE_LABEL:-$BASELINE_BIN}"; else echo "## After: this commit"; fi
            echo
            echo "### Per workload: all strategies together against the floor"
            echo
            first=1
            for trace in "${TRACES[@]}"; do
                # The summary table of each file: its header once, then its one row.
                table="$(awk '/^\| trace \|/{p=1} p&&/^$/{exit} p' "$WORK/$side-$(basename "$trace").md")"
                if [ $first = 1 ] && [ "$(echo "$table" | head -1 | tr -cd '|' | wc -c)" -gt 3 ]; then
                    echo "$table"; first=0
                else
                    echo "$table" | tail -n +3
                fi
            done
            echo
            echo "### Each strategy alone, per trace"
            echo
            for trace in "${TRACES[@]}"; do
                sed -n '/^## Each strategy/,$p' "$WORK/$side-$(basename "$trace").md" | tail -n +2 | sed 's/^### /#### /'
            done
        done
    else
        "$BIN/replay-bench" measure --repeat "$REPEAT" "${TRACES[@]}"
    fi
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
