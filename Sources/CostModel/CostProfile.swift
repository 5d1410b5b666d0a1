/// The cost keys of a profile (docs/cost-profile-format.md): twelve required ones and five, for running
/// translated code, that a file may leave out (`defaultValue`). Every cost is in CPU cycles except the two
/// `tc_*` factors, which multiply `cpi`.
public enum CostKey: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// Cycles per guest instruction running natively (or as translated code).
    case cpi
    /// An INT3 trap: ring 3 -> ring 0 #BP, monitor dispatch, emulation of the patched instruction, return.
    case trapInt3 = "trap_int3"
    /// An INT3 on a byte the monitor filled (pagefault-nx's `int3_fill`): the trap and a scan extension, no
    /// step over an original instruction. Defaults to the profile's `trap_int3` (`defaultValue`); the live
    /// profile measures it apart (docs/live.md).
    case trapInt3Fill = "trap_int3_fill"
    /// A page fault into the monitor (not-present or NX execute fault), handled and returned from.
    case trapPF = "trap_pf"
    /// A write-protection fault on a protected code page, handled and returned from.
    case trapWP = "trap_wp"
    /// A data access to a not-present page: the fault plus decoding and emulating the access.
    case emulateData = "emulate_data"
    /// Decoding one instruction during a page scan.
    case scanPerInsn = "scan_per_insn"
    /// Translating one instruction into the code cache.
    case translatePerInsn = "translate_per_insn"
    /// One trip from translated code through the dispatcher (context switch, lookup, return).
    case dispatch
    /// Patching a direct exit to jump straight to its target's translation.
    case link
    /// An indirect branch resolved by the inline indirect-branch translation cache.
    case ibtcHit = "ibtc_hit"
    /// A return resolved by the return-address stack.
    case rasHit = "ras_hit"
    /// A hardware VM exit and re-entry (VT-x / AMD-V round trip).
    case vmexit
    /// Translated code of a same-ISA code cache (DynamoRIO, VMware BT, plex86): its cycles per guest
    /// instruction as a multiple of `cpi` (a factor, not cycles).
    case tcSameISA = "tc_same_isa"
    /// Cycles per executed block of a same-ISA code cache beyond its guest instructions: the exit sequence
    /// the translator emits around the guest's branch.
    case blockSameISA = "block_same_isa"
    /// Translated code of a cross-ISA translator (QEMU TCG): cycles per guest instruction as a multiple of `cpi`.
    case tcCrossISA = "tc_cross_isa"
    /// Cycles per executed block of a cross-ISA translator beyond its guest instructions (QEMU: the TB's
    /// exit-request check and its goto_tb jump).
    case blockCrossISA = "block_cross_isa"
    /// A TB lookup inside the code cache that finds the target (QEMU: lookup_and_goto_ptr, a hash probe).
    case tbLookup = "tb_lookup"
    // System traces (docs/strategies.md, "System traces"); every one defaults to a formula over the
    // profile's own keys (`defaultValue`), so files written before them still load.
    /// A privileged instruction of guest kernel code run deprivileged: #GP into the monitor, emulate, return.
    case trapPrivileged = "trap_privileged"
    /// A binary translator's inline call into the monitor for a privileged instruction (no exception).
    case btPrivilegedCallout = "bt_privileged_callout"
    /// Reflecting an interrupt into the guest: take it in the monitor, deliver it through the guest's IDT.
    case reflectInterrupt = "reflect_interrupt"
    /// Reflecting a guest exception into the guest kernel.
    case reflectException = "reflect_exception"
    /// Reflecting a guest syscall into the guest kernel.
    case reflectSyscall = "reflect_syscall"
    /// A guest page fault under software shadow page tables: the fault, a guest page-table walk, reflection.
    case shadowPF = "shadow_pf"
    /// A store to a write-protected guest page-table page: fault, emulate the store, update the shadow.
    case trapPTStore = "trap_pt_store"
    /// A VM exit on a page fault (guest #PF or a page-table store under shadow paging) and its handling.
    case vmexitPF = "vmexit_pf"
    /// A VM exit on a CR3 write under shadow paging (switching shadow page tables).
    case vmexitCR3 = "vmexit_cr3"
    /// A VM exit on in/out/ins/outs.
    case vmexitIO = "vmexit_io"
    /// A VM exit on hlt.
    case vmexitHLT = "vmexit_hlt"
    /// A VM exit on an external interrupt and its injection into the guest.
    case vmexitInterrupt = "vmexit_intr"
    /// The extra cycles of a two-dimensional page walk under nested paging, charged per guest page fault.
    case eptWalk = "ept_walk"

    public var description: String { rawValue }

    /// The keys a profile file must hold: the twelve of the model before translated code had a cost (the
    /// others default: `defaultValue`).
    public static let required: [CostKey] = [.cpi, .trapInt3, .trapPF, .trapWP, .emulateData, .scanPerInsn,
                                             .translatePerInsn, .dispatch, .link, .ibtcHit, .rasHit, .vmexit]

    /// What a file that leaves this key out gets, as (value, note): the translated-code keys default to
    /// the model before they existed (translated code as fast as native); `tb_lookup` to the file's own
    /// `ibtc_hit`, the same kind of in-cache hash probe. Nil for required keys.
    public func defaultValue(in costs: [CostKey: Double]) -> (value: Double, note: String)? {
        switch self {
        case .tcSameISA, .tcCrossISA:
            (1, "default (not in the file): translated code runs at native speed, as before the key existed")
        case .blockSameISA, .blockCrossISA:
            (0, "default (not in the file): no per-block cost, as before the key existed")
        case .tbLookup:
            (costs[.ibtcHit] ?? 0, "default (not in the file): the file's ibtc_hit, the same kind of in-cache hash probe")
        case .trapInt3Fill:
            (costs[.trapInt3] ?? 0, "default (not in the file): the file's trap_int3, the same INT3 round trip into the monitor")
        default: systemDefault(in: costs)
        }
    }

    /// The system-trace keys as formulas over the profile's own keys: no published per-operation figure
    /// was found for them (docs/cost-profiles.md, "System-trace keys"), so each is an estimate of which
    /// operations it is made of, priced at the profile's own costs for those operations.
    private func systemDefault(in costs: [CostKey: Double]) -> (value: Double, note: String)? {
        let trap = costs[.trapInt3] ?? 0, vmexit = costs[.vmexit] ?? 0
        switch self {
        case .trapPrivileged:
            return (trap, "estimate: = trap_int3: a #GP from a privileged instruction of deprivileged kernel code takes the INT3 trap's path (exception delivery, decode, emulate, return)")
        case .btPrivilegedCallout:
            return (costs[.dispatch] ?? 0, "estimate: = dispatch: translated code calls the monitor's emulation routine without an exception, a context save and restore like a dispatch")
        case .reflectInterrupt:
            return (2 * trap, "estimate: = 2 x trap_int3: the host exception round trip, then building the guest's frame and entering its handler at its virtual ring 0, another trap's worth")
        case .reflectException:
            return (2 * trap, "estimate: = 2 x trap_int3: as reflect_interrupt, for an exception the guest raised")
        case .reflectSyscall:
            return (2 * trap, "estimate: = 2 x trap_int3: the trapped syscall instruction, then entering the guest kernel's entry point at its virtual ring 0")
        case .shadowPF:
            return ((costs[.trapPF] ?? 0) + trap, "estimate: = trap_pf + trap_int3: the #PF into the monitor and a walk of the guest page table (a true fault), then its reflection")
        case .trapPTStore:
            return (costs[.emulateData] ?? 0, "estimate: = emulate_data: a write-protection fault, the store decoded and emulated against the guest page table, its shadow entry updated")
        case .vmexitPF:
            return (2 * vmexit, "estimate: = 2 x vmexit: the exit, a walk of the guest and shadow tables, then a fixed shadow entry or an injected #PF: another round trip's worth of monitor work")
        case .vmexitCR3:
            return (2 * vmexit, "estimate: = 2 x vmexit: the exit and switching to (or rebuilding) the shadow page table of the new address space")
        case .vmexitIO:
            return (vmexit, "estimate: = vmexit: the round trip; the device model's own work is the device's, not the monitor's, and is left out")
        case .vmexitHLT:
            return (vmexit, "estimate: = vmexit: the round trip (the idle time that follows is the guest's, not overhead)")
        case .vmexitInterrupt:
            return (vmexit, "estimate: = vmexit: the external-interrupt exit and the injection at the next entry")
        case .eptWalk:
            return (100, "estimate: a nested walk makes up to 24 page-table references where a native walk makes 4; the 20 more, mostly hits in the paging-structure caches and L1/L2 at ~5 cycles, ~100 cycles")
        default:
            return nil
        }
    }
}

/// Which translator, if any, runs a strategy's guest code: it picks the profile's translated-code keys.
/// Strategies declare it (docs/strategies.md section 4); profiles give the machine's figures for each kind.
public enum TranslatorKind: String, Sendable, CaseIterable {
    /// Guest code runs as itself (native, hw, sbe, pagefault-*).
    case none
    /// A code cache of the guest's own instructions (dbt-nolink, dbt-link, dbt-ibtc).
    case sameISA = "same-isa"
    /// A cross-ISA translator through an intermediate representation (dbt-qemu: QEMU TCG).
    case crossISA = "cross-isa"
}

/// A named table of cycle costs, with where each number comes from.
public struct CostProfile: Sendable, Equatable {
    public var name: String
    public var description: String
    /// Cost of each key in cycles; every `CostKey` has an entry.
    public var costs: [CostKey: Double]
    /// Where each number comes from: a paper, a measurement, or "estimate: <reasoning>".
    public var sources: [CostKey: String]

    /// Creates a profile; a translated-code key missing from `costs` takes its `defaultValue`, any other
    /// missing key costs 0.
    /// A key that takes its default gets the default's note as its source when `sources` has none.
    public init(name: String, description: String, costs: [CostKey: Double], sources: [CostKey: String] = [:]) {
        self.name = name
        self.description = description
        var complete: [CostKey: Double] = [:]
        var notes = sources
        for key in CostKey.allCases {
            if let cost = costs[key] {
                complete[key] = cost
            } else if let (cost, note) = key.defaultValue(in: complete) {
                complete[key] = cost
                if notes[key] == nil { notes[key] = note }
            } else {
                complete[key] = 0
            }
        }
        self.costs = complete
        self.sources = notes
    }

    /// The cost of `key` in cycles.
    public subscript(key: CostKey) -> Double { costs[key] ?? 0 }

    /// The factor on `cpi` at which `translator`'s code runs (1 for untranslated code).
    public func codeFactor(_ translator: TranslatorKind) -> Double {
        switch translator {
        case .none: 1
        case .sameISA: self[.tcSameISA]
        case .crossISA: self[.tcCrossISA]
        }
    }

    /// Cycles per executed block of `translator`'s code beyond its instructions (0 for untranslated code).
    public func blockCost(_ translator: TranslatorKind) -> Double {
        switch translator {
        case .none: 0
        case .sameISA: self[.blockSameISA]
        case .crossISA: self[.blockCrossISA]
        }
    }

    /// docs/strategies.md section 4: `instructions * cpi * factor(translator) + blocks * block(translator)
    /// + Σ count * cost(key) + scanned * scan_per_insn + translated * translate_per_insn`: the sum of
    /// `breakdown`'s parts. `events` pairs a cost key with how many times it was paid (keys may repeat).
    public func cycles(instructions: UInt64, blocks: UInt64, translator: TranslatorKind,
                       events: [(key: CostKey, count: UInt64)], scanned: UInt64, translated: UInt64) -> Double {
        breakdown(instructions: instructions, blocks: blocks, translator: translator,
                  events: events.map { (label: $0.key.rawValue, key: $0.key, count: $0.count) },
                  scanned: scanned, translated: translated).reduce(0) { $0 + $1.cycles }
    }

    /// The terms of the cycle formula, in its order: "execution" (at the translator's factor, always
    /// present), "block exits" of translated code, one part per event (labelled by the caller, e.g. with
    /// its trap cause), "scan" and "translate"; parts that cost nothing are left out.
    public func breakdown(instructions: UInt64, blocks: UInt64, translator: TranslatorKind,
                          events: [(label: String, key: CostKey, count: UInt64)],
                          scanned: UInt64, translated: UInt64) -> [CostPart] {
        var parts = [CostPart(label: "execution", cycles: Double(instructions) * self[.cpi] * codeFactor(translator))]
        func add(_ label: String, _ cycles: Double) { if cycles > 0 { parts.append(CostPart(label: label, cycles: cycles)) } }
        add("block exits", Double(blocks) * blockCost(translator))
        for event in events { add(event.label, Double(event.count) * self[event.key]) }
        add("scan", Double(scanned) * self[.scanPerInsn])
        add("translate", Double(translated) * self[.translatePerInsn])
        return parts
    }

    /// The built-in profiles, in the order documentation lists them.
    public static var builtIn: [CostProfile] { [pentium3, pentium4, modern] }

    /// A built-in profile by name, or nil.
    public static func named(_ name: String) -> CostProfile? {
        builtIn.first { $0.name == name }
    }

    /// A built-in profile name, or else a path to a JSON profile file.
    public static func resolve(_ nameOrPath: String) throws -> CostProfile {
        if let profile = named(nameOrPath) { return profile }
        return try load(path: nameOrPath)
    }
}

/// One term of the cycle formula (`CostProfile.breakdown`).
public struct CostPart: Sendable, Equatable {
    /// "execution", "block exits", "scan", "translate", or an event's label (a trap cause).
    public var label: String
    public var cycles: Double
    public init(label: String, cycles: Double) {
        self.label = label
        self.cycles = cycles
    }
}

/// One estimate: what a strategy's counts cost under one profile.
public struct CostEstimate: Sendable, Equatable, Codable {
    public var profile: String
    public var cycles: Double
    /// cycles / cycles of `native` under the same profile.
    public var slowdown: Double
    public init(profile: String, cycles: Double, slowdown: Double) {
        self.profile = profile
        self.cycles = cycles
        self.slowdown = slowdown
    }
}
