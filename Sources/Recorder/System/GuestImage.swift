#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The default guest's initramfs: busybox-static, the project's init and the guest workloads (GuestSources),
/// built once into a cache directory that is never committed ($XDG_CACHE_HOME/plexlab/guest, else
/// ~/.cache/plexlab/guest), keyed by a hash of the sources and the busybox binary.
struct GuestImage {
    /// The base archive (uncompressed newc cpio).
    let path: String
    let directory: String

    /// Builds the image unless the cache holds it already.
    static func prepare(host: SystemHost, environment: [String: String],
                        status: ((String) -> Void)? = nil) throws -> GuestImage {
        let directory = cacheDirectory(environment: environment)
        let busybox: [UInt8]
        do {
            busybox = try [UInt8](Data(contentsOf: URL(fileURLWithPath: host.busybox)))
        } catch {
            throw RecorderError.systemToolMissing(what: "a readable \(host.busybox)", install: "apt-get install busybox-static")
        }
        var key = Hasher64()
        key.add(GuestSources.initProgram)
        for workload in GuestSources.workloads { key.add(workload.name); key.add(workload.source) }
        for applet in GuestSources.applets { key.add(applet) }
        key.add(busybox)
        let path = (directory as NSString).appendingPathComponent("guest-\(String(key.value, radix: 16)).cpio")
        if FileManager.default.fileExists(atPath: path) { return GuestImage(path: path, directory: directory) }

        status?("building the guest image (busybox-static, the init, the guest workloads) in \(directory)")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw RecorderError.guestFailed(detail: "cannot create \(directory): \(error.localizedDescription)")
        }
        let build = (directory as NSString).appendingPathComponent("build-\(getpid())")
        try? FileManager.default.createDirectory(atPath: build, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: build) }
        var archive = CpioArchive()
        for name in ["bin", "proc", "sys", "dev", "tmp", "data", "plexlab"] { archive.add(.directory(name)) }
        archive.add(.file("init", bytes: try compile(GuestSources.initProgram, name: "init", gcc: host.gcc, in: build),
                          executable: true))
        archive.add(.file("bin/busybox", bytes: busybox, executable: true))
        for applet in GuestSources.applets { archive.add(.symlink("bin/\(applet)", target: "busybox")) }
        for workload in GuestSources.workloads {
            archive.add(.file("bin/\(workload.name)", bytes: try compile(workload.source, name: workload.name,
                                                                          gcc: host.gcc, in: build), executable: true))
        }
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(archive.finished())),
              rename(temporary, path) == 0 else {
            throw RecorderError.guestFailed(detail: "cannot write the guest image \(path)")
        }
        return GuestImage(path: path, directory: directory)
    }

    /// The image plus an archive holding /plexlab/command (NUL-separated words) and `files` (under /data),
    /// written to `path`.
    func initrd(command: [String], files: [(name: String, bytes: [UInt8])], at path: String) throws {
        var archive = CpioArchive()
        archive.add(.file("plexlab/command", bytes: command.flatMap { Array($0.utf8) + [0] }, executable: false))
        for file in files { archive.add(.file("data/" + file.name, bytes: file.bytes, executable: false)) }
        guard var bytes = FileManager.default.contents(atPath: self.path).map({ [UInt8]($0) }) else {
            throw RecorderError.guestFailed(detail: "cannot read the guest image \(self.path)")
        }
        bytes += archive.finished()
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw RecorderError.guestFailed(detail: "cannot write \(path)")
        }
    }

    static func cacheDirectory(environment: [String: String]) -> String {
        if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty { return cache + "/plexlab/guest" }
        return (environment["HOME"] ?? NSTemporaryDirectory()) + "/.cache/plexlab/guest"
    }

    /// gcc -static -O2; the binary's bytes.
    private static func compile(_ source: String, name: String, gcc: String, in directory: String) throws -> [UInt8] {
        let sourcePath = (directory as NSString).appendingPathComponent(name + ".c")
        let binary = (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: sourcePath, contents: Data(source.utf8)) else {
            throw RecorderError.guestFailed(detail: "cannot write \(sourcePath)")
        }
        guard let pid = try? ChildProcess.spawn(gcc, [gcc, "-static", "-O2", "-o", binary, sourcePath], redirect: []),
              ChildProcess.wait(pid) == .exited(0),
              let bytes = FileManager.default.contents(atPath: binary) else {
            throw RecorderError.guestFailed(detail: "gcc -static could not build the guest's \(name) "
                                            + "(static libc: apt-get install libc6-dev)")
        }
        return [UInt8](bytes)
    }
}

/// FNV-1a over the image's ingredients (a cache key, not a checksum against tampering).
struct Hasher64 {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ text: String) { add(Array(text.utf8)); add([0]) }
    mutating func add(_ bytes: [UInt8]) {
        for byte in bytes { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }
}
