#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TraceBuilder
import TraceModel
import TraceStore

/// What to record and where (see docs/recorder.md).
public struct RecordOptions: Sendable {
    /// The trace file to write.
    public var output: String
    /// Replace an existing trace file.
    public var overwrite: Bool
    /// Stop after this many recorded instructions and end the guest.
    public var maxInstructions: UInt64?
    /// Run this many instructions before recording starts.
    public var skipInstructions: UInt64?
    /// Also record data reads and writes per page.
    public var dataPages: Bool
    /// Blocks per chunk (the writer's default when nil).
    public var chunkBlocks: Int?
    /// How chunks store block ids (docs/trace-format.md): size against coding and replay speed.
    public var blockCodec: BlockStreamCodec
    /// Where PATH, PLEXLAB_QEMU_PLUGIN and the guest's environment come from.
    public var environment: [String: String]
    /// The guest's working directory (a relative program path is found there); nil: the recorder's own.
    public var workingDirectory: String?

    public init(output: String, overwrite: Bool = false, maxInstructions: UInt64? = nil,
                skipInstructions: UInt64? = nil, dataPages: Bool = false, chunkBlocks: Int? = nil,
                blockCodec: BlockStreamCodec = .writerDefault,
                environment: [String: String] = ProcessInfo.processInfo.environment, workingDirectory: String? = nil) {
        self.output = output
        self.overwrite = overwrite
        self.maxInstructions = maxInstructions
        self.skipInstructions = skipInstructions
        self.dataPages = dataPages
        self.chunkBlocks = chunkBlocks
        self.blockCodec = blockCodec
        self.environment = environment
        self.workingDirectory = workingDirectory
    }
}

/// Figures while recording, for a progress line.
public struct RecordProgress: Sendable {
    public var instructions: UInt64
    public var blocks: UInt64
    /// Bytes of the trace file (and its write-ahead log) so far.
    public var bytesWritten: UInt64
    public var seconds: Double
}

/// How a recording went.
public struct RecordResult: Sendable {
    public var path: String
    public var metadata: TraceMetadata
    /// How qemu-user ended (the guest's exit status or fatal signal; exit 0 after --max-insns).
    public var termination: Termination
    /// Set when SIGINT or SIGTERM stopped the recording (the trace is then incomplete).
    public var interruptedBy: Int32?
    public var instructions: UInt64
    public var blocks: UInt64
    public var distinctBlocks: Int
    public var codeWrites: UInt64
    public var syscalls: UInt64
    public var dataTouches: UInt64
    public var threads: Int
    public var translations: UInt64
    public var pageCaptures: UInt64
    /// Bytes the plugin sent.
    public var pluginBytes: UInt64
    public var fileBytes: UInt64
    public var seconds: Double
}

/// `plexlab record`: runs a program under qemu-user with the PlexLab plugin and writes its trace.
public enum Recorder {
    /// Traces/<name or program base name>.plextrace
    public static func defaultOutput(program: String, name: String?) -> String {
        let base = name ?? (program as NSString).lastPathComponent
        return "Traces/\(base.isEmpty ? "trace" : base).plextrace"
    }

    /// Records `program` (a path, or a name looked up on PATH) run with `arguments`.
    /// Throws a one-line `RecorderError` for bad input; a guest that fails still gives a complete trace.
    /// `progress` is called a few times a second from the calling thread.
    public static func record(program: String, arguments: [String], options: RecordOptions,
                              progress: ((RecordProgress) -> Void)? = nil) throws -> RecordResult {
        // First, so that no thread (ours or the runtime's) is started with SIGINT unblocked.
        let signals = SignalWatcher()
        defer { signals.stop() }

        let guest = try GuestProgram.resolve(program, environment: options.environment, in: options.workingDirectory)
        let qemu = try Tools.qemu(guest.qemuName, environment: options.environment)
        let plugin = try Tools.plugin(environment: options.environment)
        let output = options.output
        // Checks the path (--force replaces only a trace), locks it against a second recorder, and names
        // the .partial file the trace is written to until it is renamed over `output`.
        let destination: TraceDestination
        do {
            destination = try TraceDestination(path: output, overwrite: options.overwrite)
        } catch TraceStoreError.exists(let path) {
            throw RecorderError.outputExists(path: path)
        } catch TraceStoreError.writeFailed(_, let detail) {
            throw RecorderError.outputUnwritable(path: output, detail: detail)
        }
        let partial = destination.partialPath

        let metadata = TraceMetadata(
            program: guest.path, argv: [program] + arguments, arch: guest.arch, recorder: "qemu-user",
            recorderVersion: Tools.qemuVersion(qemu), host: hostDescription(), date: Date().ISO8601Format(),
            hasDataTouches: options.dataPages)
        // Encoding and committing chunks on a second thread lets this one keep draining the plugin's pipe.
        var writerOptions = TraceWriter.Options(blockCodec: options.blockCodec, commitInBackground: true)
        if let chunkBlocks = options.chunkBlocks { writerOptions.chunkBlocks = chunkBlocks }
        let writer: TraceWriter
        do {
            writer = try TraceWriter(path: partial, metadata: metadata, options: writerOptions)
        } catch let error as TraceStoreError {
            destination.discard()
            throw RecorderError.outputUnwritable(path: output, detail: describe(error))
        }
        let builder = TraceBuilder(writer: writer, arch: guest.arch)
        var assembler = TraceAssembler(builder: builder, writer: writer, arch: guest.arch)

        var pluginArguments: [String] = []
        if let max = options.maxInstructions, max > 0 { pluginArguments.append("max-insns=\(max)") }
        if let skip = options.skipInstructions, skip > 0 { pluginArguments.append("skip-insns=\(skip)") }
        if options.dataPages { pluginArguments.append("data-pages=on") }

        let process: QEMUProcess
        do {
            process = try QEMUProcess(qemu: qemu, plugin: plugin, pluginArguments: pluginArguments,
                                      program: guest.path, arguments: arguments, workingDirectory: options.workingDirectory)
        } catch {
            discard(writer, destination)
            throw error
        }
        signals.setChild(process.pid)

        let clock = ContinuousClock()
        let started = clock.now
        var lastReport = started
        var records = 0
        let reader = PluginStreamReader(fd: process.pipe)
        var failure: Error?
        var truncatedTail = 0
        do {
            truncatedTail = try reader.run { record in
                let more = try assembler.handle(record)
                records += 1
                if let progress, records & 63 == 0 {
                    let now = clock.now
                    if now - lastReport >= .milliseconds(250) {
                        lastReport = now
                        progress(RecordProgress(instructions: assembler.counts.instructions,
                                                blocks: assembler.counts.blocks,
                                                bytesWritten: fileBytes(partial), seconds: seconds(now - started)))
                    }
                }
                return more
            }.truncatedTail
        } catch {
            failure = error
            process.kill(SIGKILL)
        }
        let termination = process.wait()
        let elapsed = seconds(clock.now - started)

        // A failed run keeps the file that was at `output`: the partial trace is removed.
        if let failure {
            discard(writer, destination)
            if let error = failure as? TraceStoreError { throw RecorderError.writeFailed(detail: describe(error)) }
            throw failure
        }
        let qemuName = (qemu as NSString).lastPathComponent
        let loaderMessage = process.loaderMessage()
        guard assembler.hello != nil else {
            discard(writer, destination)
            throw RecorderError.qemuFailedToStart(qemu: qemuName, status: termination.description)
        }
        // No guest code ran at all (QEMU could not load the program, e.g. its ELF interpreter is missing):
        // an error, not a "complete" trace of 0 blocks. With --skip-insns, 0 recorded blocks can be right.
        if assembler.counts.blocks == 0, assembler.counts.translations == 0, signals.interruption == nil,
           (options.skipInstructions ?? 0) == 0 {
            discard(writer, destination)
            throw RecorderError.qemuCouldNotRun(qemu: qemuName, program: guest.path, status: termination.description,
                                                message: loaderMessage)
        }
        // Warnings QEMU printed while loading a program that then ran: passed on, not lost.
        if !loaderMessage.isEmpty { StandardError.write(loaderMessage) }

        var result = RecordResult(
            path: output, metadata: metadata, termination: termination, interruptedBy: signals.interruption,
            instructions: 0, blocks: 0, distinctBlocks: 0, codeWrites: 0, syscalls: 0, dataTouches: 0, threads: 0,
            translations: 0, pageCaptures: 0, pluginBytes: reader.bytesRead, fileBytes: 0, seconds: elapsed)
        do {
            try assembler.finishThreads()
            let (exitStatus, signal): (Int32?, Int32?) = switch termination {
            case .exited(let code): (code, nil)
            case .signaled(let number): (nil, number)
            }
            if let interruption = signals.interruption {
                guard assembler.counts.blocks > 0 else {
                    // Ctrl-C before anything was recorded: the file that was at `output` stays.
                    discard(writer, destination)
                    throw RecorderError.interruptedBeforeRecording(signal: signalName(interruption), path: output)
                }
                writer.abandon(note: "interrupted by \(signalName(interruption)); the guest was stopped")
                result.metadata.note = "interrupted by \(signalName(interruption))"
            } else if let end = assembler.end {
                if end.stoppedAtMaxInstructions {
                    let note = "stopped after --max-insns \(options.maxInstructions ?? 0); the guest was ended"
                    try writer.finish(exitStatus: nil, signal: nil, note: note)
                    result.metadata.note = note
                } else {
                    try writer.finish(exitStatus: exitStatus, signal: signal, note: "")
                    result.metadata.exitStatus = exitStatus
                    result.metadata.signal = signal
                }
                result.metadata.complete = true
            } else if let number = assembler.lastSyscall, isExecve(number, arch: guest.arch) {
                // execve replaced QEMU with the new program; everything before it was flushed.
                let note = "the guest called execve; the program it started was not recorded"
                try writer.finish(exitStatus: exitStatus, signal: signal, note: note)
                result.metadata.note = note
                result.metadata.exitStatus = exitStatus
                result.metadata.signal = signal
                result.metadata.complete = true
            } else if case .signaled(let number) = termination, number != SIGKILL, truncatedTail == 0 {
                // The guest died of a signal with its default action: QEMU kills itself without the plugin's
                // exit callback, but the plugin sent everything when the signal arrived.
                try writer.finish(exitStatus: nil, signal: number, note: "")
                result.metadata.signal = number
                result.metadata.complete = true
            } else {
                let note = "qemu-user \(termination.description) without the plugin's end record"
                writer.abandon(note: note)
                result.metadata.note = note
            }
        } catch let error as TraceStoreError {
            discard(writer, destination)
            throw RecorderError.writeFailed(detail: describe(error))
        }
        // Finished, or stopped with at least one block recorded: the trace replaces what was at `output`.
        try destination.commit()

        let counts = assembler.counts
        result.instructions = counts.instructions
        result.blocks = counts.blocks
        result.distinctBlocks = builder.definitions.count
        result.codeWrites = counts.codeWrites
        result.syscalls = counts.syscalls
        result.dataTouches = counts.dataTouches
        result.threads = counts.threads
        result.translations = counts.translations
        result.pageCaptures = counts.pageCaptures
        result.fileBytes = fileBytes(output)
        return result
    }

    /// Closes the writer and removes the partial trace: the file at the destination stays as it was.
    private static func discard(_ writer: TraceWriter, _ destination: TraceDestination) {
        writer.abandon(note: "nothing kept")
        destination.discard()
    }

    private static func describe(_ error: TraceStoreError) -> String {
        switch error {
        case .writeFailed(_, let detail): detail
        default: error.description
        }
    }

    private static func fileBytes(_ path: String) -> UInt64 {
        var total: UInt64 = 0
        for suffix in ["", "-wal"] {
            var info = stat()
            if stat(path + suffix, &info) == 0 { total += UInt64(info.st_size) }
        }
        return total
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (s, attoseconds) = duration.components
        return Double(s) + Double(attoseconds) / 1e18
    }

    static func isExecve(_ number: Int64, arch: GuestArch) -> Bool {
        switch arch {
        case .x86_64: number == 59 || number == 322
        case .i386: number == 11 || number == 358
        }
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        default: "signal \(signal)"
        }
    }

    /// "hostname (Linux 6.1.0 x86_64)"
    static func hostDescription() -> String {
        var name = utsname()
        guard uname(&name) == 0 else { return ProcessInfo.processInfo.hostName }
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        return "\(text(name.nodename)) (\(text(name.sysname)) \(text(name.release)) \(text(name.machine)))"
    }
}
