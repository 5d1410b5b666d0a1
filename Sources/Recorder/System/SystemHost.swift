#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What a whole-system recording needs on the host, found or refused with one line naming what to install
/// (docs/recorder.md, "System traces").
public struct SystemHost: Sendable {
    /// qemu-system-x86_64 (10.x: plugin API 4, register and guest-memory reads).
    public var qemu: String
    public var qemuVersion: String
    /// The guest kernel (a bzImage).
    public var kernel: String
    /// The system plugin, libPlexLabQEMUSystemPlugin.so.
    public var plugin: String
    /// busybox-static's binary.
    public var busybox: String
    public var gcc: String

    public static let pluginFileName = "libPlexLabQEMUSystemPlugin.so"
    public static let busyboxPath = "/bin/busybox"

    /// Finds everything; `kernel` overrides the newest /boot/vmlinuz-*.
    public static func locate(kernel: String? = nil,
                              environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SystemHost {
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        guard let qemu = try? GuestProgram.locate("qemu-system-x86_64", path: path) else {
            throw RecorderError.systemToolMissing(what: "qemu-system-x86_64",
                                                  install: "apt-get install -t bookworm-backports qemu-system-x86")
        }
        let version = Tools.qemuVersion(qemu)
        guard let major = Int(version.prefix { $0.isNumber }), major >= 10 else {
            throw RecorderError.systemToolMissing(what: "qemu-system-x86_64 10.x (found \(version))",
                                                  install: "apt-get install -t bookworm-backports qemu-system-x86")
        }
        let kernelPath: String
        if let kernel {
            guard FileManager.default.isReadableFile(atPath: kernel) else {
                throw RecorderError.systemToolMissing(what: "the kernel \(kernel) (not a readable file)",
                                                      install: "apt-get install linux-image-amd64")
            }
            kernelPath = kernel
        } else {
            guard let newest = Self.newestKernel() else {
                throw RecorderError.systemToolMissing(what: "a guest kernel (/boot/vmlinuz-*)",
                                                      install: "apt-get install linux-image-amd64")
            }
            kernelPath = newest
        }
        guard FileManager.default.isExecutableFile(atPath: busyboxPath) else {
            throw RecorderError.systemToolMissing(what: busyboxPath, install: "apt-get install busybox-static")
        }
        guard let gcc = try? GuestProgram.locate("gcc", path: path) else {
            throw RecorderError.systemToolMissing(what: "gcc (builds the guest's init)", install: "apt-get install gcc")
        }
        let plugin = try Tools.plugin(named: pluginFileName, environmentKey: "PLEXLAB_QEMU_SYSTEM_PLUGIN",
                                      environment: environment)
        return SystemHost(qemu: qemu, qemuVersion: version, kernel: kernelPath, plugin: plugin, busybox: busyboxPath,
                          gcc: gcc)
    }

    /// The newest readable /boot/vmlinuz-* by version order.
    static func newestKernel() -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/boot")) ?? []
        return names.filter { $0.hasPrefix("vmlinuz-") }
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
            .map { "/boot/" + $0 }
            .last { FileManager.default.isReadableFile(atPath: $0) }
    }
}
