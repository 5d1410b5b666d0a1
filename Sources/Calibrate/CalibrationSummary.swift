import Foundation

extension Calibration {
    /// A Markdown summary: host, clock, one row per measurement, derived figures, what was not measured.
    public func summary() -> String {
        var lines: [String] = []
        lines.append("Host: \(host.cpuModel), \(host.machine), Linux \(host.kernel), \(host.logicalCPUs) logical CPUs"
                     + (host.underHypervisor ? ", under a hypervisor" : ""))
        lines.append("Clock: \(clock.explanation)")
        lines.append("")
        lines.append("| measurement | median cycles | p10 | p90 | MAD | median ns | ops/region x regions |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for m in measurements {
            let c = m.cycles
            lines.append("| \(m.kind.rawValue) | \(t(c.median)) | \(t(c.p10)) | \(t(c.p90)) | \(t(c.mad)) | "
                         + "\(t(m.medianNanoseconds)) | \(m.operationsPerRegion) x \(c.count) |")
        }
        lines.append("")
        if let pf = measurement(.pageFault), let mp = measurement(.mprotect) {
            lines.append("Page-fault round trip without the handler's mprotect: \(t(pf.cycles.median - mp.cycles.median)) "
                         + "cycles (trap_pf keeps the mprotect: a monitor must change the page's protection too).")
        }
        if clock.source == .tsc, let loop = measurement(.referenceLoop), let ghz = clock.tscGigahertz {
            lines.append("Core clock while running the reference loop (one dependent add per cycle): about "
                         + String(format: "%.2f GHz", ghz / loop.cycles.median) + ".")
        }
        if unmeasured.isEmpty {
            lines.append("Everything was measured.")
        } else {
            for item in unmeasured { lines.append("Not measured: \(item.what): \(item.why).") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func t(_ value: Double) -> String { ProfileBuilder.text(value) }
}
