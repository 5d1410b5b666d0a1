#!/usr/bin/env bash
# Whole-system recording benchmark (issue 23): for each system workload (Sources/Workloads/SystemWorkloads.swift)
# the wall time of the same boot without the plugin (`plexlab record --system --no-record`) and with it
# (`plexlab record --system`), in interleaved rounds (median of per-round ratios), and the bits per executed
# block of each trace next to the user-mode figures of Reports/record-bench.md; writes
# Reports/system-record-bench.md.
#
#   scripts/bench-record-system.sh [WORKDIR]          (default WORKDIR /tmp/plexlab-system-bench)
#
# Environment: RUNS (default 2 rounds). Needs qemu-system-x86_64 10.x and the kernel (scripts/install-deps.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/plexlab-system-bench}
runs=${RUNS:-2}
export LC_ALL=C TZ=UTC
mkdir -p "$work"
cd "$root"
swift build -c release --product PlexLabQEMUSystemPlugin 2>&1 | tail -1 >&2
swift build -c release --product plexlab 2>&1 | tail -1 >&2
bin=$(swift build -c release --show-bin-path)
plexlab="$bin/plexlab"
export PLEXLAB_QEMU_SYSTEM_PLUGIN="$bin/libPlexLabQEMUSystemPlugin.so"
mapfile -t names < <("$plexlab" record --system --list-workloads)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# seconds CMD... -> wall seconds of one run (its output goes to $work/last.log)
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" > "$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.2f}')"
}

declare -A plain record
for round in $(seq 1 "$runs"); do
    for name in "${names[@]}"; do
        plain[$name]+="$(seconds "$plexlab" record --system --no-record --workload "$name") "
        record[$name]+="$(seconds "$plexlab" record --system --workload "$name" --out "$work/$name.plextrace" --force) "
        echo "round $round $name: plain ${plain[$name]} record ${record[$name]}" >&2
    done
done

{
    echo "# Whole-system recording benchmark"
    echo
    echo "Written by \`scripts/bench-record-system.sh\` on $(date -u +%Y-%m-%dT%H:%MZ) at commit $(git rev-parse --short HEAD),"
    echo "release build, $(qemu-system-x86_64 --version | head -1), kernel $(basename "$(ls /boot/vmlinuz-* | sort -V | tail -1)")."
    echo "Machine: $(nproc) cores, load average $load_before before the run and $(cut -d' ' -f1-3 /proc/loadavg) after it"
    echo "(the machine is shared: wall times vary by up to 2x between identical runs). $runs interleaved rounds; each"
    echo "ratio is taken within its round and the table shows medians (seconds of wall time)."
    echo
    echo "- **plain boot**: \`plexlab record --system --no-record --workload NAME\`: the same kernel, image, command and"
    echo "  memory under qemu-system-x86_64 without the plugin (boot, the command, power-off)."
    echo "- **record**: \`plexlab record --system --workload NAME\`: the same boot with the system plugin, the recorder"
    echo "  assembling and writing the trace. The plugin instruments the whole boot (a TB-exec callback on every TB,"
    echo "  a store callback on every kernel store) but records only the window (docs/recorder.md, \"System traces\")."
    echo
    echo "| workload | plain boot | record | record / plain | executed blocks | instructions | bits / block (stream) | bits / block (whole file) | file bytes |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for name in "${names[@]}"; do
        python3 - "$name" "${plain[$name]}" "${record[$name]}" "$work/$name.plextrace" "$plexlab" <<'PYEOF'
import json, statistics, subprocess, sys
name, plain, record, trace, plexlab = sys.argv[1:6]
plain = [float(x) for x in plain.split()]
record = [float(x) for x in record.split()]
ratio = statistics.median(r / p for r, p in zip(record, plain))
info = json.loads(subprocess.run([plexlab, "info", "--json", trace], capture_output=True, text=True, check=True).stdout)
def find(key):
    stack = [info]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if key in item: return item[key]
            stack.extend(item.values())
    return None
blocks = find("blocksExecuted") or 0
stream = find("blockStreamBytes") or 0
size = find("fileBytes") or 0
insns = find("instructions") or 0
bits = 8 * stream / blocks if blocks else 0
whole = 8 * size / blocks if blocks else 0
print(f"| {name} | {statistics.median(plain):.2f} | {statistics.median(record):.2f} | **{ratio:.2f}** | {blocks} | {insns} | **{bits:.4f}** | {whole:.2f} | {size} |")
PYEOF
    done
    echo
    echo "User-mode figures for comparison (Reports/record-bench.md, qemu-user): bits per executed block of the block"
    echo "stream 0.02-0.15 (python3, sqlite3, gzip), whole file with data pages 17-27; guest run 2.2-3.3x plain."
    echo "A system trace's whole file is dominated by its code pages (stored by physical page, kernel and user)"
    echo "and block definitions: the windows are short, so they are not amortised as in the user-mode runs."
} > Reports/system-record-bench.md
cat Reports/system-record-bench.md
