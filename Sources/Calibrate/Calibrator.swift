import CCalibrate
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How to calibrate.
public struct CalibrationOptions: Sendable {
    /// Timed regions per measurement (the median and spread are over these).
    public var repetitions: Int
    /// Fewer operations per region and a shorter TSC calibration (for tests and a first look).
    public var quick: Bool
    /// Time with clock_gettime even when the TSC works (the fallback path).
    public var timeBased: Bool
    /// The profile's `name`.
    public var profileName: String

    public static let defaultRepetitions = 1001
    public static let quickRepetitions = 51

    public init(repetitions: Int? = nil, quick: Bool = false, timeBased: Bool = false,
                profileName: String = "this-machine") {
        self.repetitions = repetitions ?? (quick ? Self.quickRepetitions : Self.defaultRepetitions)
        self.quick = quick
        self.timeBased = timeBased
        self.profileName = profileName
    }
}

/// Which clock timed the kernels, and how its ticks became profile cycles.
public struct ClockReport: Sendable, Equatable {
    public enum Source: String, Sendable {
        case tsc = "TSC (rdtsc/rdtscp)"
        case monotonic = "clock_gettime(CLOCK_MONOTONIC)"
    }
    public var source: Source
    /// Measured TSC frequency in GHz (ticks per nanosecond), when the TSC was usable.
    public var tscGigahertz: Double?
    /// Profile cycles per clock tick (1 for the TSC: profile cycles are TSC cycles).
    public var cyclesPerTick: Double
    /// Profile cycles per nanosecond.
    public var cyclesPerNanosecond: Double
    /// One sentence: what was used and why.
    public var explanation: String
}

/// The result of a calibration: the measurements, what could not be measured, and the profile.
public struct Calibration: Sendable {
    public var host: HostDescription
    public var clock: ClockReport
    public var date: Date
    public var measurements: [Measurement]
    public var unmeasured: [Unmeasured]
    public var profile: CalibratedProfile

    public func measurement(_ kind: MeasurementKind) -> Measurement? {
        measurements.first { $0.kind == kind }
    }
}

/// Runs the measurement kernels of CCalibrate and turns them into a cost profile.
public enum Calibrator {
    /// Measures this host. Throws only when nothing can be measured (another architecture, no clock).
    public static func run(_ options: CalibrationOptions) throws -> Calibration {
        let host = HostDescription.current()
        guard cc_is_x86_64() == 1 else { throw CalibrationError.unsupportedArchitecture(host.machine) }
        guard options.repetitions >= 5 else { throw CalibrationError.invalidRepetitions(options.repetitions) }
        var unmeasured: [Unmeasured] = []
        let clock = try chooseClock(options, host: host, unmeasured: &unmeasured)
        let plan = kernels(quick: options.quick)
        let run = runRounds(plan, clock: clock, options: options, unmeasured: &unmeasured)
        let measurements = summarize(plan, raw: run.raw, scanned: run.scanned, clock: clock, unmeasured: &unmeasured)
        if !host.underHypervisor {
            unmeasured.append(Unmeasured(what: "vmexit", why:
                "not running under a hypervisor, so cpuid does not exit; the profile uses an estimate"))
        }
        let date = Date()
        let profile = ProfileBuilder(host: host, clock: clock, date: date, measurements: measurements)
            .profile(named: options.profileName)
        return Calibration(host: host, clock: clock, date: date, measurements: measurements,
                           unmeasured: unmeasured, profile: profile)
    }

    // MARK: clock

    /// The clock calibrate would time with (TSC when usable), alone: for converting seconds to profile cycles.
    public static func clock(quick: Bool = true) throws -> ClockReport {
        var unmeasured: [Unmeasured] = []
        return try chooseClock(CalibrationOptions(quick: quick), host: HostDescription.current(), unmeasured: &unmeasured)
    }

    static func chooseClock(_ options: CalibrationOptions, host: HostDescription,
                            unmeasured: inout [Unmeasured]) throws -> ClockReport {
        let status = cc_tsc_status()
        var why: String
        if options.timeBased {
            why = "requested with --time-based"
        } else if status == Int32(CC_TSC_OK.rawValue) {
            let window: UInt64 = options.quick ? 5_000_000 : 50_000_000
            let rates = (0..<5).map { _ in cc_tsc_ticks_per_ns(window) }.sorted()
            let rate = rates[2]
            if rate > 0.1 && rate < 10 {
                var explanation = String(format: "TSC at %.4f GHz, measured against CLOCK_MONOTONIC_RAW "
                                         + "(median of 5 windows of %d ms); profile cycles are TSC cycles",
                                         rate, Int(window / 1_000_000))
                if cc_tsc_invariant() != 1 {
                    explanation += "; CPUID does not advertise an invariant TSC"
                }
                return ClockReport(source: .tsc, tscGigahertz: rate, cyclesPerTick: 1, cyclesPerNanosecond: rate,
                                   explanation: explanation)
            }
            why = String(format: "the TSC rate measured against CLOCK_MONOTONIC_RAW is implausible (%.4f GHz)", rate)
        } else {
            why = tscProblem(status)
        }
        unmeasured.append(Unmeasured(what: "cycle counter", why: why + "; figures are clock_gettime nanoseconds "
                                     + "converted to cycles"))
        guard let megahertz = host.cpuMegahertz, megahertz > 0 else {
            let assumed = 3.0
            return ClockReport(source: .monotonic, tscGigahertz: nil, cyclesPerTick: assumed,
                               cyclesPerNanosecond: assumed, explanation:
                                "clock_gettime nanoseconds x an assumed 3.0 GHz (/proc/cpuinfo has no cpu MHz); "
                                + "TSC not used: \(why)")
        }
        let gigahertz = megahertz / 1000
        return ClockReport(source: .monotonic, tscGigahertz: nil, cyclesPerTick: gigahertz,
                           cyclesPerNanosecond: gigahertz, explanation: String(
                            format: "clock_gettime nanoseconds x %.4f GHz (cpu MHz from /proc/cpuinfo); "
                            + "TSC not used: %@", gigahertz, why))
    }

    static func tscProblem(_ status: Int32) -> String {
        switch UInt32(status) {
        case CC_TSC_NOT_X86_64.rawValue: "not an x86-64 host"
        case CC_TSC_NO_CPUID_FLAG.rawValue: "CPUID does not report a TSC"
        case CC_TSC_DISABLED.rawValue: "rdtsc is disabled in this process (prctl PR_TSC_SIGSEGV)"
        case CC_TSC_NOT_ADVANCING.rawValue: "the TSC did not advance over 1 ms"
        default: "unknown TSC status \(status)"
        }
    }

    // MARK: kernels

    /// (clock, inner, samples, count, operations reported by the kernel) -> status.
    typealias KernelFunction = (cc_clock, UInt32, UnsafeMutablePointer<UInt64>?, UInt32, inout UInt64) -> Int32

    struct Kernel {
        var kind: MeasurementKind
        /// The `inner` argument: operations (or reference-loop iterations) per region.
        var inner: UInt32
        /// Operations per region, for the division (instructions, for the reference loop); nil when the
        /// kernel reports it (the scan decodes however many instructions the pages hold).
        var operations: Int?
        var function: KernelFunction
    }

    static func kernels(quick: Bool) -> [Kernel] {
        let pages: UInt32 = quick ? 4 : 16
        let lookups: UInt32 = quick ? 256 : 1024
        let iterations: UInt32 = quick ? 4 : 20
        typealias Measure = (cc_clock, UInt32, UnsafeMutablePointer<UInt64>?, UInt32) -> Int32
        func kernel(_ kind: MeasurementKind, _ inner: UInt32, _ measure: @escaping Measure) -> Kernel {
            Kernel(kind: kind, inner: inner, operations: Int(inner)) { clock, inner, samples, count, _ in
                measure(clock, inner, samples, count)
            }
        }
        return [
            kernel(.timerOverhead, 1) { clock, _, samples, count in cc_measure_timer_overhead(clock, samples, count) },
            kernel(.int3, quick ? 2 : 8, cc_measure_int3),
            kernel(.pageFault, pages, cc_measure_page_fault),
            kernel(.writeFault, pages, cc_measure_write_fault),
            kernel(.mprotect, pages, cc_measure_mprotect),
            kernel(.syscall, quick ? 8 : 32, cc_measure_syscall),
            kernel(.cpuid, quick ? 2 : 8, cc_measure_cpuid),
            kernel(.ibtcLookup, lookups, cc_measure_ibtc_lookup),
            kernel(.rasHit, lookups, cc_measure_ras),
            Kernel(kind: .referenceLoop, inner: iterations,
                   operations: Int(iterations) * Int(CC_ADD_CHAIN_INSNS_PER_ITERATION)) { clock, inner, samples, count, _ in
                cc_measure_add_chain(clock, inner, samples, count)
            },
            Kernel(kind: .scan, inner: 1, operations: nil) { clock, _, samples, count, decoded in
                cc_measure_scan(clock, &decoded, samples, count)
            },
        ]
    }

    /// Runs every kernel in interleaved rounds, so a burst of noise from the shared machine lands on a
    /// slice of every measurement rather than on all of one. Returns raw region durations per kind.
    static func runRounds(_ plan: [Kernel], clock: ClockReport, options: CalibrationOptions,
                          unmeasured: inout [Unmeasured]) -> (raw: [MeasurementKind: [UInt64]], scanned: Int) {
        let rounds = options.repetitions >= 100 ? 5 : 1
        let source = clock.source == .tsc ? CC_CLOCK_TSC : CC_CLOCK_MONOTONIC_NS
        var raw: [MeasurementKind: [UInt64]] = [:]
        var failed: Set<MeasurementKind> = []
        var scanned = 0
        for round in 0..<rounds {
            let count = options.repetitions / rounds + (round < options.repetitions % rounds ? 1 : 0)
            for kernel in plan where !failed.contains(kernel.kind) {
                var samples = [UInt64](repeating: 0, count: count)
                var reported: UInt64 = 0
                let status = samples.withUnsafeMutableBufferPointer {
                    kernel.function(source, kernel.inner, $0.baseAddress, UInt32(count), &reported)
                }
                let error = errno
                if kernel.kind == .scan { scanned = Int(reported) }
                if status == 0 {
                    raw[kernel.kind, default: []] += samples
                } else {
                    failed.insert(kernel.kind)
                    raw[kernel.kind] = nil
                    unmeasured.append(Unmeasured(what: kernel.kind.rawValue, why: kernelProblem(status, errno: error)))
                }
            }
        }
        return (raw, scanned)
    }

    static func kernelProblem(_ status: Int32, errno error: Int32) -> String {
        switch Int(status) {
        case CC_ERR_UNSUPPORTED: "not measurable on this architecture"
        case CC_ERR_SYSTEM: "a system call failed: \(String(cString: strerror(error)))"
        case CC_ERR_NO_TRAP: "the signal handler did not run once per trapping operation"
        case CC_ERR_MISS: "the lookup table missed where every lookup must hit"
        default: "the kernel failed with status \(status)"
        }
    }

    /// Per region: (duration - median timer overhead) / operations, in profile cycles.
    static func summarize(_ plan: [Kernel], raw: [MeasurementKind: [UInt64]], scanned: Int, clock: ClockReport,
                          unmeasured: inout [Unmeasured]) -> [Measurement] {
        let overhead = raw[.timerOverhead].flatMap { SampleSummary($0.map(Double.init))?.median } ?? 0
        var measurements: [Measurement] = []
        for kernel in plan {
            guard let samples = raw[kernel.kind] else { continue }
            let operations = kernel.operations ?? scanned
            let subtract = kernel.kind == .timerOverhead ? 0 : overhead
            let perOperation = samples.map { (Double($0) - subtract) / Double(operations) * clock.cyclesPerTick }
            guard let summary = SampleSummary(perOperation) else { continue }
            guard summary.median > 0 else {
                unmeasured.append(Unmeasured(what: kernel.kind.rawValue, why:
                    "below the timer's resolution (median \(summary.median) cycles after subtracting its overhead)"))
                continue
            }
            measurements.append(Measurement(kind: kernel.kind, operationsPerRegion: operations,
                                            cycles: summary,
                                            medianNanoseconds: summary.median / clock.cyclesPerNanosecond))
        }
        return measurements
    }
}
