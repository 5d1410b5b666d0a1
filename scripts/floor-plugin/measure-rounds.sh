# Interleaved rounds for the floor measurements (measure-change-points.sh, measure-runs.sh; sourced, not run):
#   measure_header                          the table's header
#   measure_rounds NAME ROUNDS CONFIG...    runs the caller's `run CONFIG ARGV...` (it prints "wall cpu") on
#                                           "${argv[@]}", the configurations interleaved in each round, then
#                                           prints one row per configuration: least and median CPU seconds
#                                           (user + system) and wall seconds, and their ratios to the `plain`
#                                           configuration's; sets plain_cpu_least and plain_cpu_median
#   measure_stat                            least and median of the numbers on stdin
#   measure_prepare [ROUNDS] [WORKDIR]      with $root set: sets rounds (default 5) and work (default
#                                           /tmp/plexlab-record-bench), sources record-workloads.sh, makes the
#                                           inputs, sets cc (gcc for a plugin .so, QEMUPlugin's and PlexLabWire's
#                                           headers) and builds $work/floor-plugin.so
measure_prepare() {
    rounds=${1:-5}
    work=${2:-/tmp/plexlab-record-bench}
    export LC_ALL=C
    source "$root/scripts/record-workloads.sh"
    record_workloads_prepare "$work"
    cc=(gcc -O2 -shared -fPIC -DPLEXLAB_QEMU_PLUGIN -I "$root/Sources/QEMUPlugin/include" -I "$root/scripts/floor-plugin"
        -I "$root/Sources/PlexLabWire/include")
    "${cc[@]}" -o "$work/floor-plugin.so" "$root/scripts/floor-plugin/floor-plugin.c"
}

measure_stat() { sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f", v[1], m }'; }

measure_header() {
    printf '| workload | configuration | least CPU | median CPU | least wall | median wall | CPU / plain (least, median) | wall / plain (least, median) |\n'
    printf '| --- | --- | --- | --- | --- | --- | --- | --- |\n'
}

measure_rounds() {
    local name=$1 rounds=$2 config i w c cl cm wl wm pwl pwm
    shift 2
    local configs=("$@")
    declare -A walls=() cpus=()
    for ((i = 0; i < rounds; i++)); do
        for config in "${configs[@]}"; do
            read -r w c <<< "$(run "$config" "${argv[@]}")"
            walls[$config]+="$w "; cpus[$config]+="$c "
        done
    done
    read -r plain_cpu_least plain_cpu_median <<< "$(tr ' ' '\n' <<< "${cpus[plain]}" | grep . | measure_stat)"
    read -r pwl pwm <<< "$(tr ' ' '\n' <<< "${walls[plain]}" | grep . | measure_stat)"
    for config in "${configs[@]}"; do
        read -r cl cm <<< "$(tr ' ' '\n' <<< "${cpus[$config]}" | grep . | measure_stat)"
        read -r wl wm <<< "$(tr ' ' '\n' <<< "${walls[$config]}" | grep . | measure_stat)"
        awk -v n="$name" -v k="$config" -v cl="$cl" -v cm="$cm" -v wl="$wl" -v wm="$wm" \
            -v pcl="$plain_cpu_least" -v pcm="$plain_cpu_median" -v pwl="$pwl" -v pwm="$pwm" 'BEGIN {
            printf "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f, %.2f | %.2f, %.2f |\n", n, k, cl, cm, wl, wm,
                cl / pcl, cm / pcm, wl / pwl, wm / pwm }'
    done
}
