/// One quantity the calibration times on this host.
public enum MeasurementKind: String, CaseIterable, Sendable {
    case timerOverhead = "timer_overhead"
    case int3 = "int3_round_trip"
    case pageFault = "page_fault_round_trip"
    case writeFault = "write_fault_round_trip"
    case mprotect = "mprotect_one_page"
    case syscall = "syscall_round_trip"
    case cpuid = "cpuid_round_trip"
    case ibtcLookup = "ibtc_lookup"
    case rasHit = "ras_push_pop"
    case referenceLoop = "reference_loop_cpi"
    case scan = "scan_per_insn"

    /// What one operation is, in words.
    public var title: String {
        switch self {
        case .timerOverhead: "reading the clock twice (subtracted from every region)"
        case .int3: "int3 -> SIGTRAP handler (counts) -> return"
        case .pageFault: "read of a PROT_NONE page -> SIGSEGV handler mprotects it PROT_READ -> return"
        case .writeFault: "store to a PROT_READ page -> SIGSEGV handler mprotects it read-write -> return"
        case .mprotect: "mprotect of one page PROT_NONE -> PROT_READ, no fault"
        case .syscall: "syscall(SYS_getppid)"
        case .cpuid: "cpuid leaf 0"
        case .ibtcLookup: "dependent lookup in a direct-mapped 4096-entry IBTC (1024 targets, 90% in a hot 64)"
        case .rasHit: "return-address stack push, then pop and compare (16 entries)"
        case .referenceLoop: "one instruction of 1000 dependent adds + dec/jnz (1002 per iteration)"
        case .scan: "one instruction of a recursive-descent page scan (Zydis) of libc code pages"
        }
    }
}

/// A measured quantity: per-operation figures in profile cycles over all timed regions.
public struct Measurement: Sendable, Equatable {
    public var kind: MeasurementKind
    /// Operations per timed region (the timer overhead is subtracted per region, then divided by this).
    public var operationsPerRegion: Int
    /// Cycles per operation.
    public var cycles: SampleSummary
    /// Median nanoseconds per operation.
    public var medianNanoseconds: Double

    public init(kind: MeasurementKind, operationsPerRegion: Int, cycles: SampleSummary, medianNanoseconds: Double) {
        self.kind = kind
        self.operationsPerRegion = operationsPerRegion
        self.cycles = cycles
        self.medianNanoseconds = medianNanoseconds
    }
}

/// Something the calibration could not measure, and why.
public struct Unmeasured: Sendable, Equatable {
    public var what: String
    public var why: String
    public init(what: String, why: String) {
        self.what = what
        self.why = why
    }
}
