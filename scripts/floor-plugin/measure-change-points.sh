#!/usr/bin/env bash
# The change-point floor against plain qemu-x86_64, the TB floor and the data floor (docs/recorder.md,
# "Change points: measured, not built"), in interleaved rounds on gzip -c of 5 MiB of random data and the
# python3 loop of scripts/bench-record.sh: per configuration the least and the median CPU seconds (user +
# system) and wall seconds, and their ratios to plain. `reconstruct` is change-points.c's reconstruct=on (the
# change points into a ring the guest never overwrites, and a second thread rebuilding every TB execution's
# touch list from them); its reconstructing thread's own CPU seconds are printed after the table.
# `inline` is reconstruct=inline (the same rebuild on the guest's thread), `plugin` the recorder's plugin with
# data pages (release build, as bench-record.sh makes it), its stream into /dev/null.
# Prints a table; writes nothing into Reports/.
#
#   scripts/floor-plugin/measure-change-points.sh [ROUNDS] [WORKDIR]   (default 5, /tmp/plexlab-record-bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/floor-plugin/measure-rounds.sh"
measure_prepare "$@"
"${cc[@]}" -o "$work/change-points.so" "$root/scripts/floor-plugin/change-points.c" -lZydis

plugin_so=$root/.build/release/libPlexLabQEMUPlugin.so
[ -f "$plugin_so" ] || (cd "$root" && swift build -c release --product PlexLabQEMUPlugin > /dev/null)
configs=(plain floor data-floor change-points reconstruct inline plugin)
run() { # CONFIG ARGV... -> "wall cpu"
    local config=$1; shift
    local plugin=()
    case $config in
    floor) plugin=(-plugin "$work/floor-plugin.so") ;;
    data-floor) plugin=(-plugin "$work/floor-plugin.so,mem=on") ;;
    change-points) plugin=(-plugin "$work/change-points.so") ;;
    reconstruct) plugin=(-plugin "$work/change-points.so,reconstruct=on,stats=on") ;;
    inline) plugin=(-plugin "$work/change-points.so,reconstruct=inline") ;;
    plugin) plugin=(-plugin "$plugin_so,fd=5,data-pages=on") ;;
    esac
    local t
    t=$( { TIMEFORMAT='%R %U %S'; time qemu-x86_64 "${plugin[@]}" "$@" > /dev/null 2> "$work/qemu.err" < /dev/null 5> /dev/null; } 2>&1 | tail -1)
    if [ "$config" = reconstruct ]; then sed -n 's/.*; \([0-9.]*\) s CPU$/\1/p' "$work/qemu.err" >> "$work/consumer.cpu"; fi
    read -r w u s <<< "$t"
    awk -v w="$w" -v u="$u" -v s="$s" 'BEGIN { printf "%s %.3f\n", w, u + s }'
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
measure_header
consumers=""
for name in gzip-random python3-loop; do
    workload_argv "$name"
    : > "$work/consumer.cpu"
    measure_rounds "$name" "$rounds" "${configs[@]}"
    read -r ccl ccm <<< "$(measure_stat < "$work/consumer.cpu")"
    consumers+="$name: the reconstructing thread's CPU: least $ccl s, median $ccm s ($(awk -v a="$ccl" -v b="$ccm" -v p="$plain_cpu_least" -v q="$plain_cpu_median" 'BEGIN { printf "%.2f, %.2f", a / p, b / q }') x plain's CPU)"$'\n'
done
printf '%s' "$consumers"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
