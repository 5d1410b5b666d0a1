import Foundation
import Testing
import Replay
import TraceImport

/// Traces written in the import format (docs/import-format.md), stored by TraceStore, replayed from disk.
@Suite struct ImportedTraceTests {
    /// The worked example (N = 3) at 0x401000 / 0x402000 with the data touches of
    /// `TrapCauseTests.dataScript` and one store to far_func's page by the second B1.
    static let jsonl = """
    {"type":"meta","arch":"x86_64","program":"loop","data_touches":true}
    {"type":"code","address":"0x401000","bytes":"b903000000 e8f60f0000 ffc9 75f7 b83c000000 31ff 0f05 f4"}
    {"type":"code","address":"0x402000","bytes":"c3"}
    {"type":"exec","thread":0,"blocks":["0x401000"]}
    {"type":"data","thread":0,"page":"0x600000","reads":2,"writes":1}
    {"type":"data","thread":0,"page":"0x402000","reads":1,"writes":0}
    {"type":"exec","thread":0,"blocks":["0x402000"]}
    {"type":"data","thread":0,"page":"0x402000","reads":1,"writes":0}
    {"type":"exec","thread":0,"blocks":["0x40100a"]}
    {"type":"data","thread":0,"page":"0x600000","reads":1,"writes":0}
    {"type":"exec","thread":0,"blocks":["0x401005","0x402000","0x40100a"]}
    {"type":"write","thread":0,"address":"0x402010","size":4}
    {"type":"exec","thread":0,"blocks":["0x401005","0x402000","0x40100a","0x40100e"]}
    {"type":"syscall","thread":0,"number":60}
    {"type":"exit","status":0}

    """

    static func importTrace() throws -> String { try importTrace(jsonl, name: "loop") }

    /// Imports `text` (the import format) into a fresh directory; returns the trace's path.
    static func importTrace(_ text: String, name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexlab-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let source = directory.appendingPathComponent("\(name).jsonl").path
        try text.write(toFile: source, atomically: true, encoding: .utf8)
        let trace = directory.appendingPathComponent("\(name).plextrace").path
        _ = try TraceImporter.importFile(at: source, to: trace, overwrite: false)
        return trace
    }

    @Test func importedTraceGivesTheHandWorkedCounts() throws {
        let results = try ReplayEngine.run(tracePath: try Self.importTrace(), strategies: ["all"])
        #expect(results.summary.blocks == 10 && results.summary.instructions == 16)
        #expect(results.summary.dataTouches == 4 && results.summary.codeWrites == 1)
        #expect(results.strategy("sbe")?.nonzero == [.call: 3, .ret: 3, .syscall: 1, .pfWrite: 1])
        #expect(results.strategy("pagefault-nx")?.nonzero == [.pfExec: 3, .pfWrite: 1, .syscall: 1])
        // Not-present: 3 + 1 (far_func's page before it ran) + 1; the touch while F ran hits a translated page.
        #expect(results.strategy("pagefault-legacy")?.nonzero == [.pfData: 5, .pfExec: 3, .pfWrite: 1, .syscall: 1])
        // F is discarded after block 5 and the BL->F link relinked once.
        #expect(results.strategy("dbt-link")?.nonzero == [.dispatch: 9, .link: 5, .pfWrite: 1, .dispatchSyscall: 1])
        #expect(results.strategy("dbt-ibtc")?.nonzero == [.dispatch: 7, .link: 5, .rasHit: 2, .pfWrite: 1, .dispatchSyscall: 1])
        #expect(results.strategy("sbe")?.sites.first { $0.address == 0x401005 }?.counts == [.call: 3])
    }

    @Test func mapDataPolicyOnAnImportedTrace() throws {
        let results = try ReplayEngine.run(tracePath: try Self.importTrace(), strategies: ["pagefault-legacy"],
                                           parameters: ReplayParameters(arguments: ["legacy-policy=map-data"]))
        // far_func's page was mapped for data before it ran: its 3 entries escape; the store to it is not a
        // pf_write because it was never translated.
        #expect(results.strategy("pagefault-legacy")?.nonzero == [.dataMap: 2, .escapes: 3, .pfExec: 1, .syscall: 1])
    }
}
