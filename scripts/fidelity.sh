#!/usr/bin/env bash
# Writes Reports/fidelity.md: replayed against live trap counts (plexlab fidelity) for every corpus micro
# workload in 64 and 32 bits and, with --real, the real programs of the corpus, side by side in one run.
# Predictions are under the live profile each fidelity run measures just before it records (the machine's
# load changes during a run: the prices are measured next to what they predict), unless --profile names one. Usage: scripts/fidelity.sh [--real] [--profile P] [--debug]
# (--debug: the debug build, a slower monitor)
set -euo pipefail
cd "$(dirname "$0")/.."
real=0
profile=
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
profile_option=()
[ -n "$profile" ] && profile_option=(--profile "$profile")
names=$("$plexlab" record --list-workloads | grep '^micro-')
for name in $names; do
    echo "fidelity: $name" >&2
    "$plexlab" fidelity --json "${profile_option[@]}" --workload "$name" > "$work/$name.json" || true
done
if [ "$real" = 1 ]; then
    # The programs print nothing: their standard output would be mixed into plexlab's JSON.
    head -c 65536 /dev/urandom > "$work/random.bin"
    run_real() { # name, then the command
        local name="$1"; shift
        echo "fidelity: $name" >&2
        "$plexlab" fidelity --json "${profile_option[@]}" -- "$@" > "$work/$name.json" 2> "$work/$name.err" || true
    }
    run_real "gzip" /usr/bin/gzip -k -f "$work/random.bin"
    run_real "lua" /usr/bin/lua5.4 -e 'local s=0 for i=1,10000 do s=s+i end'
    run_real "sqlite3" /usr/bin/sqlite3 :memory: 'create table t(x); insert into t values (1),(2);'
    run_real "python3" /usr/bin/python3 -S -c 'sum(range(1000))'
fi
CONFIGURATION="$configuration" LOAD="$(cut -d' ' -f1-3 /proc/loadavg)" python3 - "$work" "$profile" "$(git rev-parse --short HEAD)" > Reports/fidelity.md <<'PY'
import json, os, sys
work, profile, commit = sys.argv[1], sys.argv[2], sys.argv[3]
shown = f"`{profile}`" if profile else "live, measured by each fidelity run just before it records"
print("# Fidelity: replayed against live trap counts\n")
print(f"Written by `scripts/fidelity.sh` at commit {commit} (profile {shown}, {os.environ.get('CONFIGURATION', 'release')} build;")
print(f"load average {os.environ.get('LOAD', '?')} at the end, on 2 cores). Each row: the program recorded")
print("under qemu-user and replayed (docs/strategies.md), and run natively under the live monitor (docs/live.md).")
print("`=` means equal counts; otherwise the difference and the relative difference (live - replay) / replay.")
print("Predicted slowdown: (measured native + monitor start + the replay's overhead under the profile) / measured native")
print("(docs/live.md section 3); error: predicted / measured - 1. A short run (monitored under 0.1 s) is repeated in")
print("rounds, the start probe in the same rounds: rounds gives their number and the error of each round alone")
print("(its own plain run and start probe), lowest to highest, so a reader sees the noise of one round beside the bias.\n")
files = sorted(f for f in os.listdir(work) if f.endswith(".json"))
docs = {}
for file in files:
    try: docs[file[:-5]] = json.load(open(os.path.join(work, file)))
    except Exception: pass
def error(s):
    return f"{(s['predicted'] / s['measured'] - 1) * 100:+.0f}%" if s.get("predicted") and s.get("measured") else "-"
def rounds(s):
    errors = s.get("round_errors") or []
    if len(errors) < 2: return str(len(errors)) if errors else "-"
    return f"{len(errors)}: {min(errors) * 100:+.0f}% to {max(errors) * 100:+.0f}%"
print("## Predicted against measured slowdown\n")
print("| workload | strategy | traps (live) | trap_int3 us | trap_int3_fill us | trap_pf us | native s | predicted | measured | error | rounds: error of each |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for name, doc in docs.items():
    for s in doc["slowdowns"]:
        traps = sum(r["live"] for r in doc["rows"] if r["strategy"] == s["strategy"])
        p = f"{s['predicted']:.2f}x" if s["predicted"] is not None else "-"
        m = f"{s['measured']:.2f}x" if s["measured"] is not None else "-"
        costs, clock = doc.get("profile_costs", {}), doc.get("cycles_per_ns") or 0
        us = lambda key: f"{costs[key] / clock / 1000:.1f}" if key in costs and clock else "-"
        print(f"| {name} | {s['strategy']} | {traps} | {us('trap_int3')} | {us('trap_int3_fill')} | {us('trap_pf')} | {s.get('native_seconds', 0):.4f} | {p} | {m} | {error(s)} | {rounds(s)} |")
print()
for file in files:
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
    print("| strategy | predicted slowdown | measured slowdown | error | replay's own ratio (insns x cpi native) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for s in doc["slowdowns"]:
        p = f"{s['predicted']:.2f}x" if s["predicted"] is not None else "-"
        m = f"{s['measured']:.2f}x" if s["measured"] is not None else "-"
        r = f"{s['replay_slowdown']:.2f}x" if s.get("replay_slowdown") is not None else "-"
        print(f"| {s['strategy']} | {p} | {m} | {error(s)} | {r} |")
    print()
PY
echo "wrote Reports/fidelity.md" >&2
