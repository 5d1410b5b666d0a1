#!/usr/bin/env bash
# Builds the libFuzzer targets (Sources/FuzzTargets) and runs each for a fixed time; writes the figures to
# Reports/fuzz/README.md. Exit code 1 if any target crashed, hung or ran out of memory (the input that did
# it is kept in Reports/fuzz/artifacts/). Non-interactive: fine with CI=true and no stdin.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target)
#   FUZZ_SANITIZERS=fuzzer scripts/fuzz.sh 20            (without AddressSanitizer: faster, fewer checks)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzImportLines FuzzImportFile FuzzChunkDecode FuzzTraceFile)
sanitizers="${FUZZ_SANITIZERS:-fuzzer,address}"
scratch=.build-fuzz
report=Reports/fuzz/README.md
artifacts=Reports/fuzz/artifacts

mkdir -p "$scratch/logs" "$artifacts"
# The file-writing targets write one small file per input: on tmpfs that costs no disk syncs.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
# gold cannot link Swift objects instrumented with -sanitize=address; lld (shipped with Swift) can.
cat > "$scratch/toolset.json" <<'EOF'
{ "schemaVersion": "1.0", "swiftCompiler": { "extraCLIOptions": ["-use-ld=lld"] } }
EOF

build() {
  swift build -c release --scratch-path "$scratch" --toolset "$PWD/$scratch/toolset.json" --product "$1" \
    -Xswiftc "-sanitize=$sanitizers" -Xswiftc -DPLEXLAB_FUZZ
}

seeds_of() {
  case "$1" in
    FuzzImportLines|FuzzImportFile) echo Sources/FuzzTargets/corpus/import ;;
    *) echo "Sources/FuzzTargets/corpus/$1" ;;
  esac
}

stat_of() {  # stat_of LOG NAME: a value of libFuzzer's -print_final_stats output
  sed -n "s/^stat::$2: *//p" "$1" | tail -1
}

for target in "${targets[@]}"; do
  echo "== building $target ($sanitizers)"
  build "$target" 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' || { echo "build of $target failed" >&2; exit 2; }
done
bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"

rows=()
failed=0
for target in "${targets[@]}"; do
  work="$scratch/corpus/$target"
  log="$scratch/logs/$target.log"
  mkdir -p "$work"
  rm -f "$artifacts/$target-"*
  echo "== fuzzing $target for $seconds s"
  start=$(date +%s)
  status=0
  # No Swift backtracer (libFuzzer reports the crash and saves the input); leak checks off (the Swift
  # runtime's caches look like leaks). -timeout: one input running 10 s counts as a hang.
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 \
    "$bin/$target" "$work" "$(seeds_of "$target")" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$target-" </dev/null >"$log" 2>&1 || status=$?
  elapsed=$(( $(date +%s) - start ))
  rm -rf "${TMPDIR:-/tmp}"/plexlab-fuzz-*
  execs="$(stat_of "$log" number_of_executed_units)"
  rate="$(stat_of "$log" average_exec_per_sec)"
  rss="$(stat_of "$log" peak_rss_mb)"
  coverage="$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)"
  corpus=$(find "$work" -type f | wc -l)
  crashes=$(find "$artifacts" -name "$target-*" -type f | wc -l)
  result=ok
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    result="FAILED (exit $status)"
    failed=1
    echo "$target failed; the end of $log:" >&2
    tail -40 "$log" >&2
  fi
  echo "   $target: ${execs:-?} executions, ${rate:-?} exec/s, ${elapsed} s, $crashes crashes, corpus $corpus, $coverage: $result"
  rows+=("| $target | ${execs:-?} | ${rate:-?} | $elapsed | $crashes | $corpus | ${coverage:-?} | ${rss:-?} | $result |")
done

mkdir -p "$(dirname "$report")"
{
  echo "# Fuzzing figures"
  echo
  echo "Written by \`scripts/fuzz.sh $seconds\` on $(date -u +%Y-%m-%dT%H:%M:%SZ) ($(uname -m), $(nproc) cores,"
  echo "sanitizers \`$sanitizers\`, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)). What each target"
  echo "feeds and how to run them: docs/reliability.md."
  echo
  echo "| target | executions | exec/s | seconds | crashes | corpus files | coverage | peak RSS MB | result |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Crashes, hangs (over 10 s per input) and out-of-memory inputs (over 2048 MB) count as failures; their"
  echo "inputs are kept in Reports/fuzz/artifacts/. The corpus grows in .build-fuzz/corpus/ (not committed);"
  echo "the seeds are Sources/FuzzTargets/corpus/."
} > "$report"
echo "figures: $report"
exit $failed
