import CostModel
import Foundation

/// Maps measurements to every cost key, with a source note for each.
struct ProfileBuilder {
    var host: HostDescription
    var clock: ClockReport
    var date: Date
    var measurements: [Measurement]
    /// Where the figures this host cannot measure come from.
    var modern = CostProfile.modern

    func profile(named name: String) -> CalibratedProfile {
        var costs: [String: Double] = [:]
        var sources: [String: String] = [:]
        func set(_ key: CostKey, _ cycles: Double, _ note: String) {
            costs[key.rawValue] = Self.rounded(cycles)
            sources[key.rawValue] = note
        }
        func builtIn(_ key: CostKey, because why: String) {
            set(key, modern[key], "estimate: the modern built-in's figure (\(why)); its note: "
                + (modern.sources[key] ?? "none"))
        }
        func measuredOrBuiltIn(_ key: CostKey, _ kind: MeasurementKind, what: String) {
            if let measurement = measurement(kind) {
                set(key, measurement.cycles.median, measured(measurement, what: what))
            } else {
                builtIn(key, because: "\(kind.rawValue) could not be measured")
            }
        }
        measuredOrBuiltIn(.cpi, .referenceLoop, what:
            "reference loop of 1000 dependent `add $1, %rax` + dec + jnz = 1002 instructions per iteration, "
            + "latency-bound at one add per core cycle, so in TSC cycles it is the TSC-to-core clock ratio")
        measuredOrBuiltIn(.trapInt3, .int3, what:
            "int3, SIGTRAP to a C handler that only counts, sigreturn (a user-level monitor's #BP round trip)")
        measuredOrBuiltIn(.trapInt3Fill, .int3, what:
            "the trap_int3 round trip: an INT3 on a filled byte takes the same trap to an in-process handler")
        measuredOrBuiltIn(.trapPF, .pageFault, what:
            "read of a PROT_NONE page, SIGSEGV handler mprotects the page PROT_READ, sigreturn; includes the "
            + "handler's mprotect (\(figure(.mprotect)) measured alone)")
        measuredOrBuiltIn(.trapWP, .writeFault, what:
            "store to a PROT_READ page, SIGSEGV handler mprotects it read-write, sigreturn")
        let emulation = modern[.emulateData] - modern[.trapPF]
        if let pageFault = measurement(.pageFault) {
            set(.emulateData, pageFault.cycles.median + emulation,
                "trap_pf (measured, median \(Self.text(pageFault.cycles.median))) + \(Self.text(emulation)) "
                + "(estimate: decoding and emulating the access, the modern built-in's emulate_data - trap_pf)")
        } else {
            builtIn(.emulateData, because: "page_fault_round_trip could not be measured")
        }
        measuredOrBuiltIn(.scanPerInsn, .scan, what:
            "plex86-style recursive-descent scan (Zydis 4 decode, coverage bitmap, worklist of in-page jcc/call "
            + "targets) of the pages holding the entries of 28 libc functions, each from its entry")
        if let scan = measurement(.scan) {
            let ratio = modern[.translatePerInsn] / modern[.scanPerInsn]
            set(.translatePerInsn, scan.cycles.median * ratio,
                "estimate: \(Self.text(ratio)) x the measured scan_per_insn (the modern built-in's ratio: decode, "
                + "emit and fix up per instruction)")
        } else {
            builtIn(.translatePerInsn, because: "the scan could not be measured")
        }
        builtIn(.dispatch, because: "a dispatcher is not measured")
        for key: CostKey in [.tcSameISA, .blockSameISA, .tcCrossISA, .blockCrossISA, .tbLookup] {
            builtIn(key, because: "translated code is not measured")
        }
        builtIn(.link, because: "linking is not measured")
        measuredOrBuiltIn(.ibtcHit, .ibtcLookup, what:
            "dependent lookups in a direct-mapped 4096-entry table of 16-byte entries (64 KiB, full), 1024 distinct "
            + "targets over 16 MiB, 90% of lookups in a hot set of 64; the jump to the translation is not included")
        measuredOrBuiltIn(.rasHit, .rasHit, what:
            "push of (guest, host) return addresses on a 16-entry in-memory stack, then pop and compare, "
            + "dependent pairs")
        if host.underHypervisor, let cpuid = measurement(.cpuid) {
            set(.vmexit, cpuid.cycles.median, measured(cpuid, what:
                "cpuid from this guest: the hypervisor flag is set and CPUID always exits, so this is a real VM exit "
                + "round trip (through this host's hypervisor)"))
        } else {
            builtIn(.vmexit, because: host.underHypervisor
                    ? "cpuid could not be measured" : "not under a hypervisor: cpuid does not exit")
        }
        // The system-trace keys are formulas over this profile's own (measured) keys.
        var known: [CostKey: Double] = [:]
        for key in CostKey.allCases {
            if let cost = costs[key.rawValue] {
                known[key] = cost
            } else if let (cost, note) = key.defaultValue(in: known) {
                known[key] = cost
                set(key, cost, note)
            }
        }
        let day = ISO8601DateFormatter.string(from: date, timeZone: TimeZone(identifier: "UTC")!,
                                              formatOptions: [.withFullDate])
        let unit = clock.source == .tsc
            ? String(format: "TSC cycles (TSC %.4f GHz, measured)", clock.tscGigahertz ?? 0)
            : String(format: "cycles at %.4f GHz, converted from clock_gettime nanoseconds", clock.cyclesPerNanosecond)
        let description = "Measured by plexlab calibrate on \(host.cpuModel) (\(host.machine), Linux \(host.kernel)"
            + (host.underHypervisor ? ", under a hypervisor" : "") + ") on \(day). Unit: \(unit). "
            + "Traps are user-level signal round trips. See sources for each key."
        return CalibratedProfile(name: name, description: description, costs: costs, sources: sources)
    }

    func measurement(_ kind: MeasurementKind) -> Measurement? { measurements.first { $0.kind == kind } }

    func figure(_ kind: MeasurementKind) -> String {
        measurement(kind).map { "median \(Self.text($0.cycles.median))" } ?? "not"
    }

    func measured(_ measurement: Measurement, what: String) -> String {
        let c = measurement.cycles
        return "measured: median of \(c.count) timed regions of \(measurement.operationsPerRegion) operations, "
            + "p10 \(Self.text(c.p10)), p90 \(Self.text(c.p90)), MAD \(Self.text(c.mad)) cycles; \(what)"
    }

    /// Two decimals from 1 up, four significant digits below: figures that print cleanly and stay > 0.
    static func rounded(_ value: Double) -> Double {
        guard value.isFinite, value > 0 else { return value }
        let decimals = max(2, 3 - Int(log10(value).rounded(.down)))
        let scale = pow(10, Double(decimals))
        return (value * scale).rounded() / scale
    }

    static func text(_ value: Double) -> String {
        let r = rounded(value)
        return r == r.rounded() && abs(r) < 1e15 ? String(Int(r)) : String(r)
    }
}
