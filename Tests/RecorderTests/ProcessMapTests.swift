import Foundation
import Symbols
import Testing
import TraceModel
import TraceStore
@testable import Recorder

/// Each process of a recorded tree has its own module map (schema 5): two programs a shell runs one after
/// the other map different files at the same address, and each address names its own process's symbol.
@Suite(.serialized) struct ProcessMapTests {
    /// A static program whose entry, at 0x401000 as in every static non-PIE x86-64 link, is `name`.
    static func staticProgram(_ name: String, exitStatus: Int = 0, in directory: String) throws -> String {
        let source = directory + "/\(name).s", program = directory + "/\(name)"
        try ".globl \(name)\n\(name):\n mov $60, %eax\n mov $\(exitStatus), %edi\n syscall\n"
            .write(toFile: source, atomically: true, encoding: .utf8)
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-nostdlib", "-static", "-no-pie", "-Wl,-e,\(name)", "-o", program, source]
        try gcc.run()
        gcc.waitUntilExit()
        #expect(gcc.terminationStatus == 0)
        return program
    }

    @Test func twoProgramsAtOneAddressKeepTheirOwnSymbols() throws {
        let directory = try scratch("tree-maps")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let alpha = try Self.staticProgram("alpha_entry", in: directory)
        let beta = try Self.staticProgram("beta_entry", in: directory)
        let result = try Recorder.record(program: "/bin/sh", arguments: ["-c", "\(alpha); \(beta)"],
                                         options: RecordOptions(output: directory + "/t.plextrace"))
        let reader = try TraceReader(path: result.path)
        #expect(reader.schemaVersion == TraceSchema.currentVersion)
        let processes = try reader.processes()
        // sh, its fork that execs alpha, alpha, its fork that execs beta, beta.
        #expect(processes.map(\.origin) == [.start, .fork, .exec, .fork, .exec])
        #expect(processes.map(\.program) == ["/bin/sh", "/bin/sh", alpha, "/bin/sh", beta])
        let modules = try reader.modules()
        #expect(modules.allSatisfy { $0.process != nil })
        func paths(_ process: Int) -> Set<String> { Set(modules.filter { $0.process == process }.map(\.path)) }
        // Each exec'd program maps its own file and nothing else; the forked shells inherit the shell's map.
        #expect(paths(2) == [alpha])
        #expect(paths(4) == [beta])
        let shell = try #require(paths(0).first { $0.hasSuffix("dash") || $0.hasSuffix("/sh") })
        #expect(paths(1).contains(shell) && paths(3).contains(shell))
        #expect(!paths(1).contains(alpha) && !paths(3).contains(beta))
        for process in [2, 4] {
            #expect(modules.contains { $0.process == process && $0.start <= 0x401000 && 0x401000 < $0.end })
        }

        let symbolizer = Symbolizer(modules: modules)
        #expect(symbolizer.symbolize(0x401000, process: 2).symbol == "alpha_entry")
        #expect(symbolizer.symbolize(0x401005, process: 2).description == "alpha_entry+0x5")
        #expect(symbolizer.symbolize(0x401000, process: 4).symbol == "beta_entry")
        #expect(symbolizer.symbolize(0x401000, process: 4).modulePath == beta)
        // The shell maps neither program.
        #expect(symbolizer.symbolize(0x401000, process: 0).modulePath != alpha)
    }
}
