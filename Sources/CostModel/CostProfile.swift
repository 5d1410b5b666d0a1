/// The twelve cost keys of a profile (docs/cost-profile-format.md); every cost is in CPU cycles.
public enum CostKey: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// Cycles per guest instruction running natively (or as translated code).
    case cpi
    /// An INT3 trap: ring 3 -> ring 0 #BP, monitor dispatch, emulation of the patched instruction, return.
    case trapInt3 = "trap_int3"
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

    public var description: String { rawValue }
}

/// A named table of cycle costs, with where each number comes from.
public struct CostProfile: Sendable, Equatable {
    public var name: String
    public var description: String
    /// Cost of each key in cycles; every `CostKey` has an entry.
    public var costs: [CostKey: Double]
    /// Where each number comes from: a paper, a measurement, or "estimate: <reasoning>".
    public var sources: [CostKey: String]

    /// Creates a profile; keys missing from `costs` cost 0.
    public init(name: String, description: String, costs: [CostKey: Double], sources: [CostKey: String] = [:]) {
        self.name = name
        self.description = description
        var complete: [CostKey: Double] = [:]
        for key in CostKey.allCases { complete[key] = costs[key] ?? 0 }
        self.costs = complete
        self.sources = sources
    }

    /// The cost of `key` in cycles.
    public subscript(key: CostKey) -> Double { costs[key] ?? 0 }

    /// `instructions * cpi + Σ count * cost(key) + scanned * scan_per_insn + translated * translate_per_insn`.
    /// `events` pairs a cost key with how many times it was paid (keys may repeat).
    public func cycles(instructions: UInt64, events: [(key: CostKey, count: UInt64)],
                       scanned: UInt64, translated: UInt64) -> Double {
        var total = Double(instructions) * self[.cpi]
        for event in events { total += Double(event.count) * self[event.key] }
        total += Double(scanned) * self[.scanPerInsn]
        total += Double(translated) * self[.translatePerInsn]
        return total
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
