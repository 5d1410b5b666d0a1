import Foundation
import Testing
import TraceModel
import TraceStore
@testable import TraceImport

/// A scratch directory per test.
private final class Scratch {
    let directory: String
    init() throws {
        directory = NSTemporaryDirectory() + "plexlab-import-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func write(_ name: String, _ lines: [String]) throws -> String {
        let path = directory + "/" + name
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// Every chunk of the trace, concatenated per thread.
private struct Streams {
    var blocks: [UInt32: [BlockID]] = [:]
    var codeWrites: [UInt32: [CodeWrite]] = [:]
    var syscalls: [UInt32: [SyscallEvent]] = [:]
    var dataTouches: [UInt32: [DataTouch]] = [:]

    init(_ reader: TraceReader) throws {
        try reader.forEachChunk { chunk in
            blocks[chunk.thread, default: []] += chunk.blocks
            codeWrites[chunk.thread, default: []] += chunk.codeWrites
            syscalls[chunk.thread, default: []] += chunk.syscalls
            dataTouches[chunk.thread, default: []] += chunk.dataTouches
        }
    }
}

private let meta = #"{"type":"meta","arch":"x86_64","program":"/tmp/loop","argv":["loop","3"],"recorder":"hand","recorder_version":"1"}"#
// 0x401000: mov ecx, 3 | call 0x402000 | dec ecx | jnz 0x401005 | mov eax, 60 | xor edi, edi | syscall | hlt
private let loopCode = #"{"type":"code","address":"0x401000","bytes":"b903000000 e8f60f0000 ffc9 75f7 b83c000000 31ff 0f05 f4"}"#
private let loopBytes: [UInt8] = [0xb9, 0x03, 0x00, 0x00, 0x00, 0xe8, 0xf6, 0x0f, 0x00, 0x00, 0xff, 0xc9, 0x75, 0xf7,
                                  0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05, 0xf4]

@Test func theDocumentedExampleRoundTrips() throws {
    let scratch = try Scratch()
    let input = try scratch.write("loop.jsonl", [
        meta,
        "# the loop page, then far_func alone on the next page",
        loopCode,
        "",
        #"{"type":"code","address":"0x402000","bytes":"c3"}"#,
        #"{"type":"module","start":"0x401000","end":"0x403000","offset":"0x1000","path":"/tmp/loop"}"#,
        #"{"type":"exec","thread":0,"blocks":["0x401000","0x402000","0x40100a"]}"#,
        #"{"type":"exec","thread":0,"blocks":["0x401005","0x402000","0x40100a","0x401005","0x402000","0x40100a"]}"#,
        #"{"type":"exec","thread":0,"blocks":["0x40100e"]}"#,
        #"{"type":"syscall","thread":0,"number":60}"#,
        #"{"type":"exit","status":0}"#,
    ])
    let output = scratch.directory + "/loop.plextrace"
    let summary = try TraceImporter.importFile(at: input, to: output, overwrite: false, chunkBlocks: 4)
    #expect(summary.blocksExecuted == 10)
    #expect(summary.instructions == 16)
    #expect(summary.distinctBlocks == 5)
    #expect(summary.codePages == 2)
    #expect(summary.syscalls == 1)
    #expect(summary.threads == 1)

    let reader = try TraceReader(path: output)
    #expect(reader.metadata.program == "/tmp/loop")
    #expect(reader.metadata.argv == ["loop", "3"])
    #expect(reader.metadata.arch == .x86_64)
    #expect(reader.metadata.recorder == "hand")
    #expect(reader.metadata.recorderVersion == "1")
    #expect(reader.metadata.exitStatus == 0)
    #expect(reader.metadata.signal == nil)
    #expect(reader.metadata.complete)
    #expect(!reader.metadata.hasDataTouches)
    #expect(try reader.blockDefinitions() == [
        BlockDefinition(address: 0x401000, length: 10, instructionCount: 2, codeVersion: 0, exitKind: .call,
                        staticTarget: 0x402000, sensitiveCount: 0, cpuidCount: 0, bytes: Array(loopBytes[0..<10]), lastInstructionOffset: 5),
        BlockDefinition(address: 0x402000, length: 1, instructionCount: 1, codeVersion: 0, exitKind: .ret,
                        staticTarget: nil, sensitiveCount: 0, cpuidCount: 0, bytes: [0xc3], lastInstructionOffset: 0),
        BlockDefinition(address: 0x40100a, length: 4, instructionCount: 2, codeVersion: 0, exitKind: .jcc,
                        staticTarget: 0x401005, sensitiveCount: 0, cpuidCount: 0, bytes: Array(loopBytes[10..<14]), lastInstructionOffset: 2),
        BlockDefinition(address: 0x401005, length: 5, instructionCount: 1, codeVersion: 0, exitKind: .call,
                        staticTarget: 0x402000, sensitiveCount: 0, cpuidCount: 0, bytes: Array(loopBytes[5..<10]), lastInstructionOffset: 0),
        BlockDefinition(address: 0x40100e, length: 9, instructionCount: 3, codeVersion: 0, exitKind: .syscall,
                        staticTarget: nil, sensitiveCount: 0, cpuidCount: 0, bytes: Array(loopBytes[14..<23]), lastInstructionOffset: 7),
    ])
    let streams = try Streams(reader)
    #expect(streams.blocks == [0: [0, 1, 2, 3, 1, 2, 3, 1, 2, 4]])
    #expect(streams.syscalls[0] == [SyscallEvent(eventIndex: 9, number: 60)])
    #expect(try reader.modules() == [ModuleMapping(start: 0x401000, end: 0x403000, fileOffset: 0x1000, path: "/tmp/loop")])
    // Bytes never given are zero in the stored page.
    let pages = try reader.codePages()
    #expect(pages.count == 2)
    #expect(pages.first { $0.address == 0x401000 }.map { Array($0.bytes[0..<25]) } == loopBytes + [0])
}

@Test func rewrittenCodeThreadsAndSideEvents() throws {
    let scratch = try Scratch()
    let input = try scratch.write("smc.jsonl", [
        #"{"type":"meta","arch":"i386","program":"smc"}"#,
        // 0x8048ffe: nop | mov eax, imm32 straddling into the next page | ret (at 0x8049004)
        #"{"type":"code","address":"0x8048ffe","bytes":"90 b8 01 02 03 04 c3"}"#,
        #"{"type":"exec","thread":0,"blocks":["0x8048ffe"]}"#,
        #"{"type":"exec","thread":1,"blocks":["0x8049004"]}"#,
        #"{"type":"data","thread":1,"page":"0x804a000","reads":2,"writes":1}"#,
        #"{"type":"exec","thread":0,"blocks":["0x8049004"]}"#,
        #"{"type":"write","thread":0,"address":"0x8049004","size":1}"#,
        // The store turned ret into int3 (a syscall-class exit); the page gets version 1.
        #"{"type":"code","address":"0x8049004","bytes":"cc"}"#,
        #"{"type":"exec","thread":0,"blocks":["0x8049004","0x8048ffe"]}"#,
        #"{"type":"exit","signal":5}"#,
    ])
    let output = scratch.directory + "/smc.plextrace"
    let summary = try TraceImporter.importFile(at: input, to: output, overwrite: false)
    #expect(summary.blocksExecuted == 5)
    #expect(summary.distinctBlocks == 3)
    #expect(summary.codePageVersions == 3)
    let reader = try TraceReader(path: output)
    #expect(reader.metadata.arch == .i386)
    #expect(reader.metadata.argv == ["smc"])
    #expect(reader.metadata.recorder == "import")
    #expect(reader.metadata.signal == 5)
    #expect(reader.metadata.exitStatus == nil)
    #expect(reader.metadata.hasDataTouches)  // found by reading ahead
    let definitions = try reader.blockDefinitions()
    #expect(definitions.map(\.address) == [0x8048ffe, 0x8049004, 0x8049004])
    #expect(definitions.map(\.length) == [6, 1, 1])
    #expect(definitions.map(\.exitKind) == [.split, .ret, .syscall])
    #expect(definitions.map(\.codeVersion) == [0, 0, 1])
    let streams = try Streams(reader)
    #expect(streams.blocks == [0: [0, 1, 2, 0], 1: [1]])
    #expect(streams.codeWrites[0] == [CodeWrite(eventIndex: 1, address: 0x8049004, size: 1)])
    #expect(streams.dataTouches[1] == [DataTouch(eventIndex: 0, page: 0x804a000, reads: 2, writes: 1)])
}

/// Imports `lines` and returns the one-line error.
private func importError(_ lines: [String], scratch: Scratch) throws -> String {
    let input = try scratch.write("bad.jsonl", lines)
    let output = scratch.directory + "/bad.plextrace"
    do {
        _ = try TraceImporter.importFile(at: input, to: output, overwrite: true)
    } catch {
        #expect(!FileManager.default.fileExists(atPath: output), "a failed import leaves no trace file")
        return String(describing: error)
    }
    Issue.record("import of \(lines) succeeded")
    return ""
}

@Test func malformedLinesNameTheirLine() throws {
    let scratch = try Scratch()
    let file = scratch.directory + "/bad.jsonl"
    let cases: [(lines: [String], expected: String)] = [
        ([meta, "# comment", "", "{not json"], "4: not valid JSON"),
        ([meta, "[1, 2]"], "2: a record must be a JSON object, not an array"),
        ([meta, #"{"address":"0x1"}"#], #"2: record has no "type""#),
        ([meta, #"{"type":"exe","thread":0}"#],
         #"2: unknown record type "exe" (expected one of code, data, exception, exec, exit, interrupt, map, meta, module, pt_store, syscall, write)"#),
        ([meta, #"{"type":"code","adress":"0x401000","bytes":"c3"}"#], #"2: unknown field "adress" in a code record"#),
        ([meta, #"{"type":"code","bytes":"c3"}"#], #"2: code record has no "address""#),
        ([meta, #"{"type":"code","address":4198400,"bytes":"c3"}"#],
         #"2: code "address" must be a hex string like "0x401000", not 4198400"#),
        ([meta, #"{"type":"code","address":"401000","bytes":"c3"}"#],
         #"2: code "address" must be a hex string like "0x401000", not "401000""#),
        ([meta, #"{"type":"code","address":"0x401000","bytes":"c3c"}"#], #"2: code "bytes" has an odd number of hex digits"#),
        ([meta, #"{"type":"code","address":"0x401000","bytes":"c3zz"}"#], #"2: code "bytes" has a non-hex character at position 2"#),
        ([meta, #"{"type":"code","address":"0x401000","bytes":""}"#], "2: code record has no bytes"),
        ([loopCode, meta], "1: the first record must be the meta record, not a code record"),
        ([meta, loopCode, meta], "3: a second meta record"),
        ([#"{"type":"meta","arch":"arm64","program":"x"}"#], #"1: meta arch "arm64" is not one of x86_64, i386"#),
        ([#"{"type":"meta","arch":"i386","program":"x","format":2}"#],
         "1: meta format 2 is not supported (this importer reads format 1)"),
        ([meta, loopCode, #"{"type":"exec","thread":0,"blocks":["0x401000","0x401030"]}"#],
         "3: exec block 0x401030 is not in any code record"),
        ([meta, #"{"type":"code","address":"0x401000","bytes":"90 90"}"#, #"{"type":"exec","thread":0,"blocks":["0x401000"]}"#],
         "3: exec block 0x401000 runs into 0x401002, which no code record gave"),
        ([meta, #"{"type":"code","address":"0x401ffe","bytes":"90 b8"}"#, #"{"type":"exec","thread":0,"blocks":["0x401ffe"]}"#],
         "3: exec block 0x401ffe runs into 0x402000, which no code record gave"),
        ([meta, #"{"type":"code","address":"0x401000","bytes":"06"}"#, #"{"type":"exec","thread":0,"blocks":["0x401000"]}"#],
         "3: exec block 0x401000: undecodable instruction at 0x401000"),
        ([meta, loopCode, #"{"type":"exec","thread":0,"blocks":[]}"#], #"3: exec record has an empty "blocks" array"#),
        ([meta, loopCode, #"{"type":"exec","thread":0,"blocks":["0x401000",7]}"#],
         #"3: exec blocks[1] is 7, not a hex address like "0x401000""#),
        ([meta, loopCode, #"{"type":"exec","thread":-1,"blocks":["0x401000"]}"#],
         #"3: exec "thread" -1 is out of range 0...4294967295"#),
        ([meta, loopCode, #"{"type":"exec","thread":0,"blocks":["0x401000"]}"#, #"{"type":"write","thread":1,"address":"0x401000","size":4}"#],
         "4: write record for thread 1 comes before any exec block of that thread"),
        ([meta, #"{"type":"syscall","thread":0,"number":1}"#], "2: syscall record for thread 0 comes before any exec block of that thread"),
        ([meta, loopCode, #"{"type":"exec","thread":0,"blocks":["0x401000"]}"#, #"{"type":"write","thread":0,"address":"0x401000","size":0}"#],
         #"4: write "size" 0 is out of range 1...4294967295"#),
        ([meta, #"{"type":"data","thread":0,"page":"0x601234","reads":1,"writes":0}"#], "2: data page 0x601234 is not 4096-aligned"),
        ([#"{"type":"meta","arch":"x86_64","program":"x","data_touches":false}"#, loopCode,
          #"{"type":"exec","thread":0,"blocks":["0x401000"]}"#, #"{"type":"data","thread":0,"page":"0x601000","reads":1,"writes":0}"#],
         #"4: data record, but the meta record says "data_touches": false"#),
        ([meta, #"{"type":"module","start":"0x402000","end":"0x401000","offset":"0x0","path":"a"}"#],
         "2: module end 0x401000 is not above its start 0x402000"),
        ([meta, #"{"type":"exit","status":0,"signal":9}"#], #"2: exit record needs exactly one of "status" and "signal""#),
        ([meta, #"{"type":"exit","status":0}"#, "# fine", loopCode], "4: record after the exit record of line 2"),
        ([#"{"type":"meta","arch":"x86_64"}"#], #"1: meta record has no "program""#),
    ]
    for (lines, expected) in cases {
        let message = try importError(lines, scratch: scratch)
        #expect(message == "\(file):\(expected)")
    }
    #expect(try importError(["# nothing but a comment", ""], scratch: scratch) == "\(file): no meta record (the file has no records)")
    #expect(try importError([], scratch: scratch) == "\(file): no meta record (the file has no records)")
}

@Test func anExistingTraceIsKeptUnlessOverwriting() throws {
    let scratch = try Scratch()
    let input = try scratch.write("ok.jsonl", [meta, #"{"type":"code","address":"0x402000","bytes":"c3"}"#,
                                               #"{"type":"exec","thread":0,"blocks":["0x402000"]}"#])
    let output = scratch.directory + "/ok.plextrace"
    _ = try TraceImporter.importFile(at: input, to: output, overwrite: false)
    #expect(throws: TraceStoreError.exists(path: output)) {
        try TraceImporter.importFile(at: input, to: output, overwrite: false)
    }
    #expect(try TraceReader(path: output).summary().blocksExecuted == 1)
    #expect(try TraceImporter.importFile(at: input, to: output, overwrite: true).blocksExecuted == 1)
    let missing = scratch.directory + "/missing.jsonl"
    #expect(throws: ImportError(file: missing, line: nil, message: "cannot open: No such file or directory")) {
        try TraceImporter.importFile(at: missing, to: output, overwrite: true)
    }
}

@Test func duplicateKeysAreRefused() throws {
    let scratch = try Scratch()
    let file = scratch.directory + "/bad.jsonl"
    let cases: [(lines: [String], expected: String)] = [
        ([meta, #"{"type":"code","address":"0x401000","bytes":"c3","address":"0x402000"}"#],
         #"2: duplicate key "address" in one object"#),
        ([#"{"type":"meta","arch":"x86_64","program":"a","pro\u0067ram":"b"}"#], #"1: duplicate key "program" in one object"#),
        ([#"{"type":"meta","type":"meta","arch":"x86_64","program":"a"}"#], #"1: duplicate key "type" in one object"#),
        ([meta, loopCode, #"{"type":"exec","thread":0,"blocks":["0x401000"],"thread":1}"#],
         #"3: duplicate key "thread" in one object"#),
    ]
    for (lines, expected) in cases {
        #expect(try importError(lines, scratch: scratch) == "\(file):\(expected)")
    }
    // The same key in two objects, or a key equal to a value, is not a duplicate.
    let fine = try scratch.write("fine.jsonl", [
        #"{"type":"meta","arch":"x86_64","program":"type","argv":["type","program"]}"#,
        #"{"type":"code","address":"0x402000","bytes":"c3"}"#, #"{"type":"exec","thread":0,"blocks":["0x402000"]}"#,
    ])
    let output = scratch.directory + "/fine.plextrace"
    #expect(try TraceImporter.importFile(at: fine, to: output, overwrite: true).blocksExecuted == 1)
    #expect(try TraceReader(path: output).metadata.argv == ["type", "program"])
}

@Test func stringsOverTheReadersCapAreRefused() throws {
    let scratch = try Scratch()
    let file = scratch.directory + "/bad.jsonl"
    let cap = TraceTextLimits.maxBytes
    let over = String(repeating: "a", count: cap + 1)
    // 200 000 control characters are 1.2 MB once stored as JSON escapes (\u0001 each).
    let escaped = String(repeating: "\\u0001", count: 200_000)
    let cases: [(lines: [String], expected: String)] = [
        ([#"{"type":"meta","arch":"x86_64","program":"\#(over)"}"#], #"1: meta "program" is \#(cap + 1) bytes, over the \#(cap)-byte cap"#),
        ([#"{"type":"meta","arch":"x86_64","program":"p","argv":["a","\#(over)"]}"#],
         #"1: meta "argv" item 1 is \#(cap + 1) bytes, over the \#(cap)-byte cap"#),
        ([#"{"type":"meta","arch":"x86_64","program":"p","recorder":"\#(over)"}"#],
         #"1: meta "recorder" is \#(cap + 1) bytes, over the \#(cap)-byte cap"#),
        ([#"{"type":"meta","arch":"x86_64","program":"p","argv":["\#(escaped)"]}"#],
         #"1: meta "argv" (stored as a JSON array) is 1200004 bytes, over the \#(cap)-byte cap"#),
        ([meta, #"{"type":"module","start":"0x1000","end":"0x2000","offset":"0x0","path":"\#(over)"}"#],
         #"2: module "path" is \#(cap + 1) bytes, over the \#(cap)-byte cap"#),
    ]
    for (lines, expected) in cases {
        #expect(try importError(lines, scratch: scratch) == "\(file):\(expected)")
    }
    // Exactly at the cap is accepted and reads back.
    let atCap = String(repeating: "b", count: cap)
    let input = try scratch.write("cap.jsonl", [#"{"type":"meta","arch":"x86_64","program":"\#(atCap)","argv":["p"]}"#,
                                                #"{"type":"code","address":"0x402000","bytes":"c3"}"#,
                                                #"{"type":"exec","thread":0,"blocks":["0x402000"]}"#])
    let output = scratch.directory + "/cap.plextrace"
    _ = try TraceImporter.importFile(at: input, to: output, overwrite: true)
    #expect(try TraceReader(path: output).metadata.program.utf8.count == cap)
}

@Test func aLineOverTheCapIsRefusedWithoutReadingItWhole() throws {
    let scratch = try Scratch()
    let path = scratch.directory + "/long.jsonl"
    // A reader with a 1000-byte cap, on a file whose third line is 5000 bytes: line 3 is named, and the
    // lines before it read normally.
    try (meta + "\n\n" + String(repeating: "x", count: 5000) + "\nnever read\n").write(toFile: path, atomically: true, encoding: .utf8)
    let reader = try #require(LineReader(path: path, maxLineBytes: 1000))
    #expect(try reader.next() == nil ? false : true)
    #expect(try reader.next() == "")
    #expect(throws: LineTooLong(line: 3)) { try reader.next() }
    // Exactly at the cap, with CRLF: accepted without the terminator.
    try (String(repeating: "y", count: 1000) + "\r\nz").write(toFile: path, atomically: true, encoding: .utf8)
    let exact = try #require(LineReader(path: path, maxLineBytes: 1000))
    #expect(try exact.next()?.count == 1000)
    #expect(try exact.next() == "z")
    #expect(try exact.next() == nil)
}
