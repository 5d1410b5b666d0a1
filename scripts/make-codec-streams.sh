#!/usr/bin/env bash
# Records real block streams for codec measurements: runs each workload under
# `qemu-x86_64 -d exec,nochain,in_asm` with the log going through a FIFO into
# scripts/qemu-log-to-blocks.py, so the (multi-GB) log never touches the disk.
# Usage: scripts/make-codec-streams.sh OUTDIR [WORKLOAD...]   (default: all)
# Workloads: python3 (startup), sqlite3 (generated table + queries), gzip (random data), xz (-9 of text).
set -euo pipefail
out=${1:?usage: make-codec-streams.sh OUTDIR [WORKLOAD...]}
shift
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(python3 sqlite3 gzip xz)

# Deterministic inputs (seeded), regenerated only when missing.
[ -f "$out/random.bin" ] || python3 -c "
import random, sys
r = random.Random(1)
sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(1000000)))" > "$out/random.bin"
[ -f "$out/text.txt" ] || python3 -c "
import random
r = random.Random(2)
words = [''.join(r.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(r.randint(2, 9))) for _ in range(3000)]
print(' '.join(r.choice(words) + ('\n' if r.random() < 0.08 else '') for _ in range(40000)))" > "$out/text.txt"
cat > "$out/query.sql" <<'SQL'
CREATE TABLE t(a INTEGER PRIMARY KEY, b INTEGER, c TEXT);
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x<20000)
INSERT INTO t SELECT x, (x*7919)%1000, printf('row%d', x*31%997) FROM s;
CREATE INDEX tb ON t(b);
SELECT b%10, count(*), sum(a), max(c) FROM t WHERE b > 100 GROUP BY b%10 ORDER BY 2 DESC;
SELECT count(*) FROM t t1 JOIN t t2 ON t1.b = t2.b WHERE t1.a < 2000 AND t2.a % 3 = 0;
SQL

record() { # NAME COMMAND...
    local name=$1; shift
    local fifo="$out/$name.fifo"
    rm -f "$fifo"; mkfifo "$fifo"
    python3 "$here/qemu-log-to-blocks.py" "$fifo" "$out/$name.blk" &
    local conv=$!
    qemu-x86_64 -d exec,nochain,in_asm -D "$fifo" "$@" > /dev/null
    wait "$conv"
    rm -f "$fifo"
}

for w in "${workloads[@]}"; do
    case $w in
        python3) record python3 /usr/bin/python3 -c 'pass' ;;
        sqlite3) record sqlite3 /usr/bin/sqlite3 :memory: ".read $out/query.sql" ;;
        gzip) record gzip /usr/bin/gzip -c "$out/random.bin" ;;
        xz) record xz /usr/bin/xz -9 -c "$out/text.txt" ;;
        *) echo "make-codec-streams.sh: unknown workload $w" >&2; exit 2 ;;
    esac
done
