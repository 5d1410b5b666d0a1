#!/usr/bin/env bash
# Writes Reports/fidelity.md: replayed against live trap counts (plexlab fidelity) for every corpus micro
# workload in 64 and 32 bits and, with --real, the real programs of the corpus, side by side in one run.
# Usage: scripts/fidelity.sh [--real] [--profile P] [--debug]  (--debug: the debug build, a slower monitor)
set -euo pipefail
cd "$(dirname "$0")/.."
real=0
profile=modern
configuration=release
while [ $# -gt 0 ]; do
    case "$1" in
        --real) real=1 ;;
        --profile) profile="$2"; shift ;;
        --debug) configuration=debug ;;
        *) echo "usage: scripts/fidelity.sh [--real] [--profile P] [--debug]" >&2; exit 2 ;;
    esac
    shift
done
swift build -c "$configuration" --product plexlab >/dev/null
swift build -c "$configuration" --product PlexLabQEMUPlugin >/dev/null  # the recorder's plugin
plexlab="$(swift build -c "$configuration" --show-bin-path)/plexlab"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
names=$("$plexlab" record --list-workloads | grep '^micro-')
for name in $names; do
    echo "fidelity: $name" >&2
    "$plexlab" fidelity --json --profile "$profile" --workload "$name" > "$work/$name.json" || true
done
if [ "$real" = 1 ]; then
    # The programs print nothing: their standard output would be mixed into plexlab's JSON.
    head -c 65536 /dev/urandom > "$work/random.bin"
    run_real() { # name, then the command
        local name="$1"; shift
        echo "fidelity: $name" >&2
        "$plexlab" fidelity --json --profile "$profile" -- "$@" > "$work/$name.json" 2> "$work/$name.err" || true
    }
    run_real "gzip" /usr/bin/gzip -k -f "$work/random.bin"
    run_real "lua" /usr/bin/lua5.4 -e 'local s=0 for i=1,10000 do s=s+i end'
    run_real "sqlite3" /usr/bin/sqlite3 :memory: 'create table t(x); insert into t values (1),(2);'
    run_real "python3" /usr/bin/python3 -S -c 'sum(range(1000))'
fi
CONFIGURATION="$configuration" python3 - "$work" "$profile" "$(git rev-parse --short HEAD)" > Reports/fidelity.md <<'PY'
import json, os, sys
work, profile, commit = sys.argv[1], sys.argv[2], sys.argv[3]
print("# Fidelity: replayed against live trap counts\n")
print(f"Written by `scripts/fidelity.sh` at commit {commit} (profile `{profile}`, {os.environ.get('CONFIGURATION', 'release')} build). Each row: the program recorded")
print("under qemu-user and replayed (docs/strategies.md), and run natively under the live monitor (docs/live.md).")
print("`=` means equal counts; otherwise the difference and the relative difference (live - replay) / replay.\n")
for file in sorted(os.listdir(work)):
    if not file.endswith(".json"): continue
    name = file[:-5]
    try:
        doc = json.load(open(os.path.join(work, file)))
    except Exception:
        err = os.path.join(work, name + ".err")
        reason = open(err).read().strip().splitlines()[-1] if os.path.exists(err) and os.path.getsize(err) else "no result"
        print(f"## {name}\n\nno result: {reason}\n")
        continue
    print(f"## {name} {'(all counts agree)' if doc['agrees'] else '(counts differ)'}\n")
    print("| strategy | cause | replay | live | |")
    print("| --- | --- | ---: | ---: | --- |")
    for row in doc["rows"]:
        if row["replay"] == 0 and row["live"] == 0: continue
        r, l = row["replay"], row["live"]
        mark = "=" if r == l else (f"{l - r:+d} ({(l - r) / r * 100:+.2f}%)" if r else f"{l - r:+d}")
        print(f"| {row['strategy']} | {row['cause']} | {r} | {l} | {mark} |")
    print()
    print("| strategy | predicted slowdown | measured slowdown |")
    print("| --- | ---: | ---: |")
    for s in doc["slowdowns"]:
        p = f"{s['predicted']:.2f}x" if s["predicted"] is not None else "-"
        m = f"{s['measured']:.2f}x" if s["measured"] is not None else "-"
        print(f"| {s['strategy']} | {p} | {m} |")
    print()
PY
echo "wrote Reports/fidelity.md" >&2
