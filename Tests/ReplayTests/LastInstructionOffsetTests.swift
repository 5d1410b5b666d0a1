import Foundation
import Testing
@testable import Replay
import TraceImport
import TraceModel
import TraceStore
import X86Decode

/// A block's exit site is its last instruction. Schema-2 traces store its offset (found when the block is
/// decoded); schema-1 traces are decoded again at replay. Both must give the same sites.
@Suite struct LastInstructionOffsetTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Traces").standardized

    @Test func importedBlocksStoreTheirLastInstructionOffset() throws {
        let reader = try TraceReader(path: try ImportedTraceTests.importTrace())
        #expect(reader.schemaVersion == TraceSchema.currentVersion)
        let offsets = Dictionary(uniqueKeysWithValues: try reader.blockDefinitions().map { ($0.address, $0.lastInstructionOffset) })
        // mov ecx, 3 (5 bytes) + call; the call alone; dec ecx (2) + jnz; mov eax, 60 (5) + xor (2) + syscall; ret.
        #expect(offsets == [0x401000: 5, 0x401005: 0, 0x40100a: 2, 0x40100e: 7, 0x402000: 0])
    }

    /// The committed corpus predates schema 2: the replay decodes each block, and must find exactly the
    /// offset `X86Decoder.decodeBlock` gives the writer of a new trace.
    @Test(arguments: ["gzip.plextrace", "micro-jit-32.plextrace"])
    func schemaOneTracesDecodeTheOffsetANewTraceStores(name: String) throws {
        let reader = try TraceReader(path: Self.corpus.appendingPathComponent(name).path)
        #expect(reader.schemaVersion == 1)
        let definitions = try reader.blockDefinitions()
        #expect(!definitions.isEmpty && definitions.allSatisfy { $0.lastInstructionOffset == nil })
        let decoder = X86Decoder(arch: reader.metadata.arch)
        var mismatches = 0
        for block in definitions {
            let shape = block.bytes.withUnsafeBytes {
                decoder.decodeBlock($0, at: block.address, maxLength: Int(block.length))
            }
            if shape?.length != Int(block.length) || shape?.instructionCount != Int(block.instructionCount)
                || shape?.lastInstructionOffset != Int(ReplayEngine.lastInstructionOffset(of: block, decoder: decoder)) {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
    }

    @Test func theReplaySitesExitsAtTheStoredOffset() throws {
        let reader = try TraceReader(path: Self.corpus.appendingPathComponent("micro-xpage-calls-64.plextrace").path)
        var chunks: [StreamChunk] = []
        try reader.forEachChunk { chunks.append($0) }
        let decoded = try reader.blockDefinitions()
        let decoder = X86Decoder(arch: reader.metadata.arch)
        func replay(_ definitions: [BlockDefinition]) throws -> TraceResults {
            let trace = InMemoryTrace(metadata: reader.metadata, definitions: definitions, pages: try reader.codePages(), chunks: chunks)
            return try ReplayEngine.run(source: trace, path: "t", strategies: ["all"])
        }
        var stored = decoded
        for index in stored.indices {
            stored[index].lastInstructionOffset = ReplayEngine.lastInstructionOffset(of: stored[index], decoder: decoder)
        }
        let fromDecoding = try replay(decoded), fromStored = try replay(stored)
        #expect(fromStored.strategies == fromDecoding.strategies)
        #expect(fromStored.strategies.flatMap(\.sites).contains { site in
            !stored.contains { $0.address == site.address }
        })

        // Offsets of 0 put every exit site at its block's start: the replay takes what is stored.
        for index in stored.indices { stored[index].lastInstructionOffset = 0 }
        let atStarts = try replay(stored)
        #expect(atStarts.strategies.map(\.counts) == fromDecoding.strategies.map(\.counts))
        #expect(atStarts.strategies != fromDecoding.strategies)
        #expect(atStarts.strategies.flatMap(\.sites).allSatisfy { site in
            stored.contains { $0.address == site.address }
        })
    }
}
