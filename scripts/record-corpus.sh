#!/usr/bin/env bash
# Records the corpus (Sources/Workloads/Corpus*.swift) into Traces/NAME.plextrace, each with the bound and
# options its catalog entry gives, and keeps Traces/manifest.json (command, generated inputs, versions).
# Then lists the trace sizes. Usage: scripts/record-corpus.sh [WORKLOAD...]   (default: every workload)
# Afterwards: plexlab gate --baseline Reports/baseline.json --update   (see docs/gate.md)
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C TZ=UTC
swift build -c release --product PlexLabQEMUPlugin >&2
swift build -c release --product plexlab >&2
plexlab="$(swift build -c release --show-bin-path)/plexlab"
mkdir -p Traces
if [ $# -gt 0 ]; then names=("$@"); else mapfile -t names < <("$plexlab" record --list-workloads); fi
for name in "${names[@]}"; do
  "$plexlab" record --workload "$name" --out "Traces/$name.plextrace" --force --manifest Traces/manifest.json
done
ls -l Traces/*.plextrace | awk '{ total += $5; printf "%10d %s\n", $5, $9 } END { printf "%10d bytes in all (%.1f MB)\n", total, total / 1e6 }'
