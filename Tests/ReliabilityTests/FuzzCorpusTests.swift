import Foundation
import Testing
import TraceModel
@_spi(Fuzzing) import TraceImport
@_spi(Fuzzing) import TraceStore

/// The committed seed corpus replayed through the plain-built fuzz targets, and the fuzz entry points
/// checked against inputs whose outcome is known.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/FuzzTargets/corpus").standardized.path

    private func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.corpus + "/" + relative)))
    }

    @Test(arguments: [("FuzzImportLines", "import"), ("FuzzImportFile", "import"),
                      ("FuzzChunkDecode", "FuzzChunkDecode"), ("FuzzTraceFile", "FuzzTraceFile")])
    func seedsReplayThroughThePlainBuiltTarget(target: String, directory: String) throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus + "/" + directory)
        #expect(files.count >= 1)
        let run = try run(try builtExecutable(target), [Self.corpus + "/" + directory], scratch: scratch)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "ran \(files.count) inputs\n")
    }

    @Test func importParserCountsRecordsAndBadLines() throws {
        func parse(_ name: String) throws -> (Int, Int) {
            let counts = try bytes("import/" + name).withUnsafeBytes { ImportFuzzing.parseLines($0) }
            return (counts.records, counts.bad)
        }
        // loop.jsonl: nine records and a comment; errors.jsonl: a blank line, a comment, twelve bad lines.
        #expect(try parse("loop.jsonl") == (9, 0))
        #expect(try parse("errors.jsonl") == (0, 12))
        #expect(try parse("selfmod-threads.jsonl") == (8, 0))
        let crlf = Array("{\"type\":\"exit\",\"status\":0}\r\n\t# note\r\n{\"type\":\"exit\"}\r\n".utf8)
        #expect(crlf.withUnsafeBytes { ImportFuzzing.parseLines($0) } == (1, 1))
    }

    @Test func chunkSeedsDecodeAndDamageIsCounted() throws {
        func decode(_ input: [UInt8]) -> (Int, Int) {
            let counts = input.withUnsafeBytes { ChunkFuzzing.decode($0, predictive: false) }
            return (counts.good, counts.bad)
        }
        #expect(decode(try bytes("FuzzChunkDecode/one-chunk")) == (1, 0))
        #expect(decode(try bytes("FuzzChunkDecode/two-threads")) == (3, 0))
        #expect(decode(try bytes("FuzzChunkDecode/long-chunk")) == (1, 0))
        #expect(decode(try bytes("FuzzChunkDecode/empty-chunk")) == (1, 0))

        // A chunk whose id 5 is past its 5 definitions; one that skips event indices; a flipped payload byte.
        let chunk = StreamChunk(sequence: 0, thread: 0, firstEventIndex: 0, blocks: [0, 1, 2])
        #expect(decode(ChunkFuzzing.input(definitionCount: 5, chunks: [chunk])) == (1, 0))
        #expect(decode(ChunkFuzzing.input(definitionCount: 2, chunks: [chunk])) == (0, 1))
        var gap = chunk
        gap.firstEventIndex = 4
        #expect(decode(ChunkFuzzing.input(definitionCount: 5, chunks: [chunk, gap])) == (1, 1))
        var flipped = ChunkFuzzing.input(definitionCount: 5, chunks: [chunk])
        flipped[1 + 32] ^= 0xff  // the block payload's zstd magic (the checksum is recomputed, as a forger would)
        #expect(decode(flipped) == (0, 1))
        // The predictive codec is not decoded while BlockStreamDecoder is a stub.
        var predictive = ChunkFuzzing.input(definitionCount: 5, chunks: [chunk])
        predictive[2] = BlockStreamCodec.predictive.rawValue
        #expect(decode(predictive) == (0, 1))
    }
}
