import Testing
import Replay
import TraceModel

/// A scanning strategy needs the captured page version of every block; the engine names the first block
/// whose page version the trace lacks, even where the blocks before it on that page were checked.
@Suite struct MissingCodePageTests {
    static let metadata = TraceMetadata(program: "/tmp/p", argv: ["/tmp/p"], arch: .x86_64, recorder: "test",
                                        recorderVersion: "1", host: "test", date: "2026-01-01T00:00:00Z",
                                        exitStatus: 0, complete: true)

    static func block(_ address: UInt64, version: UInt32) -> BlockDefinition {
        BlockDefinition(address: address, length: 1, instructionCount: 1, codeVersion: version, exitKind: .ret,
                        staticTarget: nil, sensitiveCount: 0, cpuidCount: 0, bytes: [0xC3], lastInstructionOffset: 0)
    }

    static func run(_ definitions: [BlockDefinition], strategies: [String]) -> String? {
        let pages = [CodePage(address: 0x401000, version: 0, bytes: [UInt8](repeating: 0xC3, count: CodePage.size))]
        let chunk = StreamChunk(sequence: 0, thread: 0, firstEventIndex: 0, blocks: definitions.indices.map { BlockID($0) })
        let trace = InMemoryTrace(metadata: metadata, definitions: definitions, pages: pages, chunks: [chunk])
        do {
            _ = try ReplayEngine.run(source: trace, path: "t", strategies: strategies)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func aBlockWhosePageVersionWasNotCapturedIsNamed() {
        // Three blocks on the captured page's version 0, then one on its uncaptured version 1.
        let definitions = [Self.block(0x401000, version: 0), Self.block(0x401001, version: 0),
                           Self.block(0x401002, version: 0), Self.block(0x401003, version: 1)]
        #expect(Self.run(definitions, strategies: ["sbe"])
            == "t: block 3 at 0x401003 needs code page 0x401000 version 1, which the trace does not hold")
        #expect(Self.run(Array(definitions.prefix(3)), strategies: ["sbe"]) == nil)
        // Strategies that never scan do not need the pages.
        #expect(Self.run(definitions, strategies: ["native", "dbt-link"]) == nil)
    }
}
