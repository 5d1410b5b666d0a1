import Foundation
import Testing
import TraceModel
import TraceStore
import Workloads
@testable import Recorder

/// A directory under the system temporary directory, removed by the caller.
func scratch(_ name: String) throws -> String {
    let directory = NSTemporaryDirectory() + "plexlab-recorder-\(name)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory
}

/// Everything a test checks about a trace, read back through TraceReader.
struct ReadBack {
    var metadata: TraceMetadata
    var definitions: [BlockDefinition]
    /// Thread 0's executed blocks, in order.
    var blocks: [BlockID]
    var codeWrites: [CodeWrite]
    var syscalls: [SyscallEvent]
    var dataTouches: [DataTouch]
    var pages: [CodePage]
    var modules: [ModuleMapping]

    init(_ path: String) throws {
        let reader = try TraceReader(path: path)
        metadata = reader.metadata
        definitions = try reader.blockDefinitions()
        pages = try reader.codePages()
        modules = try reader.modules()
        var blocks: [BlockID] = [], writes: [CodeWrite] = [], syscalls: [SyscallEvent] = [], touches: [DataTouch] = []
        try reader.forEachChunk { chunk in
            guard chunk.thread == 0 else { return }
            blocks += chunk.blocks
            writes += chunk.codeWrites
            syscalls += chunk.syscalls
            touches += chunk.dataTouches
        }
        self.blocks = blocks
        codeWrites = writes
        self.syscalls = syscalls
        dataTouches = touches
    }

    var instructions: UInt64 { blocks.reduce(0) { $0 + UInt64(definitions[Int($1)].instructionCount) } }
}

/// Builds `workload` and records it into `directory`.
func record(_ workload: Workload, in directory: String, options: (String) -> RecordOptions = { RecordOptions(output: $0) })
    throws -> (RecordResult, ReadBack) {
    let command = try workload.prepare(in: directory + "/bin")
    let path = directory + "/\(workload.name).plextrace"
    let result = try Recorder.record(program: command.program, arguments: command.arguments, options: options(path))
    return (result, try ReadBack(path))
}

@Suite(.serialized) struct WorkedExampleTests {
    /// strategies.md: B0 = [mov; call], F = [ret], B1 = [dec; jnz], BL = [call], BE = [mov; xor; syscall];
    /// executed B0 F B1 (BL F B1)^(N-1) BE.
    @Test(arguments: [(5, WorkloadArch.x86_64), (17, .x86_64), (5, .i386), (17, .i386)])
    func crossPageCallRecordsExactly3NPlus1Blocks(iterations: Int, arch: WorkloadArch) throws {
        let directory = try scratch("crosspage")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (result, trace) = try record(WorkloadCatalog.crossPageCall(iterations: iterations, arch: arch), in: directory)

        #expect(trace.blocks.count == 3 * iterations + 1)
        #expect(result.blocks == UInt64(3 * iterations + 1))
        #expect(trace.definitions.count == 5)
        #expect(trace.definitions.map(\.exitKind) == [.call, .ret, .jcc, .call, .syscall])
        #expect(trace.definitions.map(\.instructionCount) == [2, 1, 2, 1, 3])
        var expected: [BlockID] = [0, 1, 2]
        for _ in 1..<iterations { expected += [3, 1, 2] }
        expected.append(4)
        #expect(trace.blocks == expected)
        // far_func is alone at the start of the page after the loop's page.
        let loopPage = trace.definitions[0].address & ~0xfff
        #expect(trace.definitions[1].address == loopPage + 0x1000)
        #expect(trace.definitions[0].staticTarget == trace.definitions[1].address)
        #expect(trace.definitions[2].staticTarget == trace.definitions[3].address)
        #expect(trace.pages.map(\.address).sorted() == [loopPage, loopPage + 0x1000])
        #expect(trace.syscalls.map(\.eventIndex) == [UInt64(3 * iterations)])
        #expect(trace.syscalls.map(\.number) == [arch == .x86_64 ? 60 : 1])
        #expect(trace.codeWrites.isEmpty)
        #expect(trace.metadata.complete)
        #expect(trace.metadata.exitStatus == 0)
        #expect(trace.metadata.arch == (arch == .x86_64 ? .x86_64 : .i386))
        #expect(trace.metadata.recorder == "qemu-user")
        #expect(trace.metadata.recorderVersion.hasPrefix("7."))
        #expect(trace.modules.contains { $0.path.hasSuffix("/bin/\(result.metadata.argv[0].split(separator: "/").last!)") })
    }

    /// --skip-insns 10 --max-insns 20 on N = 1000. Instructions before each TB: B0 0, F 2, B1 3, BL 5, F 6, B1 7,
    /// BL 9, F 10 (the first at or past 10), ... The last TB recorded starts before 10 + 20 = 30: the BL at 29.
    /// So five rounds of F B1 BL: 15 blocks, 20 instructions, F defined first.
    @Test func skipAndMaxInstructionsCutTheStreamExactly() throws {
        let directory = try scratch("limits")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (result, trace) = try record(WorkloadCatalog.crossPageCall(iterations: 1000, arch: .x86_64), in: directory) {
            RecordOptions(output: $0, maxInstructions: 20, skipInstructions: 10)
        }
        #expect(trace.blocks == [BlockID](repeating: 0, count: 5).enumerated().flatMap { _ in [0, 1, 2] as [BlockID] })
        #expect(trace.instructions == 20)
        #expect(trace.definitions.map(\.exitKind) == [.ret, .jcc, .call])
        #expect(trace.metadata.complete)
        #expect(trace.metadata.exitStatus == nil)
        #expect(trace.metadata.note.contains("--max-insns 20"))
        #expect(result.termination == .exited(0))
    }

    /// Every call writes the return address to the stack page and every ret reads it: 2N touches.
    @Test func dataPagesCountTheStackAccessesOfCallsAndReturns() throws {
        let directory = try scratch("data")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (_, trace) = try record(WorkloadCatalog.crossPageCall(iterations: 7, arch: .x86_64), in: directory) {
            RecordOptions(output: $0, dataPages: true)
        }
        #expect(trace.metadata.hasDataTouches)
        #expect(trace.dataTouches.count == 14)
        #expect(trace.dataTouches.reduce(0) { $0 + $1.reads } == 7)
        #expect(trace.dataTouches.reduce(0) { $0 + $1.writes } == 7)
        #expect(Set(trace.dataTouches.map(\.page)).count == 1)
        // Writes come from call blocks, reads from the ret block.
        for touch in trace.dataTouches {
            let kind = trace.definitions[Int(trace.blocks[Int(touch.eventIndex)])].exitKind
            #expect(kind == (touch.writes == 1 ? .call : .ret))
        }
    }
}

@Suite(.serialized) struct SelfModifyingCodeTests {
    /// smc: runs codepage's function, writes "mov $7,%eax; ret" 256 bytes further down that page and calls
    /// it, then calls selfpatch, whose first instruction rewrites the immediate of its second one.
    /// QEMU abandons selfpatch's TB at that store and re-executes it alone; the trace counts it once.
    @Test(arguments: [WorkloadArch.x86_64, .i386])
    func rewrittenCodeGivesCodeWritesAndNewPageVersions(arch: WorkloadArch) throws {
        let directory = try scratch("smc")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (result, trace) = try record(WorkloadCatalog.selfModifying(arch: arch), in: directory)

        #expect(trace.metadata.exitStatus == 16)
        #expect(trace.metadata.complete)
        let codePage = trace.definitions[Int(trace.blocks[2])].address
        #expect(codePage & 0xfff == 0)
        // Versions of the code page: as linked, with the written function, with the patched immediate.
        let versions = trace.pages.filter { $0.address == codePage }.sorted { $0.version < $1.version }
        #expect(versions.map(\.version) == [0, 1, 2])
        let written: [UInt8] = [0xb8, 7, 0, 0, 0, 0xc3]
        #expect(Array(versions[1].bytes[256..<262]) == written && Array(versions[0].bytes[256..<262]) != written)
        #expect(versions[1].bytes[14] == 0 && versions[2].bytes[14] == 9)
        // The stores that hit it: the first write of the new function, and selfpatch's store.
        // (selfpatch starts at codepage+6 with a 7-byte movb whose target is the immediate at codepage+14.)
        #expect(trace.codeWrites.map(\.address) == [codePage + 256, codePage + 14])
        // Each belongs to the block whose store made it: the writing block and the re-executed movb.
        #expect(trace.codeWrites.map(\.eventIndex) == [3, 6])
        // Blocks: start..syscall, call codepage, codepage, write+call, new function, call selfpatch,
        // [movb] (re-executed alone), [mov; ret] from the patched bytes, exit.
        #expect(trace.blocks.count == 9)
        let kinds = trace.blocks.map { trace.definitions[Int($0)].exitKind }
        #expect(kinds == [.syscall, .call, .ret, .callInd, .ret, .call, .split, .ret, .syscall])
        let patched = trace.definitions[Int(trace.blocks[7])]
        #expect(patched.codeVersion == 2 && patched.bytes[1] == 9)
        #expect(trace.instructions == 23)
        #expect(result.codeWrites == 2)
    }
}

@Suite(.serialized) struct GuestEndingTests {
    /// A guest that dies of SIGSEGV still gives a complete trace that says so.
    @Test func aCrashingGuestLeavesACompleteTraceWithItsSignal() throws {
        let directory = try scratch("crash")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let crash = Workload(name: "crash", summary: "counts down, then stores to address 0", recipe: .assembly(source: """
                    .globl _start
                    .text
            _start: mov $3, %ecx
            1:      dec %ecx
                    jnz 1b
                    movl $1, 0
            """, arch: .x86_64))
        let (result, trace) = try record(crash, in: directory)
        #expect(result.termination == .signaled(SIGSEGV))
        #expect(trace.metadata.complete)
        #expect(trace.metadata.signal == SIGSEGV)
        #expect(trace.metadata.exitStatus == nil)
        // [mov; dec; jnz], [dec; jnz] twice, then the block of the faulting store.
        #expect(trace.blocks.count == 4)
        #expect(trace.definitions.first?.exitKind == .jcc)
    }
}

@Suite(.serialized) struct QEMUArtefactTests {
    /// QEMU runs `rep movsb` one iteration per TB execution (100 here); the trace has it once.
    @Test func repStringIterationsCountAsOneInstruction() throws {
        let directory = try scratch("rep")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rep = Workload(name: "rep", summary: "copies 100 bytes with rep movsb", recipe: .assembly(source: """
                    .globl _start
                    .text
            _start: mov $100, %ecx
                    lea src(%rip), %rsi
                    lea dst(%rip), %rdi
                    rep movsb
                    mov $60, %eax
                    xor %edi, %edi
                    syscall
                    .data
            src:    .fill 100, 1, 7
            dst:    .fill 100, 1, 0
            """, arch: .x86_64))
        let (_, trace) = try record(rep, in: directory)
        #expect(trace.blocks == [0, 1])
        #expect(trace.definitions.map(\.instructionCount) == [4, 3])
        #expect(trace.definitions.map(\.exitKind) == [.split, .syscall])
        #expect(trace.instructions == 7)
    }
}

@Suite(.serialized) struct RealProgramTests {
    @Test func python3RecordsCompletely() throws {
        let directory = try scratch("python")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (result, trace) = try record(try WorkloadCatalog.named("python3-print"), in: directory)
        #expect(trace.metadata.complete)
        #expect(trace.metadata.exitStatus == 0)
        #expect(trace.metadata.argv == ["/usr/bin/python3", "-c", "print(42)"])
        #expect(result.blocks > 1_000_000)
        #expect(UInt64(trace.blocks.count) == result.blocks)
        #expect(trace.instructions == result.instructions)
        #expect(trace.syscalls.count > 100)
        #expect(trace.modules.contains { $0.path.contains("python3") })
        #expect(trace.modules.contains { $0.path.contains("libc.so") })
        #expect(trace.modules.contains { $0.path.contains("ld-linux") })
    }
}

@Suite struct RecorderErrorTests {
    @Test func aMissingProgramIsNamed() throws {
        #expect(throws: RecorderError.programNotFound("no-such-program-plexlab")) {
            try Recorder.record(program: "no-such-program-plexlab", arguments: [], options: RecordOptions(output: "/tmp/x"))
        }
        #expect(throws: RecorderError.programNotFound("/nonexistent/prog")) {
            try Recorder.record(program: "/nonexistent/prog", arguments: [], options: RecordOptions(output: "/tmp/x"))
        }
    }

    @Test func aScriptWhoseInterpreterIsMissingIsRefused() throws {
        let directory = try scratch("script")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = directory + "/run.sh"
        try "#!/nonexistent/sh -e\necho hi\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        #expect(throws: RecorderError.scriptChain(path: script, detail: "its #! interpreter /nonexistent/sh does not exist")) {
            try Recorder.record(program: script, arguments: [], options: RecordOptions(output: directory + "/t.plextrace"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/t.plextrace"))
    }

    @Test func aFileWithoutMagicIsNotAnELF() throws {
        let directory = try scratch("text")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/notes"
        try "hello\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o755)
        #expect(throws: RecorderError.notAnELF(path: file, detail: "no ELF magic number")) {
            try Recorder.record(program: file, arguments: [], options: RecordOptions(output: directory + "/t.plextrace"))
        }
    }

    @Test func anotherArchitectureIsRefused() throws {
        let directory = try scratch("arch")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = directory + "/arm"
        var header = [UInt8](repeating: 0, count: 64)
        header.replaceSubrange(0..<7, with: [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1])
        header[18] = 183 // AArch64
        #expect(FileManager.default.createFile(atPath: binary, contents: Data(header)))
        chmod(binary, 0o755)
        #expect(throws: RecorderError.unsupportedArchitecture(path: binary, detail: "it is AArch64 (ELF machine 183, 64-bit)")) {
            try Recorder.record(program: binary, arguments: [], options: RecordOptions(output: directory + "/t.plextrace"))
        }
    }

    @Test func anExistingTraceIsKeptWithoutOverwrite() throws {
        let directory = try scratch("exists")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/t.plextrace"
        try "keep me".write(toFile: output, atomically: true, encoding: .utf8)
        #expect(throws: RecorderError.outputExists(path: output)) {
            try Recorder.record(program: "/bin/true", arguments: [], options: RecordOptions(output: output))
        }
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "keep me")
    }

    @Test func anUnwritableDirectoryIsOneError() throws {
        let output = "/nonexistent-plexlab-dir/t.plextrace"
        #expect {
            try Recorder.record(program: "/bin/true", arguments: [], options: RecordOptions(output: output))
        } throws: { error in
            guard case .outputUnwritable(let path, _) = error as? RecorderError else { return false }
            return path == output && !String(describing: error).contains("\n")
        }
    }

    @Test func aMissingQemuSaysHowToInstallIt() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "/nonexistent"
        #expect(throws: RecorderError.qemuMissing(name: "qemu-x86_64")) {
            try Recorder.record(program: "/bin/true", arguments: [], options: RecordOptions(output: "/tmp/x", environment: environment))
        }
        #expect(RecorderError.qemuMissing(name: "qemu-x86_64").description
                == "qemu-x86_64 not found: install it with apt-get install qemu-user")
    }

    @Test func theDefaultOutputIsUnderTraces() {
        #expect(Recorder.defaultOutput(program: "/usr/bin/python3", name: nil) == "Traces/python3.plextrace")
        #expect(Recorder.defaultOutput(program: "gzip", name: "gzip-random") == "Traces/gzip-random.plextrace")
    }
}
