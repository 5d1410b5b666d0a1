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

    /// Resolves the command `name arguments...` as `execvp` and the kernel would run it: `name` found like a
    /// shell does, `#!` scripts followed to their interpreter (ScriptChain). Returns the ELF program and
    /// the argv it runs with (argv[0] is `name` for an ELF, the interpreter as written for a script).
    /// With `directory` (the guest's working directory), a relative path with a slash is looked at there
    /// and, when it is the ELF itself, kept as given, as the guest will run it.
    public static func resolveCommand(_ name: String, arguments: [String],
                                      environment: [String: String] = ProcessInfo.processInfo.environment,
                                      in directory: String? = nil)
        throws -> (program: GuestProgram, argv: [String]) {
        let inDirectory = directory.flatMap { name.contains("/") && !name.hasPrefix("/") ? $0 + "/" + name : nil }
        let path = try inDirectory ?? locate(name, path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        if inDirectory != nil, !FileManager.default.fileExists(atPath: path) { throw RecorderError.programNotFound(path) }
        let (elf, argv) = try ScriptChain.resolve(path: path, argv: [name] + arguments)
        if elf == inDirectory { return (GuestProgram(path: name, arch: try resolve(elf, environment: environment).arch), argv) }
        return (try resolve(elf, environment: environment), argv)
    }

    /// Resolves `name` like a shell does (a name with a slash is a path, otherwise PATH is searched) and
    /// reads its ELF header. With `directory`, a relative path with a slash is looked at there (the guest's
    /// working directory) and kept as given, as the guest will run it.
    public static func resolve(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                               in directory: String? = nil) throws -> GuestProgram {
        if let directory, name.contains("/"), !name.hasPrefix("/") {
            let resolved = try resolve(directory + "/" + name, environment: environment)
            return GuestProgram(path: name, arch: resolved.arch)
        }
        let path = try locate(name, path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        let program = GuestProgram(path: path, arch: try architecture(ofELFAt: path))
        // QEMU would fail to load the program after the plugin started; say why before starting it.
        if let interpreter = interpreter(ofELFAt: path) {
            let prefix = environment["QEMU_LD_PREFIX"].map { $0 + interpreter }
            if !FileManager.default.fileExists(atPath: interpreter), !(prefix.map(FileManager.default.fileExists) ?? false) {
                throw RecorderError.missingInterpreter(path: path, interpreter: interpreter)
            }
        }
        return program
    }

    /// The PT_INTERP path of an ELF file (its dynamic loader), nil for a static program or an unreadable header.
    static func interpreter(ofELFAt path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let header = [UInt8]((try? handle.read(upToCount: 64)) ?? Data())
        guard header.count >= 52, header[5] == 1 else { return nil }  // little-endian x86 only
        func value(_ bytes: [UInt8], _ offset: Int, _ size: Int) -> UInt64 {
            guard offset + size <= bytes.count else { return 0 }
            return (0..<size).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
        }
        let is64 = header[4] == 2
        guard !is64 || header.count >= 64 else { return nil }
        let tableOffset = is64 ? value(header, 32, 8) : value(header, 28, 4)
        let entrySize = Int(is64 ? value(header, 54, 2) : value(header, 42, 2))
        let entries = Int(is64 ? value(header, 56, 2) : value(header, 44, 2))
        guard entrySize >= (is64 ? 56 : 32), entries > 0, entries <= 512, tableOffset < 1 << 32 else { return nil }
        guard (try? handle.seek(toOffset: tableOffset)) != nil,
              let table = try? handle.read(upToCount: entrySize * entries).map([UInt8].init) else { return nil }
        for index in 0..<entries {
            let entry = Array(table.dropFirst(index * entrySize).prefix(entrySize))
            guard entry.count == entrySize, value(entry, 0, 4) == 3 else { continue }  // PT_INTERP
            let offset = is64 ? value(entry, 8, 8) : value(entry, 4, 4)
            let size = Int(is64 ? value(entry, 32, 8) : value(entry, 16, 4))
            guard size > 1, size <= 4096, offset < 1 << 32, (try? handle.seek(toOffset: offset)) != nil,
                  let bytes = try? handle.read(upToCount: size) else { return nil }
            let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            return text.isEmpty ? nil : text
        }
        return nil
    }

    /// `name` as a shell finds it: a name with a slash is a path, otherwise the first executable file of
    /// that name in the `path` list (an empty entry is the current directory). The one PATH search.
    public static func locate(_ name: String, path: String) throws -> String {
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
