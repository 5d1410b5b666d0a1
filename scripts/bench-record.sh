#!/usr/bin/env bash
# Recording benchmark: wall time of each workload under plain qemu-x86_64 (no plugin), under the floor plugin
# (scripts/floor-plugin), under `plexlab record --no-pack` (the guest run, process tree followed through
# per-process rings), the same with --no-follow, `plexlab pack`, `plexlab record` (record + pack) and
# `record --no-pack --data-pages`, in interleaved rounds (medians of per-round ratios), and
# the bits per executed block of each packed trace, written to Reports/record-bench.md.
#
#   scripts/bench-record.sh [WORKDIR]          (default WORKDIR /tmp/plexlab-record-bench)
#
# Environment: RUNS (default 3 rounds). Needs gcc (the floor plugin), no stdin or terminal (CI=true is fine).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/plexlab-record-bench}
runs=${RUNS:-3}
export LC_ALL=C TZ=UTC
mkdir -p "$work"
for tool in qemu-x86_64 python3 sqlite3 gzip gcc; do
    command -v "$tool" > /dev/null || { echo "bench-record.sh: $tool is missing (scripts/install-deps.sh)" >&2; exit 2; }
done

cd "$root"

# Inputs, generated deterministically, and the workloads.
source "$root/scripts/record-workloads.sh"
record_bench_build
record_workloads_prepare "$work"
names=("${RECORD_WORKLOADS[@]}")

# wall CMD... -> "wall cpu" of one run (seconds; CPU = user + system of children)
wall() {
    local t
    t=$( { TIMEFORMAT='%R %U %S'; time "$@" > /dev/null 2>&1 < /dev/null; } 2>&1 | tail -1)
    read -r w user sys <<< "$t"
    echo "$w $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.4f", v[(NR + 1) / 2]; else printf "%.4f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med2() { printf '%s\n' "$@" | median | awk '{ printf "%.2f", $1 }'; }

# The floor (issue 20): a plugin whose per-TB callback only stores the TB id into a ring in memory (the types
# header lives in PlexLabWire, the API prototypes in QEMUPlugin).
floor="$work/floor-plugin.so"
gcc -O2 -shared -fPIC -DPLEXLAB_QEMU_PLUGIN -I "$root/Sources/QEMUPlugin/include" -I "$root/Sources/PlexLabWire/include" \
    -o "$floor" "$root/scripts/floor-plugin/floor-plugin.c"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=""
size_rows=""
bits_all=()
guest_all=()
for name in "${names[@]}"; do
    workload_argv "$name"
    echo "measuring $name: ${argv[*]}" >&2
    trace="$work/$name.plextrace"
    dtrace="$work/$name.data.plextrace"
    # Interleaved rounds: each round runs every configuration once, and every ratio is taken within its
    # round (the machine is shared: neighbours slow all of a round's runs together).
    q_all=() f_all=() g_all=() r_all=() d_all=() rf=() rg=() rr=() rd=() pk=() rn=() fx=() rv=() rm=()
    for ((i = 0; i < runs; i++)); do
        read -r q _ <<< "$(wall qemu-x86_64 "${argv[@]}")"
        read -r f _ <<< "$(wall qemu-x86_64 -plugin "$floor" "${argv[@]}")"
        read -r m _ <<< "$(wall qemu-x86_64 -plugin "$floor,mem=on" "${argv[@]}")"
        read -r g _ <<< "$(wall "$plexlab" record --no-pack --out "$trace" --force -- "${argv[@]}")"
        read -r n _ <<< "$(wall "$plexlab" record --no-follow --no-pack --out "$trace.one" --force -- "${argv[@]}")"
        read -r p _ <<< "$(wall "$plexlab" pack "$trace")"
        read -r r _ <<< "$(wall "$plexlab" record --out "$trace" --force -- "${argv[@]}")"
        read -r d _ <<< "$(wall "$plexlab" record --no-pack --data-pages --out "$dtrace" --force -- "${argv[@]}")"
        # The recorder's fixed cost in this round: `record --no-pack` of /bin/true minus qemu-x86_64 /bin/true.
        read -r t0 _ <<< "$(wall qemu-x86_64 /bin/true)"
        read -r t1 _ <<< "$(wall "$plexlab" record --no-pack --out "$work/true.plextrace" --force -- /bin/true)"
        fixed=$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')
        fx+=("$fixed"); rv+=("$(awk -v g="$g" -v x="$fixed" -v q="$q" 'BEGIN { printf "%.2f", (g - x) / q }')")
        q_all+=("$q"); f_all+=("$f"); g_all+=("$g"); r_all+=("$r"); d_all+=("$d"); pk+=("$p")
        rf+=("$(ratio "$f" "$q")"); rm+=("$(ratio "$m" "$q")"); rg+=("$(ratio "$g" "$q")"); rn+=("$(ratio "$n" "$q")"); rr+=("$(ratio "$r" "$q")"); rd+=("$(ratio "$d" "$q")")
    done
    "$plexlab" pack "$dtrace" > /dev/null 2>&1
    read -r blocks bits fbytes <<< "$("$plexlab" info --json "$trace" | python3 -c '
import json, sys
s = json.load(sys.stdin)["summary"]
print(s["blocksExecuted"], "%.4f" % s["bitsPerExecutedBlock"], s["fileBytes"])')"
    read -r dbits dbytes dstreams <<< "$("$plexlab" info --json "$dtrace" | python3 -c '
import json, sys
s = json.load(sys.stdin)["summary"]
blocks = max(1, s["blocksExecuted"])
print("%.3f" % (8.0 * s["fileBytes"] / blocks), s["fileBytes"],
      "%.3f" % (8.0 * (s["blockStreamBytes"] + s.get("touchStreamBytes", 0)) / blocks))')"
    gm=$(med2 "${rg[@]}")
    guest_all+=("$gm")
    bits_all+=("$bits")
    rows+="| $name | $(med2 "${q_all[@]}") | $(med2 "${f_all[@]}") | $(med2 "${rf[@]}") | $(med2 "${g_all[@]}") | **$gm** | $(med2 "${fx[@]}") | $(med2 "${rv[@]}") | $(med2 "${rn[@]}") | $(med2 "${pk[@]}") | $(med2 "${r_all[@]}") | **$(med2 "${rr[@]}")** | $(med2 "${rm[@]}") | $(med2 "${d_all[@]}") | **$(med2 "${rd[@]}")** |"$'\n'
    size_rows+="| $name | $blocks | **$bits** | $fbytes | **$dstreams** | $dbits | $dbytes |"$'\n'
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
bits_median=$(printf '%s\n' "${bits_all[@]}" | median)
ratio_median=$(printf '%s\n' "${guest_all[@]}" | median)

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mkdir -p "$root/Reports"
report="$root/Reports/record-bench.md"
# Hand-written notes from the marker line on survive a re-run.
notes=""
if [ -f "$report" ]; then notes=$(sed -n '/^<!-- notes: kept by bench-record.sh -->$/,$p' "$report"); fi
cat > "$report" <<EOF
# Recording benchmark

Written by \`scripts/bench-record.sh\` on $(date -u +%Y-%m-%dT%H:%MZ) at commit $(git -C "$root" rev-parse --short HEAD),
release build. Machine: $(nproc) cores ($cpu), $(uname -sr); load average $load_before before the run and
$load_after after it (the machine is shared: wall times vary by up to 2x between identical runs). $runs interleaved
rounds per workload; each round runs every column once, each ratio is taken within its round against that
round's plain run, and the table shows medians (seconds of wall time, ratios to plain qemu-user).

- **plain**: the command under \`qemu-x86_64\` without a plugin.
- **floor**: \`qemu-x86_64 -plugin floor-plugin.so\` (scripts/floor-plugin): a per-TB callback that stores the TB's
  id into a per-thread ring in memory (reached through an initial-exec thread-local pointer, a store the compiler
  cannot drop) and nothing else: the least any per-TB recorder costs under QEMU 7.2's plugin API.
- **guest run**: \`plexlab record --no-pack\` (the default: the process tree followed, a ring per process image):
  the guest under the plugin while the recorder stores the plugin's streams in the trace's fast form, until
  the fast form is whole (docs/recorder.md, "Record, then pack"). Target (issue 20): at most 2x plain.
- **fixed**: the recorder's fixed cost in the same round: \`record --no-pack -- /bin/true\` minus \`qemu-x86_64 /bin/true\`
  (seconds); **per block** = (guest run − fixed) / plain, what the recording costs beside it.
- **one process**: the guest run with \`--no-follow\` (only the first process; the ratio to plain).
- **pack**: \`plexlab pack\` of that fast form (decoding blocks, the dense codec).
- **record + pack**: \`plexlab record\` (recorded, then packed when the guest has exited).
- **data floor**: \`qemu-x86_64 -plugin floor-plugin.so,mem=on\`: the floor plus a memory callback on every load and
  store that compares the access's page with the thread's last one and stores it into the ring when it differs
  (less than an exact recorder needs: no counts, no store bit); the ratio to plain.
- **data pages**: \`plexlab record --no-pack --data-pages\`. Target: at most 3x plain.

| workload | plain | floor | floor / plain | guest run | guest run / plain | fixed | per block | one process / plain | pack | record + pack | record + pack / plain | data floor / plain | data pages | data pages / plain |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
$rows
Median guest run / plain: **$ratio_median**.

## Trace size (packed)

Bits per executed block = 8 × stored block-stream bytes / executed blocks of the packed trace (\`plexlab info
--json\`). Target: at most 0.1, median over the workloads, none above 0.15. With data pages (target: at most 1 bit
per executed block): 8 × (stored block-stream bytes + coded touch-stream bytes, \`touchStreamBytes\`) / executed blocks,
the streams the target is about, and 8 × the whole packed file / executed blocks beside it (code pages, block
definitions and SQLite's pages included: a short run's file is several bits per block before any touch).

| workload | executed blocks | bits / block | file bytes | with data pages: block + touch streams, bits / block | with data pages: whole file, bits / block | file bytes |
| --- | --- | --- | --- | --- | --- | --- |
$size_rows
Median: **$bits_median** bits per executed block.

Workloads: \`python3 -c 'print(42)'\`; \`python3 -c 'for i in range(300000): x = [i]'\`; \`sqlite3\` on a generated
50000-row table (\`select y, count(*), sum(x), max(z) from t group by y order by 2 desc limit 3\`); \`gzip -c\` of
5 MiB of seeded random bytes (the issue's own measurement). Inputs are generated in $work.
EOF
if [ -n "$notes" ]; then printf '\n%s\n' "$notes" >> "$report"; fi
echo "wrote Reports/record-bench.md (median guest run/plain $ratio_median, median bits/block $bits_median)" >&2
