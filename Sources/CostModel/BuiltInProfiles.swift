// The built-in profiles. docs/cost-profiles.md explains every number at more length; keep the two in step.

extension CostProfile {
    /// plex86's machine of 2000: a P6-core Pentium III running ring-3 guest code under a ring-0 monitor.
    public static let pentium3 = CostProfile(
        name: "pentium3",
        description: "Pentium III (P6 core, ~2000): the machine plex86's scan-before-execute was designed for",
        costs: [.cpi: 1.0, .trapInt3: 500, .trapPF: 600, .trapWP: 700, .emulateData: 900,
                .scanPerInsn: 100, .translatePerInsn: 300, .dispatch: 80, .link: 150,
                .ibtcHit: 15, .rasHit: 5, .vmexit: 2400],
        sources: [
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
                .ibtcHit: 30, .rasHit: 8, .vmexit: 2400],
        sources: [
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
        costs: [.cpi: 0.5, .trapInt3: 400, .trapPF: 500, .trapWP: 600, .emulateData: 800,
                .scanPerInsn: 50, .translatePerInsn: 200, .dispatch: 60, .link: 100,
                .ibtcHit: 10, .rasHit: 3, .vmexit: 1200],
        sources: [
            .cpi: "estimate: wide cores sustain about two instructions per cycle on integer code",
            .trapInt3: "estimate: exception delivery and iret are ~100-200 cycles each on recent cores (more with kernel-entry mitigations), plus monitor emulation; `plexlab calibrate` measures this machine",
            .trapPF: "estimate: trap_int3 plus page-fault work; calibrate measures it",
            .trapWP: "estimate: trap_pf plus unprotecting the page and discarding its scan or translations",
            .emulateData: "estimate: trap_pf plus decoding and emulating the access",
            .scanPerInsn: "estimate: a fast table-driven decoder (Zydis class) decodes one instruction in ~50 cycles; calibrate measures it",
            .translatePerInsn: "estimate: 4x a decode per instruction for decode, emit and fix-up",
            .dispatch: "estimate: context save/restore and a hash lookup, ~60 cycles with good prediction (Bruening 2004 scaled to current cores)",
            .link: "estimate: a dispatch-time patch plus bookkeeping",
            .ibtcHit: "estimate: inline lookup, compare and a (usually predicted) indirect jump",
            .rasHit: "estimate: compare plus a predicted return",
            .vmexit: "estimate: a null VM exit (cpuid) round trip through KVM costs ~1,000-1,500 cycles on recent Intel cores (kvm-unit-tests vmexit benchmarks); hardware round trip alone ~500",
        ])
}
