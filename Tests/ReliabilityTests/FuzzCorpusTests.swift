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
        // strings.jsonl: control characters, escapes and a long path are good; four lines repeat a key
        // (one of them spelt with an escape, one in a nested object).
        #expect(try parse("strings.jsonl") == (4, 4))
        let crlf = Array("{\"type\":\"exit\",\"status\":0}\r\n\t# note\r\n{\"type\":\"exit\"}\r\n".utf8)
        #expect(crlf.withUnsafeBytes { ImportFuzzing.parseLines($0) } == (1, 1))
    }

    @Test func chunkSeedsDecodeAndDamageIsCounted() throws {
        func decode(_ input: [UInt8]) -> (Int, Int) {
            let counts = input.withUnsafeBytes { ChunkFuzzing.decode($0) }
            return (counts.good, counts.bad)
        }
        for codec in ["raw", "predictive"] {
            #expect(decode(try bytes("FuzzChunkDecode/one-chunk-\(codec)")) == (1, 0))
            #expect(decode(try bytes("FuzzChunkDecode/two-threads-\(codec)")) == (3, 0))
            #expect(decode(try bytes("FuzzChunkDecode/long-chunk-\(codec)")) == (1, 0))
            #expect(decode(try bytes("FuzzChunkDecode/empty-chunk-\(codec)")) == (1, 0))
            #expect(decode(try bytes("FuzzChunkDecode/many-threads-\(codec)")) == (80, 0))
        }
        // 20 threads live at once: raw, all good; predictive, the first chunk of threads 16 ... 19 needs a
        // 17th live coder (refused) and their second one cannot be decoded after it.
        #expect(decode(try bytes("FuzzChunkDecode/many-live-threads-raw")) == (40, 0))
        #expect(decode(try bytes("FuzzChunkDecode/many-live-threads-predictive")) == (32, 8))

        let chunk = StreamChunk(sequence: 0, thread: 0, firstEventIndex: 0, blocks: [0, 1, 2])
        let next = StreamChunk(sequence: 1, thread: 0, firstEventIndex: 3, blocks: [3, 4, 0, 1])
        for codec in BlockStreamCodec.allCases {
            #expect(decode(ChunkFuzzing.input(definitionCount: 5, chunks: [chunk, next], codec: codec)) == (2, 0))
            // Ids past the definitions (the decoder is given 2; chunk 0 uses 0...2).
            #expect(decode(ChunkFuzzing.input(definitionCount: 2, chunks: [chunk], codec: .raw)) == (0, 1))
            // A chunk that skips event indices.
            var gap = next
            gap.firstEventIndex = 4
            #expect(decode(ChunkFuzzing.input(definitionCount: 5, chunks: [chunk, gap], codec: codec)) == (1, 1))
        }
        // Raw: the payload's zstd magic flipped (the checksum is recomputed, as a forger would).
        var flipped = ChunkFuzzing.input(definitionCount: 5, chunks: [chunk], codec: .raw)
        flipped[1 + 32] ^= 0xff
        #expect(decode(flipped) == (0, 1))
        // Predictive: a payload cut short fails, and so does the rest of its thread (the coder state is lost),
        // while another thread's chunks decode.
        var cut = ChunkFuzzing.input(definitionCount: 5, chunks: [chunk], codec: .predictive)
        let length = Int(cut[1 + 24]) | Int(cut[1 + 25]) << 8
        #expect(length >= 2)
        cut[1 + 24] = 0
        cut[1 + 25] = 0
        cut[1 + 10] = 0  // blocks_size = the stored length, as the writer declares it
        cut[1 + 11] = 0
        cut.removeLast(length)
        var otherThread = chunk
        otherThread.thread = 1
        let rest = ChunkFuzzing.input(definitionCount: 5, chunks: [otherThread, next], codec: .predictive).dropFirst(1)
        #expect(decode(cut + rest) == (1, 2))
    }
}
