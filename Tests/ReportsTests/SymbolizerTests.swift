import Foundation
import Testing
import TraceModel
@testable import Symbols

/// Builds small C programs with gcc in a fresh directory and maps them the way the loader would.
struct CompiledProgram {
    static let source = """
    int plexlab_alpha(int x) { return x * 3 + 1; }
    int plexlab_beta(int x) { int s = 0; for (int i = 0; i < x; i++) s += plexlab_alpha(i); return s; }
    int main(int argc, char **argv) { (void)argv; return plexlab_beta(argc); }
    """

    let path: String
    let directory: URL

    init(path: String, directory: URL) {
        self.path = path
        self.directory = directory
    }

    init(flags: [String], name: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexlab-symbols-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let sourcePath = directory.appendingPathComponent("prog.c").path
        try Self.source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        path = directory.appendingPathComponent(name).path
        _ = try run("/usr/bin/gcc", ["-O0"] + flags + [sourcePath, "-o", path])
    }

    /// A stripped copy next to the program.
    func strippedCopy() throws -> String {
        let copy = path + ".stripped"
        _ = try run("/usr/bin/strip", [path, "-o", copy])
        return copy
    }

    /// Symbol values from `nm` (an independent reader: binutils, not libelf).
    func nmAddress(of name: String) throws -> UInt64 {
        let output = try run("/usr/bin/nm", [path])
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 3, fields[2] == name, let value = UInt64(fields[0], radix: 16) { return value }
        }
        throw CocoaError(.fileReadCorruptFile)
    }

    /// The executable PT_LOAD segment from `readelf -lW`: (file offset, vaddr, filesz).
    func executableSegment() throws -> (offset: UInt64, vaddr: UInt64, size: UInt64) {
        let output = try run("/usr/bin/readelf", ["-lW", path])
        for line in output.split(separator: "\n") where line.contains("LOAD") && line.contains("R E") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            func hex(_ index: Int) -> UInt64 { UInt64(fields[index].dropFirst(2), radix: 16)! }
            return (hex(1), hex(2), hex(4))
        }
        throw CocoaError(.fileReadCorruptFile)
    }

    /// The mapping the loader makes for the executable segment when the file is loaded at `base`
    /// (0 for a position-dependent executable, whose vaddrs are absolute).
    func executableMapping(base: UInt64, path mappedPath: String? = nil) throws -> ModuleMapping {
        let segment = try executableSegment()
        let pageMask: UInt64 = ~0xfff
        let start = base + (segment.vaddr & pageMask)
        let end = base + ((segment.vaddr + segment.size + 0xfff) & pageMask)
        return ModuleMapping(start: start, end: end, fileOffset: segment.offset & pageMask, path: mappedPath ?? path)
    }

    @discardableResult
    func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad) }
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite struct SymbolizerTests {
    /// Checks that base + symbol value + k symbolizes to (symbol, k) for both test functions.
    func expectFunctions(_ program: CompiledProgram, modulePath: String, base: UInt64, source: SymbolSource) throws {
        let symbolizer = Symbolizer(modules: [try program.executableMapping(base: base, path: modulePath)])
        for (name, delta) in [("plexlab_alpha", UInt64(0)), ("plexlab_alpha", 5), ("plexlab_beta", 17), ("main", 1)] {
            let value = try program.nmAddress(of: name)
            let resolved = symbolizer.symbolize(base + value + delta)
            #expect(resolved.symbol == name)
            #expect(resolved.symbolOffset == delta)
            #expect(resolved.modulePath == modulePath)
            #expect(resolved.moduleOffset == value + delta)
        }
        #expect(symbolizer.table(path: modulePath)?.source == source)
        #expect(symbolizer.problems.isEmpty)
    }

    @Test func positionDependent64() throws {
        let program = try CompiledProgram(flags: ["-no-pie"], name: "prog64")
        try expectFunctions(program, modulePath: program.path, base: 0, source: .symtab)
        #expect(try SymbolTable(path: program.path).is64Bit)
    }

    @Test func positionDependent32() throws {
        let program = try CompiledProgram(flags: ["-m32", "-no-pie"], name: "prog32")
        try expectFunctions(program, modulePath: program.path, base: 0, source: .symtab)
        #expect(try !SymbolTable(path: program.path).is64Bit)
    }

    @Test func pieAtLoaderBase() throws {
        let program = try CompiledProgram(flags: ["-pie", "-fPIE"], name: "prog-pie")
        try expectFunctions(program, modulePath: program.path, base: 0x5555_5555_4000, source: .symtab)
    }

    @Test func pie32AtLoaderBase() throws {
        let program = try CompiledProgram(flags: ["-m32", "-pie", "-fPIE"], name: "prog-pie32")
        try expectFunctions(program, modulePath: program.path, base: 0x5655_5000, source: .symtab)
    }

    @Test func strippedExportedFunctionsComeFromDynsym() throws {
        let program = try CompiledProgram(flags: ["-pie", "-fPIE", "-rdynamic"], name: "prog-rdynamic")
        let stripped = try program.strippedCopy()
        #expect(try SymbolTable(path: stripped).source == .dynsym)
        // The stripped copy has the same layout, so the unstripped program's nm values still apply.
        try expectFunctions(program, modulePath: stripped, base: 0x7f00_0000_0000, source: .dynsym)
    }

    @Test func strippedWithoutExportsGivesModuleAndOffset() throws {
        let program = try CompiledProgram(flags: ["-pie", "-fPIE"], name: "prog-plain")
        let stripped = try program.strippedCopy()
        let base: UInt64 = 0x5555_5555_4000
        let symbolizer = Symbolizer(modules: [try program.executableMapping(base: base, path: stripped)])
        let value = try program.nmAddress(of: "plexlab_beta")
        let resolved = symbolizer.symbolize(base + value + 3)
        #expect(resolved.symbol == nil)
        #expect(resolved.moduleOffset == value + 3)
        #expect(resolved.description == "prog-plain.stripped+0x\(String(value + 3, radix: 16))")
        #expect(symbolizer.problems.isEmpty)
    }

    @Test func missingFileGivesFileOffsetAndOneProblem() {
        let mapping = ModuleMapping(start: 0x40_0000, end: 0x40_2000, fileOffset: 0x1000, path: "/nonexistent/libgone.so")
        let symbolizer = Symbolizer(modules: [mapping])
        let first = symbolizer.symbolize(0x40_0010)
        #expect(first.symbol == nil)
        #expect(first.moduleOffset == 0x1010)
        #expect(first.description == "libgone.so+0x1010")
        _ = symbolizer.symbolize(0x40_1000)
        #expect(symbolizer.problems.count == 1)
        #expect(symbolizer.problems.first?.path == "/nonexistent/libgone.so")
    }

    @Test func addressOutsideEveryMappingIsBare() {
        let symbolizer = Symbolizer(modules: [ModuleMapping(start: 0x1000, end: 0x2000, fileOffset: 0, path: "/bin/true")])
        let resolved = symbolizer.symbolize(0x2000)
        #expect(resolved.modulePath == nil)
        #expect(resolved.description == "0x2000")
    }

    @Test func notAnElfFileIsAProblemNotACrash() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexlab-notelf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("text").path
        try "hello".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: SymbolError.self) { try SymbolTable(path: path) }
        let symbolizer = Symbolizer(modules: [ModuleMapping(start: 0x1000, end: 0x2000, fileOffset: 0, path: path)])
        #expect(symbolizer.symbolize(0x1004).description == "text+0x4")
    }
}
