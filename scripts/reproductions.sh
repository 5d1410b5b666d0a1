#!/usr/bin/env bash
# Writes docs/reproductions.md: every published measurement PlexLab compares itself with (Sources/Reports/
# Reproductions.swift) next to the lab's prediction, from the committed corpus traces in Traces/.
# Builds plexlab (release), records the testbed-shaped bounce (micro-xpage-bounce-*) only if its trace is
# missing, runs `plexlab report` over the traces and keeps its reproductions section.
# Usage: scripts/reproductions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C TZ=UTC
swift build -c release --product plexlab >&2
plexlab="$(swift build -c release --show-bin-path)/plexlab"
for name in micro-xpage-bounce-32 micro-xpage-bounce-64; do
  [ -f "Traces/$name.plextrace" ] || bash scripts/record-corpus.sh "$name" >&2
done
# The bounce traces and every real program of the corpus (the micro workloads other than the bounce
# match no published figure). System traces (sys-*, `plexlab record --system --workload NAME`) join when
# present: sys-forkwait and sys-getppid give the Adams & Agesen rows; the real-program rows use user-mode
# traces only.
mapfile -t traces < <(ls Traces/*.plextrace | grep -v '/micro-' ; ls Traces/micro-xpage-bounce-*.plextrace)
for name in sys-forkwait sys-getppid; do
  [ -f "Traces/$name.plextrace" ] || echo "reproductions.sh: Traces/$name.plextrace is missing: its Adams & Agesen rows are left out (record it with: plexlab record --system --workload $name)" >&2
done
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
"$plexlab" report "${traces[@]}" --profile all --top 0 --out "$scratch" > /dev/null
section="$(sed -n '/<!-- reproductions:begin -->/,/<!-- reproductions:end -->/p' "$scratch/report.md" | sed '1d;$d' | sed '1d')"
[ -n "$section" ] || { echo "reproductions.sh: the report has no reproductions section" >&2; exit 1; }
{
  echo "# Published measurements reproduced"
  echo
  echo "Written by \`scripts/reproductions.sh\` from the committed traces in \`Traces/\`"
  echo "(\`Traces/manifest.json\` says how each was made); \`plexlab report\` prints the same section for the traces"
  echo "it is given. Each row sets a published slowdown over native next to the lab's prediction for a workload"
  echo "of the same shape, under the profile of the published machine's era. The profiles' numbers come from"
  echo "sources and reasoning (docs/cost-profiles.md), never from these figures; the cost formula is"
  echo "docs/strategies.md section 4. A ratio beyond 2x is marked, with the reason in the notes. The system"
  echo "traces (sys-*) are made by \`scripts/record-system-corpus.sh\` (qemu-system, the Debian kernel of /boot)."
  echo
  echo "$section"
  echo
  cat <<'NOTES'
## What is not reproduced, and why

- **Adams & Agesen (ASPLOS 2006), per-operation costs** (Figure 4: native, software VMM and hardware VMM
  cycles for syscall, in, cr8wr, call/ret, pgfault, divzero, ptemod on a 3.8 GHz Pentium 4 672): the
  figure's numbers were not found in any text the lab could consult (searched for issue 23: the paper's
  abstract and VMware's summary pages are reachable, the figure is not; nor is the per-generation VM-exit
  table of Agesen, Mattson, Rugina and Sheldon, USENIX ATC 2012). No row is made up for them: the
  system-trace cost keys they would anchor are estimates, each a formula over the profile's own keys
  (docs/cost-profiles.md, "System-trace keys"). The paper's whole-benchmark figures that the issue quotes
  (forkwait: native 6.0 s, software VMM 36.9 s, hardware VMM 106.4 s; VT-x ahead on the system-call loop)
  are the rows above, on system traces recorded under qemu-system (`sys-forkwait`, `sys-getppid`); without
  those traces in `Traces/` the rows are absent.
- **QEMU TCG on floating-point code**: the corpus has no floating-point-bound program, so HQEMU's 8.4X
  row is set against the same programs as its 6X row; see the QEMU rows below.

## How to read a row

`published` is the source's slowdown over native (the testbed's: seconds under translation over 0.72 s
native). `lab` is `cycles(strategy) / cycles(native)` under the named profile (docs/strategies.md section 4)
on the named trace. The testbed ran IA-32 code, so the 32-bit recording is its closest shape; the 64-bit
one differs only in instruction encodings. Bruening's rows compare SPEC CPU2000 runs of minutes with the
corpus's short runs of real Debian programs, so only the ladder's shape (how much each rung removes) is
expected to carry over, not its absolute numbers.

## The QEMU rows (HQEMU, CGO 2012)

Source: D.-Y. Hong, C.-C. Hsu, P.-C. Yew, J.-J. Wu, W.-C. Hsu, P. Liu, C.-M. Wang, Y.-C. Chung, *HQEMU: a
multi-threaded and retargetable dynamic binary translator on multicores*, CGO 2012, abstract
(https://experts.umn.edu/en/publications/hqemu-a-multi-threaded-and-retargetable-dynamic-binary-translator,
https://minnesota-staging.pure.elsevier.com/en/publications/hqemu-a-multi-threaded-and-retargetable-dynamic-binary-translator):
HQEMU "is only 2.5X and 2.1X slower than native execution of the same benchmarks on x86-64, as opposed to
6X and 8.4X slowdown on QEMU" (SPEC CPU2006 integer and floating point, x86 to x86-64). The rows take
QEMU's figures; HQEMU itself (an LLVM optimizer on other cores) is no strategy of the lab.

- **Workload**: the corpus's real programs that compute in one process (every real program but
  gcc-driver, which parses options and spawns cc1 and as, and gcc-tree, a process tree), as a
  geometric mean like SPEC's. They are x86-64 recordings: the corpus records no real program for i386,
  and the paper's guest was 32-bit. They run 3-4M instructions where SPEC's run for minutes, so
  translation weighs a quarter to a half of each prediction (the integer row's note).
- **Profile**: `modern`. The abstract names no machine; a 2012 x86-64 multicore host is a wide
  out-of-order core of the line `modern` describes (cpi 0.5), not NetBurst (`pentium4`, about 2006) or the
  P6 (`pentium3`). `modern` is also the profile whose prediction lies farthest from 6X (`pentium3` and
  `pentium4` say about 7.0x), so the choice does not flatter the lab.
- **Strategy**: `dbt-qemu` follows QEMU 7.2. The QEMU of 2012 had no `lookup_and_goto_ptr` (QEMU's TB
  lookup header, `include/exec/tb-lookup.h`, carries a 2017 copyright): every exit not chained within its
  page went back to `cpu_exec`'s main loop, which the lab would price nearer `dispatch` than `tb_lookup`.
- **What the check says**: `tc_cross_isa` stays an estimate (3, docs/cost-profiles.md). The integer row
  lands within 2x, partly because two effects pull opposite ways (translation of short runs up, 2012's
  dearer main loop not modelled), and it would stay within 2x for any factor up to about 7, so it does
  not confirm 3 (docs/cost-profiles.md works this out). The floating-point row checks nothing: no
  floating-point workload, and QEMU's software floating point is not in the model.
NOTES
} > docs/reproductions.md
echo "wrote docs/reproductions.md" >&2
