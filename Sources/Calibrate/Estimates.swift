/// Figures used for a cost key when this host cannot measure it, each with its reasoning.
///
/// They are for a modern out-of-order x86-64 core (2015 and later), in core cycles. The built-in `modern`
/// profile of the CostModel module is meant to replace them once it exists.
enum Estimate {
    struct Figure {
        var cycles: Double
        var reasoning: String
        var note: String { "estimate: \(reasoning)" }
    }

    static let cpi = Figure(cycles: 1.0, reasoning:
        "a modern out-of-order core retires about one instruction per cycle on integer code")
    static let trapInt3 = Figure(cycles: 3000, reasoning:
        "a Linux signal round trip (exception entry, signal frame, handler, sigreturn) is about 1 us at 3 GHz")
    static let trapPF = Figure(cycles: 4000, reasoning:
        "a signal round trip (about 3000 cycles) plus one mprotect of a page (about 1000 cycles)")
    static let trapWP = trapPF
    static let emulationOfOneAccess = Figure(cycles: 100, reasoning:
        "decoding the faulting instruction (about scan_per_insn) and performing its access on the guest's behalf")
    static let scanPerInsn = Figure(cycles: 60, reasoning:
        "a full x86 decoder (Zydis-class) takes 50-100 cycles per instruction, plus coverage bookkeeping")
    static let translatePerInsn = Figure(cycles: 300, reasoning:
        "decode (about 60), then emit mostly-identical code and fix up CTIs: a few times a decode")
    static let dispatch = Figure(cycles: 150, reasoning:
        "save and restore the guest's registers and flags (about 40), a lookup in the translation map, and two "
        + "badly predicted indirect jumps (about 20 each)")
    static let link = Figure(cycles: 100, reasoning:
        "patching one direct jump in the code cache: a 4-byte store into code plus the self-modifying-code "
        + "pipeline flush it causes")
    static let ibtcHit = Figure(cycles: 10, reasoning:
        "hash the target, one load from a cached table, compare, predicted indirect jump")
    static let rasHit = Figure(cycles: 5, reasoning: "a pop from a small cached stack and one compare")
    static let vmexit = Figure(cycles: 1000, reasoning:
        "a VM exit and re-entry with a minimal handler costs 500-1500 cycles on VT-x/AMD-V cores since 2013")
}
