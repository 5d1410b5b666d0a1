import Foundation
import CCalibrate
#if canImport(Glibc)
import Glibc
#endif

/// What the calibration ran on, for the profile's description and the report.
public struct HostDescription: Sendable, Equatable {
    /// `model name` from /proc/cpuinfo, or "unknown CPU".
    public var cpuModel: String
    /// `cpu MHz` from /proc/cpuinfo (the kernel's figure for the first CPU), if present.
    public var cpuMegahertz: Double?
    /// uname machine and release, e.g. "x86_64", "6.1.0".
    public var machine: String
    public var kernel: String
    /// CPUID says a hypervisor is present: traps pass through it and cpuid exits to it.
    public var underHypervisor: Bool
    public var logicalCPUs: Int

    public static func current() -> HostDescription {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        func field(_ name: String) -> String? {
            for line in cpuinfo.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
        var names = utsname()
        uname(&names)
        func text<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return HostDescription(
            cpuModel: field("model name") ?? "unknown CPU",
            cpuMegahertz: field("cpu MHz").flatMap(Double.init),
            machine: text(names.machine),
            kernel: text(names.release),
            underHypervisor: cc_hypervisor_present() == 1,
            logicalCPUs: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}
