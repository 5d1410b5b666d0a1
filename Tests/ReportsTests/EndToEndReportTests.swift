import CostModel
import Foundation
import Replay
import Symbols
import Testing
import TraceModel
import TraceImport
@testable import Reports

/// The worked example of docs/strategies.md (a call loop into a function alone on the next page), assembled
/// by gcc into a real static executable, imported with the blocks it executes, and reported.
struct CallLoopProgram {
    static let iterations = 1000
    static let assembly = """
    .globl _start, again, back, leave_now, far_func
    .text
    _start:    mov $\(iterations), %ecx
    again:     call far_func
    back:      dec %ecx
               jnz again
    leave_now: mov $60, %eax
               xor %edi, %edi
               syscall
               hlt
               .balign 4096
    far_func:  ret
               hlt
    """

    let directory: URL
    let executable: String
    let trace: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexlab-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let source = directory.appendingPathComponent("loop.s").path
        try Self.assembly.write(toFile: source, atomically: true, encoding: .utf8)
        executable = directory.appendingPathComponent("calls").path
        let program = try CompiledProgram.assemble(source: source, output: executable)
        let table = try SymbolTable(path: executable)
        let segment = try #require(table.segments.first { segment in
            table.symbols.contains { $0.name == "_start" && $0.address >= segment.virtualAddress
                && $0.address - segment.virtualAddress < segment.fileSize }
        })
        let file = try Data(contentsOf: URL(fileURLWithPath: executable))
        let code = file[Int(segment.fileOffset)..<Int(segment.fileOffset + segment.fileSize)]
        func address(_ name: String) throws -> String { "\"0x\(String(try program.nmAddress(of: name), radix: 16))\"" }
        let (start, far, back, again, leave) = (try address("_start"), try address("far_func"), try address("back"),
                                                try address("again"), try address("leave_now"))
        // Executed: _start far_func back, then (again far_func back) N-1 times, then leave_now: 3N+1 blocks.
        let stream = [start, far, back] + Array(repeating: [again, far, back], count: Self.iterations - 1).flatMap { $0 } + [leave]
        let pageMask: UInt64 = ~0xfff
        let lines = [
            #"{"type":"meta","arch":"x86_64","program":"\#(executable)","argv":["calls"],"recorder":"test","recorder_version":"1"}"#,
            #"{"type":"code","address":"0x\#(String(segment.virtualAddress, radix: 16))","bytes":"\#(code.map { String(format: "%02x", $0) }.joined())"}"#,
            #"{"type":"module","start":"0x\#(String(segment.virtualAddress & pageMask, radix: 16))","end":"0x\#(String((segment.virtualAddress + segment.fileSize + 0xfff) & pageMask, radix: 16))","offset":"0x\#(String(segment.fileOffset & pageMask, radix: 16))","path":"\#(executable)"}"#,
            #"{"type":"exec","thread":0,"blocks":[\#(stream.joined(separator: ","))]}"#,
            #"{"type":"syscall","thread":0,"number":60}"#,
            #"{"type":"exit","status":0}"#,
        ]
        let jsonl = directory.appendingPathComponent("calls.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: jsonl, atomically: true, encoding: .utf8)
        trace = directory.appendingPathComponent("calls.plextrace").path
        _ = try TraceImporter.importFile(at: jsonl, to: trace, overwrite: true)
    }
}

extension CompiledProgram {
    /// Assembles and links `source` into a static executable without the C runtime.
    static func assemble(source: String, output: String) throws -> CompiledProgram {
        let program = CompiledProgram(path: output, directory: URL(fileURLWithPath: (output as NSString).deletingLastPathComponent))
        try program.run("/usr/bin/gcc", ["-nostdlib", "-static", "-no-pie", source, "-o", output])
        return program
    }
}

@Suite struct EndToEndReportTests {
    @Test func reportNumbersEqualTheReplay() throws {
        let program = try CallLoopProgram()
        let out = program.directory.appendingPathComponent("report").path
        let files = try ReportGenerator.run(tracePaths: [program.trace], directory: out,
                                            options: .init(profiles: ["pentium3"], top: 5))
        #expect(files.count == 3)
        let replay = try ReplayEngine.run(tracePath: program.trace, strategies: ["all"], profiles: [CostProfile.pentium3])
        let n = UInt64(CallLoopProgram.iterations)
        // Hand-worked in docs/strategies.md: sbe 2N+1 traps, pagefault-nx 3.
        #expect(replay.strategy("sbe")?.traps == 2 * n + 1)
        #expect(replay.strategy("pagefault-nx")?.traps == 3)

        let markdown = try String(contentsOfFile: files[0], encoding: .utf8)
        for result in replay.strategies {
            let row = try #require(Fixture.markdownRow(markdown, first: result.name), "no row for \(result.name)")
            if result.unavailable != nil {
                #expect(row[1] == "n/a")
                continue
            }
            let estimate = try #require(result.estimate("pentium3"))
            #expect(row[1...6] == [NumberFormat.integer(result.traps), NumberFormat.decimal(result.trapsPerKiloInstruction),
                                   NumberFormat.integer(result.scanned), NumberFormat.integer(result.translated),
                                   NumberFormat.cycles(estimate.cycles), NumberFormat.ratio(estimate.slowdown)])
        }

        // results.json is the replay's document (docs/results-schema.md) with the replay's numbers.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: files[2]))) as! [String: Any]
        #expect(json["schema"] as? String == ResultsJSON.schema)
        let traces = json["traces"] as! [[String: Any]]
        let strategies = traces[0]["strategies"] as! [[String: Any]]
        #expect(strategies.map { $0["name"] as! String } == replay.strategies.map(\.name))
        for (object, result) in zip(strategies, replay.strategies) where result.unavailable == nil {
            #expect((object["traps"] as! NSNumber).uint64Value == result.traps)
            #expect((object["scanned"] as! NSNumber).uint64Value == result.scanned)
            #expect((object["translated"] as! NSNumber).uint64Value == result.translated)
            let counts = (object["counts"] as! [String: NSNumber]).mapValues(\.uint64Value)
            #expect(counts == Dictionary(uniqueKeysWithValues: result.counts.map { ($0.key.rawValue, $0.value) }))
            // JSONSerialization on Linux may drop the last bit of a double; cycles here are whole numbers
            // and slowdowns are compared to 1e-12 relative.
            let estimates = object["estimates"] as! [[String: Any]]
            #expect(estimates.map { ($0["cycles"] as! NSNumber).doubleValue } == result.estimates.map(\.cycles))
            for (estimate, expected) in zip(estimates, result.estimates) {
                let slowdown = (estimate["slowdown"] as! NSNumber).doubleValue
                #expect(abs(slowdown - expected.slowdown) <= 1e-12 * expected.slowdown)
            }
        }
        #expect(((traces[0]["summary"] as! [String: Any])["instructions"] as! NSNumber).uint64Value == replay.summary.instructions)
    }

    @Test func trapSitesAreSymbolizedAndDisassembled() throws {
        let program = try CallLoopProgram()
        let out = program.directory.appendingPathComponent("report").path
        let files = try ReportGenerator.run(tracePaths: [program.trace], directory: out,
                                            options: .init(profiles: ["pentium3"], top: 5))
        let markdown = try String(contentsOfFile: files[0], encoding: .utf8)
        // sbe's hottest site is the ret of far_func (N traps), its second the call at `again` (N-1 of them from
        // the loop, 1 from the first pass through _start's block: N in total).
        let farRow = try #require(markdown.split(separator: "\n").first { $0.contains("calls\\: far\\_func |") })
        #expect(farRow.contains("| ret |"))
        #expect(farRow.contains("**1,000** ret"))
        let callRow = try #require(markdown.split(separator: "\n").first { $0.contains("calls\\: again |") })
        #expect(callRow.contains("call 0x"))
        #expect(callRow.contains("**1,000** call"))
        let html = try String(contentsOfFile: files[1], encoding: .utf8)
        #expect(html.contains("calls: far_func"))
        #expect(html.contains("<svg"))
    }
}
