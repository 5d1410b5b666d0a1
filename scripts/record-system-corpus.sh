#!/usr/bin/env bash
# Records the whole-system corpus (Sources/Workloads/SystemWorkloads.swift) into Traces/NAME.plextrace with
# `plexlab record --system --workload NAME` (docs/recorder.md, "System traces"), then lists the sizes.
# Usage: scripts/record-system-corpus.sh [WORKLOAD...]   (default: every system workload)
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C TZ=UTC
swift build -c release --product PlexLabQEMUSystemPlugin >&2
swift build -c release --product plexlab >&2
bin="$(swift build -c release --show-bin-path)"
export PLEXLAB_QEMU_SYSTEM_PLUGIN="$bin/libPlexLabQEMUSystemPlugin.so"
mkdir -p Traces
if [ $# -gt 0 ]; then names=("$@"); else mapfile -t names < <("$bin/plexlab" record --system --list-workloads); fi
for name in "${names[@]}"; do
  "$bin/plexlab" record --system --workload "$name" --out "Traces/$name.plextrace" --force
done
for name in "${names[@]}"; do ls -l "Traces/$name.plextrace"; done | awk '{ total += $5; printf "%10d %s\n", $5, $9 } END { printf "%10d bytes in all (%.1f MB)\n", total, total / 1e6 }'
