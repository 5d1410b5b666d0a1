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
rounds=${1:-5}
work=${2:-/tmp/plexlab-record-bench}
export LC_ALL=C
source "$root/scripts/record-workloads.sh"
record_workloads_prepare "$work"
inc=(-I "$root/Sources/QEMUPlugin/include" -I "$root/Sources/PlexLabWire/include")
cc=(gcc -O2 -shared -fPIC -DPLEXLAB_QEMU_PLUGIN "${inc[@]}")
"${cc[@]}" -o "$work/floor-plugin.so" "$root/scripts/floor-plugin/floor-plugin.c"
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
stat() { sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f", v[1], m }'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| workload | configuration | least CPU | median CPU | least wall | median wall | CPU / plain (least, median) | wall / plain (least, median) |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- |\n'
consumers=""
for name in gzip-random python3-loop; do
    workload_argv "$name"
    : > "$work/consumer.cpu"
    declare -A walls=() cpus=()
    for ((i = 0; i < rounds; i++)); do
        for config in "${configs[@]}"; do
            read -r w c <<< "$(run "$config" "${argv[@]}")"
            walls[$config]+="$w "; cpus[$config]+="$c "
        done
    done
    read -r pcl pcm <<< "$(tr ' ' '\n' <<< "${cpus[plain]}" | grep . | stat)"
    read -r pwl pwm <<< "$(tr ' ' '\n' <<< "${walls[plain]}" | grep . | stat)"
    for config in "${configs[@]}"; do
        read -r cl cm <<< "$(tr ' ' '\n' <<< "${cpus[$config]}" | grep . | stat)"
        read -r wl wm <<< "$(tr ' ' '\n' <<< "${walls[$config]}" | grep . | stat)"
        awk -v n="$name" -v k="$config" -v cl="$cl" -v cm="$cm" -v wl="$wl" -v wm="$wm" \
            -v pcl="$pcl" -v pcm="$pcm" -v pwl="$pwl" -v pwm="$pwm" 'BEGIN {
            printf "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f, %.2f | %.2f, %.2f |\n", n, k, cl, cm, wl, wm,
                cl / pcl, cm / pcm, wl / pwl, wm / pwm }'
    done
    read -r ccl ccm <<< "$(stat < "$work/consumer.cpu")"
    consumers+="$name: the reconstructing thread's CPU: least $ccl s, median $ccm s ($(awk -v a="$ccl" -v b="$ccm" -v p="$pcl" -v q="$pcm" 'BEGIN { printf "%.2f, %.2f", a / p, b / q }') x plain's CPU)"$'\n'
    unset walls cpus
done
printf '%s' "$consumers"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
