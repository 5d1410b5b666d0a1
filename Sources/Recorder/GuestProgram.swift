import Foundation
import TraceModel

/// The program to record: where it is and which instruction set it runs.
public struct GuestProgram: Sendable, Equatable {
    /// Absolute or as-given path of the ELF file.
    public var path: String
    public var arch: GuestArch

    /// The qemu-user binary that runs this architecture.
    public var qemuName: String {
        switch arch {
        case .x86_64: "qemu-x86_64"
        case .i386: "qemu-i386"
        }
    }

    /// Resolves `name` like a shell does (a name with a slash is a path, otherwise PATH is searched) and
    /// reads its ELF header.
    public static func resolve(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> GuestProgram {
        let path = try locate(name, path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        return GuestProgram(path: path, arch: try architecture(ofELFAt: path))
    }

    static func locate(_ name: String, path: String) throws -> String {
        let files = FileManager.default
        if name.contains("/") {
            var isDirectory: ObjCBool = false
            guard files.fileExists(atPath: name, isDirectory: &isDirectory) else {
                throw RecorderError.programNotFound(name)
            }
            guard !isDirectory.boolValue, files.isExecutableFile(atPath: name) else {
                throw RecorderError.notExecutable(path: name)
            }
            return name
        }
        guard !name.isEmpty else { throw RecorderError.programNotFound(name) }
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            var isDirectory: ObjCBool = false
            if files.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
               files.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        throw RecorderError.programNotFound(name)
    }

    /// e_machine 62 is x86-64 and 3 is i386; anything else cannot be recorded here.
    static func architecture(ofELFAt path: String) throws -> GuestArch {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RecorderError.notExecutable(path: path)
        }
        defer { try? handle.close() }
        let header = [UInt8]((try? handle.read(upToCount: 20)) ?? Data())
        guard header.count >= 20, header[0] == 0x7f, header[1] == 0x45, header[2] == 0x4c, header[3] == 0x46 else {
            let detail = header.starts(with: [0x23, 0x21]) ? "it is a #! script" : "no ELF magic number"
            throw RecorderError.notAnELF(path: path, detail: detail)
        }
        let littleEndian = header[5] == 1
        let machine = littleEndian ? UInt16(header[18]) | UInt16(header[19]) << 8
                                   : UInt16(header[19]) | UInt16(header[18]) << 8
        let elfClass = header[4]
        switch (machine, elfClass) {
        case (62, 2): return .x86_64
        case (3, 1): return .i386
        default:
            throw RecorderError.unsupportedArchitecture(path: path, detail: "it is \(machineName(machine)) "
                                                        + "(ELF machine \(machine), \(elfClass == 2 ? 64 : 32)-bit)")
        }
    }

    static func machineName(_ machine: UInt16) -> String {
        switch machine {
        case 3: "i386"
        case 8: "MIPS"
        case 20: "PowerPC"
        case 21: "PowerPC 64"
        case 22: "s390"
        case 40: "ARM"
        case 62: "x86-64"
        case 183: "AArch64"
        case 243: "RISC-V"
        default: "an unknown architecture"
        }
    }
}
