// The built-in profiles. docs/cost-profiles.md explains every number at more length; keep the two in step.

extension CostProfile {
    /// plex86's machine of 2000: a P6-core Pentium III running ring-3 guest code under a ring-0 monitor.
    public static let pentium3 = CostProfile(
        name: "pentium3",
        description: "Pentium III (P6 core, ~2000): the machine plex86's scan-before-execute was designed for",
        costs: [.cpi: 1.0, .trapInt3: 500, .trapPF: 600, .trapWP: 700, .emulateData: 900,
                .scanPerInsn: 100, .translatePerInsn: 300, .dispatch: 80, .link: 150,
                .ibtcHit: 15, .rasHit: 5, .vmexit: 2400,
                .tcSameISA: 1.0, .blockSameISA: 4, .tcCrossISA: 3.0, .blockCrossISA: 3, .tbLookup: 40],
        sources: [
            .tcSameISA: TranslatedCode.passThrough + " (K. Lawton, plex86 dt-testbed proto0 README, 2001: 'most generated code is simply passed through unmodified from the guest code')",
            .blockSameISA: "estimate: plex86's linked exit as the testbed describes it (K. Lawton, plex86 list, January 2001: the generated code compares an inline ID token with a global one and takes the backpatched direct branch while they match): a compare with memory and a not-taken jne, 2 instructions at cpi 1 (~2 cycles), plus the second taken transfer of every exit (guest branch to the stub, stub to the target's translation), ~2 cycles of fetch redirect on the P6",
            .tcCrossISA: TranslatedCode.crossISA,
            .blockCrossISA: "estimate: " + TranslatedCode.tbEntry + ": 3 host instructions at cpi 1",
            .tbLookup: "estimate: " + TranslatedCode.lookup + "; the indirect jump mispredicts often on the P6 (~10-15 cycles): ~40",
            .cpi: "estimate: P6 cores sustain about one instruction per cycle on integer code (Intel P6 optimization manual: 3-wide decode, IPC near 1 on SPECint-like code)",
            .trapInt3: "estimate: P6 int3 delivery plus iret is ~150-200 cycles (Intel architecture optimization manual, exception latency); plex86's monitor then looks up the patched instruction and emulates it (~300 more)",
            .trapPF: "estimate: a #PF costs a little more than #BP to deliver (error code, CR2, page walk); plex86's handler maps the page: ~600",
            .trapWP: "estimate: #PF delivery as trap_pf plus unprotecting the page and discarding its scan bookkeeping",
            .emulateData: "estimate: #PF delivery (~250) plus decoding the faulting instruction and emulating its memory access against the guest's page tables (~650)",
            .scanPerInsn: "estimate: a table-driven software x86 decoder spends ~50-150 cycles per instruction (Lawton's plex86 notes describe the scanner as a full decoder); middle of that range",
            .translatePerInsn: "estimate: a simple translator spends ~3x a decode per instruction (decode, emit, fix up); Dynamo (Bala, Duesterwald, Banerjia, PLDI 2000) amortizes a similar cost over hot traces",
            .dispatch: "estimate: saving and restoring the guest context plus one hash lookup, as DynamoRIO's dispatcher does (Bruening, PhD thesis, MIT 2004, ch. 2), ~80 cycles on a short P6 pipeline",
            .link: "estimate: one dispatch-time patch of a branch in the code cache plus bookkeeping for unlinking",
            .ibtcHit: "estimate: an inline hash-table lookup and compare plus an indirect jump, often mispredicted (~10 cycles on P6) (Bruening 2004: in-cache indirect branch lookup)",
            .rasHit: "estimate: a compare of the predicted return address plus a well-predicted return",
            .vmexit: "not available in 2000 (no VT-x); set to the Pentium 4 VT-x round trip so hw rows stay comparable (Adams & Agesen, ASPLOS 2006)",
        ])

    /// The Pentium 4 of the 2006 software-versus-hardware virtualization comparison.
    public static let pentium4 = CostProfile(
        name: "pentium4",
        description: "Pentium 4 (NetBurst, ~2006) with first-generation VT-x, as in Adams & Agesen's BT-versus-VT comparison",
        costs: [.cpi: 1.5, .trapInt3: 1000, .trapPF: 1200, .trapWP: 1300, .emulateData: 1600,
                .scanPerInsn: 150, .translatePerInsn: 450, .dispatch: 150, .link: 250,
                .ibtcHit: 30, .rasHit: 8, .vmexit: 2400,
                .tcSameISA: 1.0, .blockSameISA: 3, .tcCrossISA: 3.0, .blockCrossISA: 4.5, .tbLookup: 60],
        sources: [
            .tcSameISA: TranslatedCode.passThrough + " (Adams & Agesen, ASPLOS 2006: VMware's translator translates most instructions identically, IDENT)",
            .blockSameISA: "estimate: a chained exit of VMware's BT is a direct jump in the translation cache, and a jcc exit needs one more jump for its fall-through: about one extra taken jump per block, ~2 instructions' worth at cpi 1.5",
            .tcCrossISA: TranslatedCode.crossISA,
            .blockCrossISA: "estimate: " + TranslatedCode.tbEntry + ": 3 host instructions at cpi 1.5",
            .tbLookup: "estimate: " + TranslatedCode.lookup + "; NetBurst mispredicts the indirect jump often (~25-30 cycles): ~60",
            .cpi: "estimate: NetBurst's long pipeline averages about 0.6-0.7 instructions per cycle on integer code",
            .trapInt3: "estimate: Adams & Agesen (ASPLOS 2006) stress that P4 traps are expensive (hundreds of cycles each way with the pipeline flush); ~1000 for trap, monitor emulation and return",
            .trapPF: "estimate: trap_int3 plus page-fault delivery work (error code, CR2, page walk)",
            .trapWP: "estimate: trap_pf plus unprotecting the page and discarding its scan or translations",
            .emulateData: "estimate: trap_pf plus decoding and emulating the faulting access (~400)",
            .scanPerInsn: "estimate: the pentium3 figure scaled by NetBurst's lower per-cycle throughput on branchy decoder code",
            .translatePerInsn: "estimate: 3x scan_per_insn, as for pentium3",
            .dispatch: "estimate: context save/restore and a hash lookup with two mispredicted indirect jumps (~20-30 cycles each on NetBurst)",
            .link: "estimate: a dispatch-time patch plus bookkeeping, scaled from pentium3",
            .ibtcHit: "estimate: inline lookup plus an indirect jump that NetBurst often mispredicts (~25 cycle penalty) (Bruening 2004 on IBTC costs)",
            .rasHit: "estimate: compare plus a predicted return",
            .vmexit: "Adams & Agesen, 'A comparison of software and hardware techniques for x86 virtualization', ASPLOS 2006: a VM exit plus VM entry round trip costs about 2,400 cycles on the Pentium 4 with VT-x",
        ])

    /// A current out-of-order core with mature VT-x/AMD-V.
    public static let modern = CostProfile(
        name: "modern",
        description: "A 2020s out-of-order x86 core with mature hardware virtualization",
        costs: [.cpi: 0.5, .trapInt3: 900, .trapPF: 1500, .trapWP: 1700, .emulateData: 1800,
                .scanPerInsn: 50, .translatePerInsn: 200, .dispatch: 60, .link: 100,
                .ibtcHit: 10, .rasHit: 3, .vmexit: 1500,
                .tcSameISA: 1.0, .blockSameISA: 1, .tcCrossISA: 3.0, .blockCrossISA: 1.5, .tbLookup: 25],
        sources: [
            .cpi: "estimate: wide cores sustain about two instructions per cycle on integer code",
            .trapInt3: "measured parts + estimate: exception entry ~455-461 cycles and iret 159-255 on a recent Intel core (the minor-fault breakdown quoted in PlexLab issue 17), ~700 for the hardware round trip, plus ~200 (estimate) for the monitor to look up and emulate the patched instruction; `plexlab calibrate` measures this machine",
            .trapPF: "measured: a minor page fault on a recent Intel core costs about 1,500 cycles (exception entry ~455-461, iret 159-255; as quoted in PlexLab issue 17, primary source not located); calibrate measures this machine",
            .trapWP: "trap_pf (measured, ~1,500) plus ~200 (estimate) for unprotecting the page and discarding its scan or translations",
            .emulateData: "trap_pf (measured, ~1,500) plus ~300 (estimate) for decoding and emulating the access",
            .tcSameISA: TranslatedCode.passThrough + " (Bruening, PhD thesis, MIT 2004: DynamoRIO copies the application's own instructions into its code cache)",
            .blockSameISA: "estimate: a DynamoRIO-class linked exit is a direct jump, and a jcc exit needs one more jump for its fall-through: ~1-2 extra instructions per block at cpi 0.5",
            .tcCrossISA: TranslatedCode.crossISA,
            .blockCrossISA: "estimate: " + TranslatedCode.tbEntry + ": 3 host instructions at cpi 0.5",
            .tbLookup: "estimate: " + TranslatedCode.lookup + "; mostly predicted on a current core: ~25",
            .scanPerInsn: "estimate: a fast table-driven decoder (Zydis class) decodes one instruction in ~50 cycles; calibrate measures it",
            .translatePerInsn: "estimate: 4x a decode per instruction for decode, emit and fix-up",
            .dispatch: "estimate: context save/restore and a hash lookup, ~60 cycles with good prediction (Bruening 2004 scaled to current cores)",
            .link: "estimate: a dispatch-time patch plus bookkeeping",
            .ibtcHit: "estimate: inline lookup, compare and a (usually predicted) indirect jump",
            .rasHit: "estimate: compare plus a predicted return",
            .vmexit: "measured + estimate: an AMD SVM VMRUN-to-#VMEXIT round trip costs 1,344-1,376 cycles (LKML, December 2020; the whole KVM_RUN round trip through user space ~2,500 is not what a cpuid exit pays, KVM handles cpuid in the kernel) plus ~150 (estimate) for KVM's cpuid emulation",
        ])
}

/// Source notes several profiles share.
enum TranslatedCode {
    static let passThrough = "a same-ISA code cache runs the guest's own instructions, copied unchanged except for its branches, so translated code runs at native speed per instruction; what the translator adds sits at block exits (block_same_isa)"
    static let crossISA = "estimate: QEMU TCG re-expresses every guest instruction in its intermediate ops: lazily computed flags store cc_op/cc_src/cc_dst, guest registers live in the CPU state at TB boundaries and helper calls, so a guest instruction becomes a few host instructions; ~3x native per guest instruction, before the chaining and lookups that dbt-qemu counts separately"
    static let tbEntry = "QEMU TCG begins every TB with the exit-request check (a load of icount_decr from the CPU state and a compare-and-branch) and leaves it through goto_tb, a direct jump"
    static let lookup = "lookup_and_goto_ptr (QEMU 7.2): store the pc, call helper_lookup_tb_ptr, hash the pc into tb_jmp_cache, compare pc, cs_base, flags and cflags, return, jump indirect to the TB (a tb_jmp_cache miss probes the global QHT table, rarer and dearer): ~25 host instructions"
}
