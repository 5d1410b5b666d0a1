import Foundation
import TraceBuilder
import TraceModel
import TraceStore

/// Builds a trace from the JSON Lines import format of docs/import-format.md.
public enum TraceImporter {
    /// Reads `path` line by line and writes the trace to `outPath` (refusing an existing file unless
    /// `overwrite`, and anything but a trace file even then). The trace is written to `OUT.partial` and
    /// renamed over `outPath` once finished: on any error the partial output is removed, the file that was
    /// at `outPath` stays, and the error names the line.
    public static func importFile(at path: String, to outPath: String, overwrite: Bool,
                                  chunkBlocks: Int = TraceWriter.Options().chunkBlocks,
                                  blockCodec: BlockStreamCodec = .writerDefault) throws -> TraceSummary {
        let destination = try TraceDestination(path: outPath, overwrite: overwrite)
        let session = ImportSession(path: path, outPath: destination.partialPath,
                                    options: TraceWriter.Options(chunkBlocks: chunkBlocks, blockCodec: blockCodec))
        do {
            try session.run()
        } catch {
            destination.discard()
            throw error
        }
        try destination.commit()
        return try TraceReader(path: outPath).summary()
    }
}

/// Why an import failed: the file, the line (when one is to blame) and what is wrong.
public struct ImportError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}

/// One import in progress: the writer, the builder and which code bytes the file has given.
private final class ImportSession {
    let path: String
    let outPath: String
    let options: TraceWriter.Options
    var writer: TraceWriter?
    var builder: TraceBuilder?
    var metadata: ImportRecord.Meta?
    var hasDataTouches = false
    /// Per 4096-byte page, one bit per byte given by some code record.
    var given: [UInt64: [UInt64]] = [:]
    /// Blocks executed so far per thread (the next event index).
    var executed: [UInt32: UInt64] = [:]
    /// Block ids below this were checked to lie in given bytes (ids are dense, in first-execution order).
    var checkedBlocks: BlockID = 0
    var exitLine: Int?
    var exitStatus: Int32?
    var exitSignal: Int32?

    init(path: String, outPath: String, options: TraceWriter.Options) {
        self.path = path
        self.outPath = outPath
        self.options = options
    }

    func run() throws {
        guard let reader = LineReader(path: path) else {
            throw ImportError(file: path, line: nil, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        do {
            while let line = try nextLine(reader) {
                let text = line.drop(while: { $0 == " " || $0 == "\t" })
                if text.isEmpty || text.hasPrefix("#") { continue }
                do {
                    try handle(try ImportRecord.parse(text), line: reader.lineNumber)
                } catch let error as RecordError {
                    throw ImportError(file: path, line: reader.lineNumber, message: error.message)
                } catch let error as ImportError {
                    throw error
                } catch let error as TraceStoreError {
                    throw error  // the output file, not this line, is to blame
                } catch {
                    throw ImportError(file: path, line: reader.lineNumber, message: String(describing: error))
                }
            }
            if reader.failed { throw ImportError(file: path, line: nil, message: "read error after line \(reader.lineNumber)") }
            guard let writer else { throw ImportError(file: path, line: nil, message: "no meta record (the file has no records)") }
            let note = "imported from \((path as NSString).lastPathComponent)" + (exitLine == nil ? " (no exit record)" : "")
            try writer.finish(exitStatus: exitStatus, signal: exitSignal, note: note)
            self.writer = nil
        } catch {
            if let writer {
                writer.abandon(note: "import failed")
                self.writer = nil
                builder = nil
                for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: outPath + suffix) }
            }
            throw error
        }
    }

    /// The reader's next line; a line past the cap is this line's error.
    private func nextLine(_ reader: LineReader) throws -> Substring? {
        do {
            return try reader.next()
        } catch {
            throw ImportError(file: path, line: error.line,
                              message: "line is longer than \(LineReader.maxLineBytes >> 20) MiB (split exec records across lines)")
        }
    }

    private func handle(_ record: ImportRecord, line: Int) throws {
        if let exitLine { throw RecordError("record after the exit record of line \(exitLine)") }
        if case .meta(let meta) = record {
            guard metadata == nil else { throw RecordError("a second meta record") }
            try start(meta)
            return
        }
        guard let writer, let builder, let metadata else {
            throw RecordError("the first record must be the meta record, not a \(record.typeName) record")
        }
        let system = metadata.guestMode == .system
        if !system && ImportRecord.systemTypes.contains(record.typeName) {
            throw RecordError("\(record.typeName) record in a user-mode trace (the meta record needs \"guest_mode\": \"system\")")
        }
        switch record {
        case .meta:
            break
        case .code(let address, let bytes):
            try addCode(address: address, bytes: bytes, builder: builder)
        case .exec(let thread, let blocks, let privilege):
            if !system, let privilege, privilege != 3 {
                throw RecordError("exec privilege \(privilege) in a user-mode trace (user code runs at 3)")
            }
            for start in blocks {
                try execute(start, thread: thread, privilege: privilege ?? 3, writer: writer, builder: builder)
            }
        case .map(let virtual, let physical, let pages):
            for page in 0..<pages {
                builder.map(virtualPage: virtual + page * 4096, toPhysicalPage: physical + page * 4096)
            }
        case .system(let thread, let kind, let vector, let address):
            writer.record(thread: thread, systemEvent: SystemEvent(eventIndex: try lastEvent(thread, kind.description),
                                                                   kind: kind, vector: vector, address: address))
        case .write(let thread, let address, let size):
            writer.record(thread: thread, codeWrite: CodeWrite(eventIndex: try lastEvent(thread, "write"),
                                                               address: address, size: size))
        case .syscall(let thread, let number):
            writer.record(thread: thread, syscall: SyscallEvent(eventIndex: try lastEvent(thread, "syscall"), number: number))
        case .data(let thread, let page, let reads, let writes):
            guard hasDataTouches else { throw RecordError("data record, but the meta record says \"data_touches\": false") }
            writer.record(thread: thread, dataTouch: DataTouch(eventIndex: try lastEvent(thread, "data"), page: page,
                                                               reads: reads, writes: writes))
        case .module(let module):
            try writer.addModule(module)
        case .exit(let status, let signal):
            exitLine = line
            exitStatus = status
            exitSignal = signal
        }
    }

    private func start(_ meta: ImportRecord.Meta) throws {
        metadata = meta
        hasDataTouches = try meta.dataTouches ?? fileHasDataRecords()
        let trace = TraceMetadata(program: meta.program, argv: meta.argv, arch: meta.arch,
                                  recorder: meta.recorder ?? "import",
                                  recorderVersion: meta.recorderVersion ?? "import-format \(ImportRecord.formatVersion)",
                                  host: hostName(),
                                  date: ISO8601DateFormatter().string(from: Date()),
                                  hasDataTouches: hasDataTouches, guestMode: meta.guestMode)
        let writer = try TraceWriter(path: outPath, metadata: trace, options: options)
        self.writer = writer
        builder = TraceBuilder(writer: writer, arch: meta.arch, mode: meta.guestMode)
    }

    /// Whether any line is a data record (read ahead when the meta record does not say).
    private func fileHasDataRecords() throws -> Bool {
        guard let reader = LineReader(path: path) else { return false }
        // A line past the cap ends the look-ahead; the main pass then names it.
        while let line = try? reader.next() {
            // Cheap filter first: only lines that mention "data" are parsed.
            guard line.contains("\"data\"") else { continue }
            if case .data? = try? ImportRecord.parse(line) { return true }
        }
        return false
    }

    /// Overlays `bytes` on the latest version of every page they touch (zeros where nothing was given yet).
    private func addCode(address: UInt64, bytes: [UInt8], builder: TraceBuilder) throws {
        guard address.addingReportingOverflow(UInt64(bytes.count) - 1).overflow == false else {
            throw RecordError("code record at \(hex(address)) runs past the end of the address space")
        }
        var cursor = address
        var index = 0
        while index < bytes.count {
            let virtualBase = cursor & ~UInt64(CodePage.size - 1)
            guard let pageBase = builder.pageKey(ofVirtualPage: virtualBase) else {
                throw RecordError("code at \(hex(cursor)) lies on a page no map record maps")
            }
            let offset = Int(cursor - virtualBase)
            let count = min(CodePage.size - offset, bytes.count - index)
            var page = builder.latestPage(at: pageBase)?.bytes ?? [UInt8](repeating: 0, count: CodePage.size)
            page.replaceSubrange(offset..<offset + count, with: bytes[index..<index + count])
            try page.withUnsafeBytes { try builder.capturePage(address: pageBase, bytes: $0) }
            var bits = given[pageBase] ?? [UInt64](repeating: 0, count: CodePage.size / 64)
            for byte in offset..<offset + count { bits[byte >> 6] |= 1 << UInt64(byte & 63) }
            given[pageBase] = bits
            cursor &+= UInt64(count)
            index += count
        }
    }

    /// Whether some code record gave the byte at virtual `address` (through the current map in a system trace).
    private func isGiven(_ address: UInt64) -> Bool {
        guard let page = builder?.pageKey(ofVirtualPage: address & ~UInt64(CodePage.size - 1)),
              let bits = given[page] else { return false }
        let offset = Int(address & UInt64(CodePage.size - 1))
        return bits[offset >> 6] & (1 << UInt64(offset & 63)) != 0
    }

    private func execute(_ start: UInt64, thread: UInt32, privilege: UInt8, writer: TraceWriter,
                         builder: TraceBuilder) throws {
        guard isGiven(start) else { throw RecordError("exec block \(hex(start)) is not in any code record") }
        let id: BlockID
        do {
            id = try builder.blocks(at: start, length: nil, privilege: privilege)[0]
        } catch let error as TraceBuilderError {
            switch error {
            case .notCaptured(let address):
                throw RecordError("exec block \(hex(start)) runs into \(hex(address)), which no code record gave")
            default:
                throw RecordError("exec block \(hex(start)): \(error)")
            }
        }
        if id >= checkedBlocks {
            let block = builder.definitions[Int(id)]
            for offset in 0..<UInt64(block.length) where !isGiven(block.address &+ offset) {
                throw RecordError("exec block \(hex(start)) runs into \(hex(block.address &+ offset)), which no code record gave")
            }
            checkedBlocks = id + 1
        }
        try writer.append(thread: thread, block: id)
        executed[thread, default: 0] += 1
    }

    /// Event index of the last block `thread` executed: side events are attributed to it.
    private func lastEvent(_ thread: UInt32, _ type: String) throws(RecordError) -> UInt64 {
        guard let count = executed[thread], count > 0 else {
            throw RecordError("\(type) record for thread \(thread) comes before any exec block of that thread")
        }
        return count - 1
    }
}

extension ImportRecord {
    var typeName: String {
        switch self {
        case .meta: "meta"
        case .code: "code"
        case .exec: "exec"
        case .write: "write"
        case .syscall: "syscall"
        case .data: "data"
        case .module: "module"
        case .exit: "exit"
        case .map: "map"
        case .system(_, let kind, _, _): kind.description
        }
    }
}

/// This machine's name (gethostname: ProcessInfo.hostName may wait on DNS).
private func hostName() -> String {
    var name = [CChar](repeating: 0, count: 256)
    guard gethostname(&name, name.count - 1) == 0 else { return "unknown" }
    return String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
