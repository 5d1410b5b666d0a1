import Foundation
import Testing
import TraceModel
import TraceStore

private func scratchDirectory(_ name: String) throws -> String {
    let directory = NSTemporaryDirectory() + "plexlab-cli-\(name)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory
}

/// Thread 0 runs blocks a (3 insns) and b (4 insns) as a b a b a b a (7 blocks, 2 chunks of 4 + 3);
/// thread 5 runs b twice. One syscall, one code write, two code page versions of one page.
private func writeKnownTrace(at path: String) throws {
    let metadata = TraceMetadata(program: "/usr/bin/demo", argv: ["/usr/bin/demo", "two words"], arch: .i386,
                                 recorder: "qemu-user", recorderVersion: "7.2.0", host: "box",
                                 date: "2026-03-04T05:06:07Z", hasDataTouches: false)
    let writer = try TraceWriter(path: path, metadata: metadata, options: .init(chunkBlocks: 4))
    let a = try writer.define(BlockDefinition(address: 0x8048000, length: 5, instructionCount: 3, codeVersion: 0,
                                              exitKind: .jcc, staticTarget: 0x8048000, sensitiveCount: 0,
                                              cpuidCount: 0, bytes: [0x90, 0x90, 0x90, 0x75, 0xfb]))
    let b = try writer.define(BlockDefinition(address: 0x8048005, length: 4, instructionCount: 4, codeVersion: 0,
                                              exitKind: .ret, staticTarget: nil, sensitiveCount: 1, cpuidCount: 0,
                                              bytes: [0x9c, 0x9d, 0x90, 0xc3]))
    for i in 0..<7 { try writer.append(thread: 0, block: i % 2 == 0 ? a : b) }
    writer.record(thread: 0, syscall: SyscallEvent(eventIndex: 6, number: 1))
    writer.record(thread: 0, codeWrite: CodeWrite(eventIndex: 5, address: 0x8048001, size: 1))
    for _ in 0..<2 { try writer.append(thread: 5, block: b) }
    try writer.addCodePage(CodePage(address: 0x8048000, version: 0, bytes: [UInt8](repeating: 0x90, count: 4096)))
    try writer.addCodePage(CodePage(address: 0x8048000, version: 1, bytes: [UInt8](repeating: 0xcc, count: 4096)))
    try writer.finish(exitStatus: 0, signal: nil, note: "")
}

@Suite struct InfoCommandTests {
    @Test func infoPrintsTheFiguresThatWereWritten() throws {
        let directory = try scratchDirectory("info")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/demo.plextrace"
        try writeKnownTrace(at: path)

        let run = try PlexlabRun(["info", path])
        #expect(run.status == 0, "\(run.stderr)")
        var table: [String: String] = [:]
        for line in run.stdout.split(separator: "\n") {
            let parts = line.split(separator: "  ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2 { table[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        #expect(table["program"] == "/usr/bin/demo")
        #expect(table["argv"] == "/usr/bin/demo 'two words'")
        #expect(table["arch"] == "i386")
        #expect(table["recorder"] == "qemu-user 7.2.0")
        #expect(table["exit"] == "status 0")
        #expect(table["state"] == "complete")
        let instructions = 4 * 3 + 3 * 4 + 2 * 4  // a four times, b three times on thread 0, b twice on thread 5
        #expect(table["instructions"] == String(instructions))
        #expect(table["blocks executed"] == "9")
        #expect(table["distinct blocks"] == "2")
        #expect(table["code pages"] == "1")
        #expect(table["page versions"] == "2")
        #expect(table["code writes"] == "1")
        #expect(table["syscalls"] == "1")
        #expect(table["data touches"] == "not recorded")
        #expect(table["threads"] == "2")
        #expect(table["chunks"] == "3")
        #expect(table["block codec"] == BlockStreamCodec.writerDefault.description)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber
        #expect(table["file size"]?.hasPrefix("\(size.uint64Value) bytes") == true)

        let json = try PlexlabRun(["info", "--json", "--verify", path])
        #expect(json.status == 0, "\(json.stderr)")
        let info = try JSONDecoder().decode(TraceInfo.self, from: Data(json.stdout.utf8))
        #expect(info.summary.instructions == 32)
        #expect(info.summary.chunks == 3)
        #expect(info.metadata.argv == ["/usr/bin/demo", "two words"])
        #expect(info.badChunks == [])
        #expect(info.summary.bitsPerExecutedBlock == 8 * Double(info.summary.blockStreamBytes) / 9)
        #expect(info.summary.blockCodecs == [BlockStreamCodec.writerDefault.description])
    }

    @Test func badFilesGiveOneLineAndExitCode2() throws {
        let directory = try scratchDirectory("bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/junk.plextrace"
        try Data("definitely not a database, just some words\n".utf8).write(to: URL(fileURLWithPath: path))
        let run = try PlexlabRun(["info", path])
        #expect(run.status == 2)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr == "plexlab: error: \(path) is not a PlexLab trace (not an SQLite database)\n")

        let missing = try PlexlabRun(["info", directory + "/nope.plextrace"])
        #expect(missing.status == 2)
        #expect(missing.stderr.split(separator: "\n").count == 1)
    }
}
