#!/usr/bin/env bash
# Consecutive runs against plain qemu-x86_64 and the data floor (docs/recorder.md, "Consecutive runs"), in
# interleaved rounds on the four workloads of scripts/record-workloads.sh: per configuration the least and the
# median CPU seconds (user + system) and wall seconds, and their ratios to plain.
#   plain       qemu-x86_64 alone
#   data-floor  floor-plugin.c with mem=on: a callback per load and store
#   run-floor   address-classes.c with rule=runs,floor=on: the same, without the callbacks of run members
#   plugin:NAME the recorder's plugin with data pages, its stream into /dev/null; NAME=PATH pairs come from
#               PLUGINS, PATH optionally followed by plugin arguments (e.g. PLUGINS="main=.build/release/libPlexLabQEMUPlugin.so
#               runs=/tmp/runs-plugin.so,classes=on" with the plugin of tag experiment/consecutive-runs); PLUGIN_ARGS adds arguments to all
# Without PLUGINS only the floors are measured. Prints a table with the load average; writes nothing into Reports/.
#
#   scripts/floor-plugin/measure-runs.sh [ROUNDS] [WORKDIR]   (default 5, /tmp/plexlab-record-bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/floor-plugin/measure-rounds.sh"
measure_prepare "$@"
"${cc[@]}" -o "$work/address-classes.so" "$root/scripts/floor-plugin/address-classes.c" \
    "$root/scripts/floor-plugin/run-classes.c" -lZydis

configs=(plain data-floor run-floor)
declare -A plugin_path=()
for pair in ${PLUGINS:-}; do
    plugin_path[${pair%%=*}]=${pair#*=}
    configs+=("plugin:${pair%%=*}")
done
run() { # CONFIG ARGV... -> "wall cpu"
    local config=$1; shift
    local plugin=()
    case $config in
    data-floor) plugin=(-plugin "$work/floor-plugin.so,mem=on") ;;
    run-floor) plugin=(-plugin "$work/address-classes.so,rule=runs,floor=on") ;;
    plugin:*) plugin=(-plugin "${plugin_path[${config#plugin:}]},fd=5,data-pages=on${PLUGIN_ARGS:+,$PLUGIN_ARGS}") ;;
    esac
    local t
    t=$( { TIMEFORMAT='%R %U %S'; time qemu-x86_64 "${plugin[@]}" "$@" > /dev/null 2> /dev/null < /dev/null 5> /dev/null; } 2>&1 | tail -1)
    read -r w u s <<< "$t"
    awk -v w="$w" -v u="$u" -v s="$s" 'BEGIN { printf "%s %.3f\n", w, u + s }'
}

echo "load before: $(uptime)"
measure_header
for name in "${RECORD_WORKLOADS[@]}"; do
    workload_argv "$name"
    measure_rounds "$name" "$rounds" "${configs[@]}"
done
echo "load after: $(uptime)"
