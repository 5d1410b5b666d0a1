# The record-bench workloads, shared by bench-record.sh and bench-replay.sh (sourced, not run):
#   record_workloads_prepare WORKDIR   generates the inputs (deterministically) and sets RECORD_WORK
#   RECORD_WORKLOADS                   the workload names
#   workload_argv NAME                 sets argv to the workload's command
#   best_of RUNS CMD...                prints "wall cpu", the best of RUNS runs of CMD
#   record_bench_build                 release builds of plexlab and the plugin; sets bin, plexlab, PLEXLAB_QEMU_PLUGIN
RECORD_WORKLOADS=(python3-startup python3-loop sqlite3-query gzip-random)

# record_bench_build: release builds of the plugin and plexlab; sets $bin and $plexlab, exports the plugin path.
record_bench_build() {
    swift build -c release --product PlexLabQEMUPlugin 2>&1 | tail -1 >&2
    swift build -c release --product plexlab 2>&1 | tail -1 >&2
    bin=$(swift build -c release --show-bin-path)
    plexlab="$bin/plexlab"
    export PLEXLAB_QEMU_PLUGIN="$bin/libPlexLabQEMUPlugin.so"
}

record_workloads_prepare() {
    RECORD_WORK=$1
    mkdir -p "$RECORD_WORK"
    python3 - "$RECORD_WORK" <<'PYEOF'
import os, random, sqlite3, sys
work = sys.argv[1]
rng = random.Random(1)
path = os.path.join(work, "random-5m.bin")
if not os.path.exists(path):
    with open(path, "wb") as f:
        f.write(random.Random(5).randbytes(5 << 20))
path = os.path.join(work, "data.sqlite")
if not os.path.exists(path):
    db = sqlite3.connect(path)
    db.execute("create table t (x integer primary key, y integer, z text)")
    db.executemany("insert into t values (?, ?, ?)",
                   ((i, rng.randrange(1000), "%016x" % rng.getrandbits(64)) for i in range(50000)))
    db.commit()
    db.close()
PYEOF
}

# elf NAME: the program as an ELF file (PATH may hold wrapper scripts, e.g. pyenv shims, that QEMU cannot run).
elf() {
    local candidate
    for candidate in "/usr/bin/$1" "$(command -v "$1")"; do
        candidate=$(readlink -f "$candidate" 2> /dev/null) || continue
        if [ "$(head -c 4 "$candidate" 2> /dev/null | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
            echo "$candidate"
            return
        fi
    done
    echo "no ELF executable for $1" >&2
    exit 2
}

workload_argv() {
    case $1 in
    python3-startup) argv=("$(elf python3)" -c 'print(42)') ;;
    python3-loop) argv=("$(elf python3)" -c 'for i in range(300000): x = [i]') ;;
    sqlite3-query) argv=("$(elf sqlite3)" "$RECORD_WORK/data.sqlite"
                         'select y, count(*), sum(x), max(z) from t group by y order by 2 desc limit 3') ;;
    gzip-random) argv=("$(elf gzip)" -c "$RECORD_WORK/random-5m.bin") ;;
    esac
    [ -n "${argv[0]}" ] || exit 2
}

# best_of RUNS CMD... -> "wall cpu" (seconds, best of each over RUNS runs; CPU = user + system of children)
best_of() {
    local n=$1; shift
    local best_wall="" best_cpu="" i t
    for ((i = 0; i < n; i++)); do
        t=$( { TIMEFORMAT='%R %U %S'; time "$@" > /dev/null 2>&1 < /dev/null; } 2>&1 | tail -1)
        read -r wall user sys <<< "$t"
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')
        best_wall=$(awk -v a="$best_wall" -v b="$wall" 'BEGIN { print (a == "" || b < a) ? b : a }')
        best_cpu=$(awk -v a="$best_cpu" -v b="$cpu" 'BEGIN { print (a == "" || b < a) ? b : a }')
    done
    echo "$best_wall $best_cpu"
}
