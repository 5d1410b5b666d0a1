#!/usr/bin/env bash
# The README's main job: set up, build, record the default workload, compare strategies, write a report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release
bin="$(swift build -c release --show-bin-path)"
workload="${1:-python3}"
# --data-pages: pagefault-legacy needs the data-page touches; with them the report shows every strategy.
"$bin/plexlab" record --workload "$workload" --data-pages --force --out "Traces/scratch/$workload.plextrace"
"$bin/plexlab" compare "Traces/scratch/$workload.plextrace" --strategies all --profile pentium3
"$bin/plexlab" report "Traces/scratch/$workload.plextrace" --profile all --out "Reports/scratch/$workload/"
echo "report: Reports/scratch/$workload/report.html (and report.md, results.json)"
