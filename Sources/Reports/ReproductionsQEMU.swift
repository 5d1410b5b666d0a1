extension Reproductions {
    static let hqemu = "D.-Y. Hong et al., HQEMU: a multi-threaded and retargetable dynamic binary translator on multicores, CGO 2012 (abstract)"

    /// The corpus's real programs that compute in one process, the closest shape to SPEC CPU2006 integer the
    /// corpus has (its compressors, compiler proper, interpreters, database, sort and regex search; all
    /// recorded x86-64, none i386). Left out: gcc-driver (parses options and spawns cc1 and as) and gcc-tree
    /// (the process tree of `gcc -c`).
    static let computePrograms = ["gzip", "xz", "bzip2", "sqlite3", "python3", "lua", "gcc-cc1", "sort", "grep"]

    /// QEMU TCG itself, as HQEMU's authors measured it: 32-bit x86 guests on an x86-64 host, QEMU of about 2012.
    /// Priced under `modern`: the host is a 2012 x86-64 multicore, a wide out-of-order core of the line that
    /// `modern` describes, not NetBurst (`pentium4`) or P6 (`pentium3`) (docs/cost-profiles.md).
    static let qemuTCG: [Figure] = [
        Figure(source: hqemu, measurement: "QEMU on SPEC CPU2006 integer, x86 (32-bit) guest on an x86-64 host: 6X slower than native",
               published: 6, shape: .programs(computePrograms), strategy: "dbt-qemu", profile: "modern",
               note: "the programs are x86-64 recordings (the corpus has no i386 real programs); the guest there was 32-bit. Of the lab's number, tc_cross_isa (3, an estimate) gives 3 for every program, QEMU's per-TB check and goto_tb (block_cross_isa) 0.4-0.7, lookups, dispatches and links 0.3-3.8, and translation (translate_per_insn 200 per translated instruction) the rest, a quarter to a half of each number: these are runs of 3-4M instructions, SPEC's run for minutes and amortize translation. Without translation the same counts give about 5.4x (geometric mean). The model prices QEMU 7.2's chaining; the QEMU of 2012 predates lookup_and_goto_ptr, so its cross-page and indirect exits went back to the main loop (cpu_exec), dearer than the lab's tb_lookup. Under pentium3 and pentium4 the lab says about 7.0x."),
        Figure(source: hqemu, measurement: "QEMU on SPEC CPU2006 floating point, same setup: 8.4X slower than native",
               published: 8.4, shape: .programs(computePrograms), strategy: "dbt-qemu", profile: "modern",
               note: "no program of the corpus is floating-point bound, so this row is the integer row's prediction set against the floating-point figure: its agreement says nothing about the model. QEMU emulates x87 and SSE arithmetic through helper calls into its software floating point, so a floating-point guest instruction costs far more than an integer one; the lab prices every instruction with the one factor tc_cross_isa and does not model that."),
    ]
}
