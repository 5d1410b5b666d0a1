/// The corpus: the micro workloads and real Debian programs on generated inputs.
extension WorkloadCatalog {
    /// The committed corpus (Traces/): micro first, then programs; what `--list-workloads` prints.
    public static var corpus: [Workload] { micro + programs }

    /// Real programs from Debian 12's packages. Paths are absolute so PATH cannot change what runs;
    /// every input is generated (`GeneratedInput`), and runs are bounded by `maxInstructions` where long.
    public static var programs: [Workload] { [
        Workload(
            name: "gzip", summary: "gzip -9 compresses 256 KiB of generated text",
            kind: .program, recipe: .installed(program: "/usr/bin/gzip"),
            arguments: ["-9", "-n", "-f", "-k", "text.txt"],
            inputs: [GeneratedInput(name: "text.txt", content: .text(seed: 1, bytes: 256 << 10))],
            maxInstructions: 4_000_000, packages: ["gzip"]),
        Workload(
            name: "xz", summary: "xz -6 (one thread) compresses 128 KiB of generated text",
            kind: .program, recipe: .installed(program: "/usr/bin/xz"),
            arguments: ["-6", "-T1", "-f", "-k", "text.txt"],
            inputs: [GeneratedInput(name: "text.txt", content: .text(seed: 2, bytes: 128 << 10))],
            maxInstructions: 4_000_000, packages: ["xz-utils", "liblzma5"]),
        Workload(
            name: "bzip2", summary: "bzip2 -9 compresses 128 KiB of generated text",
            kind: .program, recipe: .installed(program: "/usr/bin/bzip2"),
            arguments: ["-9", "-f", "-k", "text.txt"],
            inputs: [GeneratedInput(name: "text.txt", content: .text(seed: 3, bytes: 128 << 10))],
            maxInstructions: 4_000_000, packages: ["bzip2", "libbz2-1.0"]),
        Workload(
            name: "sqlite3", summary: "sqlite3 builds two tables in memory, indexes one, and runs a join with grouping",
            kind: .program, recipe: .installed(program: "/usr/bin/sqlite3"),
            arguments: [":memory:", ".read query.sql"],
            inputs: [GeneratedInput(name: "query.sql", content: .literal(sqlQuery))],
            maxInstructions: 4_000_000, packages: ["sqlite3", "libsqlite3-0"]),
        Workload(
            name: "python3", summary: "python3 starts (site imports included) and runs a small counting script",
            kind: .program, recipe: .installed(program: "/usr/bin/python3.11"),
            arguments: ["-I", "script.py"],
            inputs: [GeneratedInput(name: "script.py", content: .literal(pythonScript))],
            maxInstructions: 4_000_000, packages: ["python3.11-minimal", "libpython3.11-stdlib"],
            note: "the bound ends the run inside interpreter startup; -I keeps the user's environment out; string hashing is randomized per run, so a re-recording differs slightly"),
        Workload(
            name: "lua", summary: "lua5.4 runs a benchmark-like script: fib, a table sort, string building and matching",
            kind: .program, recipe: .installed(program: "/usr/bin/lua5.4"),
            arguments: ["bench.lua"],
            inputs: [GeneratedInput(name: "bench.lua", content: .literal(luaScript))],
            maxInstructions: 4_000_000, packages: ["lua5.4"]),
        Workload(
            name: "gcc-driver", summary: "gcc -O2 -S on a small C file: the driver process only",
            kind: .program, recipe: .installed(program: "/usr/bin/x86_64-linux-gnu-gcc-12"),
            arguments: ["-O2", "-S", "-o", "prog.s", "prog.c"],
            inputs: [GeneratedInput(name: "prog.c", content: .literal(cSource))],
            maxInstructions: 4_000_000, packages: ["gcc-12", "cpp-12"],
            note: "qemu-user records one process: the driver's execve of cc1 runs the compiler outside the recording, so this trace is option parsing, spec processing and process management; gcc-cc1 records the compiler itself"),
        Workload(
            name: "gcc-cc1", summary: "the C compiler proper (cc1 -O2) on the same small C file, run directly",
            kind: .program, recipe: .installed(program: "/usr/lib/gcc/x86_64-linux-gnu/12/cc1"),
            arguments: ["-quiet", "-O2", "prog.c", "-o", "prog.s"],
            inputs: [GeneratedInput(name: "prog.c", content: .literal(cSource))],
            maxInstructions: 4_000_000, packages: ["cpp-12"],
            note: "what gcc -O2 -S runs as its child; the file includes no headers, so cc1 needs no include paths from the driver"),
        Workload(
            name: "gcc-tree", summary: "gcc -c of a two-function C file as a process tree: the driver, cc1 and as",
            kind: .program, recipe: .installed(program: "/usr/bin/x86_64-linux-gnu-gcc-12"),
            arguments: ["-O0", "-c", "-o", "prog.o", "prog.c"],
            inputs: [GeneratedInput(name: "prog.c", content: .literal(tinyCSource))],
            packages: ["gcc-12", "cpp-12", "binutils-x86-64-linux-gnu"],
            note: "the whole compile, every process recorded (docs/recorder.md, \"Process trees\"): the driver forks and execs cc1, then as; each is its own address space in the replay",
            followProcesses: true),
        Workload(
            name: "sort", summary: "sort (one thread) orders 128 KiB of generated text lines",
            kind: .program, recipe: .installed(program: "/usr/bin/sort"),
            arguments: ["--parallel=1", "-S", "8M", "-o", "sorted.txt", "text.txt"],
            inputs: [GeneratedInput(name: "text.txt", content: .text(seed: 4, bytes: 128 << 10))],
            maxInstructions: 4_000_000, packages: ["coreutils"],
            note: "record with LC_ALL=C (scripts/record-corpus.sh sets it) so collation does not depend on the machine"),
        Workload(
            name: "grep", summary: "grep -c with an extended regular expression over 512 KiB of generated text",
            kind: .program, recipe: .installed(program: "/usr/bin/grep"),
            arguments: ["-c", "-E", "(alpha|omega|sigma) [a-z]+ing|[0-9]{5}$", "text.txt"],
            inputs: [GeneratedInput(name: "text.txt", content: .text(seed: 5, bytes: 512 << 10))],
            maxInstructions: 4_000_000, packages: ["grep", "libpcre2-8-0"]),
    ] }

    static let sqlQuery = """
        CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, value REAL);
        WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000)
          INSERT INTO t SELECT x, x % 37, 'item' || (x * 7919 % 3001), (x * 48271 % 2147483647) / 1000.0 FROM c;
        CREATE INDEX t_grp ON t(grp);
        CREATE TABLE g(grp INTEGER PRIMARY KEY, label TEXT);
        WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < 36)
          INSERT INTO g SELECT x, 'group' || x FROM c;
        SELECT g.label, count(*), round(avg(t.value), 3), max(t.name)
          FROM t JOIN g USING (grp) WHERE t.value > 1000
          GROUP BY g.label ORDER BY 3 DESC LIMIT 5;

        """

    static let pythonScript = """
        import collections, json, re
        words = ["w%d" % (i * 7919 % 1000) for i in range(20000)]
        counts = collections.Counter(words)
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        text = json.dumps({"top": top, "distinct": len(counts)}, sort_keys=True)
        print(len(re.findall(r"w\\d+", text)), text[:60])

        """

    static let luaScript = """
        local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
        local t = {}
        for i = 1, 20000 do t[i] = (i * 7919) % 10007 end
        table.sort(t)
        local parts = {}
        for i = 1, 2000 do parts[#parts + 1] = string.format("%d:%d", i, t[i]) end
        local s = table.concat(parts, ",")
        local sum = 0
        for k in s:gmatch("%d+") do sum = sum + tonumber(k) end
        print(fib(20), t[1], t[#t], #s, sum)

        """

    /// Small enough that the whole compile stays a short corpus trace (cc1 ~10M blocks).
    static let tinyCSource = """
        int twice(int x) { return 2 * x; }
        int main(void) { return twice(21) - 42; }

        """

    static let cSource = """
        /* A small self-contained C file (no headers) with work for -O2: loops, inlining, a switch. */
        static unsigned hash(const char *s) {
            unsigned h = 2166136261u;
            while (*s) h = (h ^ (unsigned char)*s++) * 16777619u;
            return h;
        }
        struct point { int x, y; };
        static int dist2(struct point a, struct point b) { int dx = a.x - b.x, dy = a.y - b.y; return dx * dx + dy * dy; }
        int classify(int v) {
            switch (v & 7) {
            case 0: return 3;
            case 1: return v * 5;
            case 2: return v ^ 0x55;
            case 3: return -v;
            case 4: return v << 2;
            case 5: return v % 13;
            case 6: return v / 7;
            default: return 0;
            }
        }
        int nearest(const struct point *ps, int n, struct point q) {
            int best = 0, bd = dist2(ps[0], q);
            for (int i = 1; i < n; i++) { int d = dist2(ps[i], q); if (d < bd) { bd = d; best = i; } }
            return best;
        }
        void insertion_sort(int *a, int n) {
            for (int i = 1; i < n; i++) {
                int v = a[i], j = i - 1;
                while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; }
                a[j + 1] = v;
            }
        }
        unsigned mix(const char **names, int n) {
            unsigned h = 0;
            for (int i = 0; i < n; i++) h += hash(names[i]) * (unsigned)classify(i);
            return h;
        }
        int main(void) {
            static const char *names[] = { "alpha", "beta", "gamma", "delta", "epsilon" };
            struct point ps[64];
            int a[64];
            for (int i = 0; i < 64; i++) { ps[i].x = i * 37 % 101; ps[i].y = i * 53 % 97; a[i] = classify(i * 31); }
            insertion_sort(a, 64);
            struct point q = { 50, 50 };
            return (int)((mix(names, 5) + (unsigned)nearest(ps, 64, q) + (unsigned)a[7]) & 0x7f);
        }

        """
}
