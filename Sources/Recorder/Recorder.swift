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
    /// Pack the fast form when the guest has exited (false: `--no-pack`, `plexlab pack` later).
    public var pack: Bool
    /// Follow the tree through per-process pipes and assemble it live (the path before rings), for tests
    /// and measurements that compare the two; `pack` does not apply.
    var throughPipes = false
    /// With data pages: send only touches that differ from the block's last execution on its thread (the
    /// plugin's touch cache, docs/recorder.md); off sends every execution's, for tests that compare the two.
    var touchCache = true
    /// Off: the plugin sends every executed TB as its id word, without RUN words (plugin argument runs=off;
    /// for tests that compare the two encodings block by block).
    var successorRuns = true
    /// Where PATH, PLEXLAB_QEMU_PLUGIN and the guest's environment come from.
    public var environment: [String: String]
    /// The guest's working directory (a relative program path is found there); nil: the recorder's own.
    public var workingDirectory: String?

    /// Record every process the program starts (forks and execve'd programs); off: only the first.
    public var followProcesses: Bool
    /// The most processes recorded; one more kills the whole tree (a fork loop) and ends the trace there.
    public var maxProcesses: Int

    /// `--max-processes` when not given: a make of ~70 files, not a fork loop's thousands of QEMUs.
    public static let defaultMaxProcesses = 512

    public init(output: String, overwrite: Bool = false, maxInstructions: UInt64? = nil,
                skipInstructions: UInt64? = nil, dataPages: Bool = false, chunkBlocks: Int? = nil,
                blockCodec: BlockStreamCodec = .writerDefault, pack: Bool = true,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                followProcesses: Bool = true, maxProcesses: Int = RecordOptions.defaultMaxProcesses,
                workingDirectory: String? = nil) {
        self.pack = pack
        self.output = output
        self.overwrite = overwrite
        self.maxInstructions = maxInstructions
        self.skipInstructions = skipInstructions
        self.dataPages = dataPages
        self.chunkBlocks = chunkBlocks
        self.blockCodec = blockCodec
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.followProcesses = followProcesses
        self.maxProcesses = maxProcesses
    }
}

extension RecordOptions {
    /// The plugin's arguments these options ask for (the process-following ones are added by the recorder).
    var pluginArguments: [String] {
        var arguments: [String] = []
        if let max = maxInstructions, max > 0 { arguments.append("max-insns=\(max)") }
        if let skip = skipInstructions, skip > 0 { arguments.append("skip-insns=\(skip)") }
        if dataPages { arguments.append("data-pages=on") }
        if dataPages && !touchCache { arguments.append("touch-cache=off") }
        if !successorRuns { arguments.append("runs=off") }
        return arguments
    }
}

/// Figures while recording, for a progress line.
public struct RecordProgress: Sendable {
    public var instructions: UInt64
    public var blocks: UInt64
    /// Bytes of the trace file (and its write-ahead log) so far; recording the fast form, bytes from the plugin.
    public var bytesWritten: UInt64
    public var seconds: Double
    /// Recording the fast form nothing is decoded (`instructions` and `blocks` are 0): the words of the
    /// plugin's EVENTS records so far, TB ids and RUN words, far fewer than the blocks they stand for.
    public var eventWords: UInt64 = 0
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
    /// Every recorded process, in order of appearance (one without following).
    public var processes: [TraceProcess]
    /// From QEMU's start to its end, the fast form stored (record then pack, i.e. without following).
    public var guestSeconds: Double = 0
    /// Whether the trace was packed (false: it is in its fast form, counts other than the bytes are 0).
    public var packed: Bool = true
}

/// `plexlab record`: runs a program under qemu-user with the PlexLab plugin and writes its trace.
public enum Recorder {
    /// Traces/<name or program base name>.plextrace
    public static func defaultOutput(program: String, name: String?) -> String {
        let base = name ?? (program as NSString).lastPathComponent
        return "Traces/\(base.isEmpty ? "trace" : base).plextrace"
    }

    /// Records `program` (a path, or a name looked up on PATH; a `#!` script runs its interpreter as the
    /// kernel would) run with `arguments`, with every process it starts unless `options.followProcesses`
    /// is off. Throws a one-line `RecorderError` for bad input; a guest that fails still gives a complete trace.
    /// `progress` is called a few times a second from the calling thread.
    public static func record(program: String, arguments: [String], options: RecordOptions,
                              progress: ((RecordProgress) -> Void)? = nil) throws -> RecordResult {
        // First, so that no thread (ours or the runtime's) is started with SIGINT unblocked.
        let signals = SignalWatcher()
        defer { signals.stop() }

        let launch = try Launch(program: program, arguments: arguments, options: options)
        // Record, then pack: per-process shared-memory rings into the fast form (docs/recorder.md).
        if !options.throughPipes {
            return try recordThenPack(launch: launch, options: options, signals: signals, progress: progress)
        }
        // The tree assembled live from per-process pipes (what record did before rings; kept for comparison).
        let (guest, guestArgv, isScript, qemu, plugin) = (launch.guest, launch.guestArgv, launch.isScript, launch.qemu,
                                                          launch.plugin)
        let (destination, metadata, output) = (launch.destination, launch.metadata, options.output)
        let partial = destination.partialPath
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

        var pluginArguments = options.pluginArguments
        let socket: ProcessSocket?
        do {
            socket = options.followProcesses ? try ProcessSocket() : nil
        } catch {
            discard(writer, destination)
            throw error
        }
        if let socket { pluginArguments += launch.followArguments(socket: socket, environment: options.environment) }

        let process: QEMUProcess
        do {
            process = try QEMUProcess(qemu: qemu, plugin: plugin, pluginArguments: pluginArguments,
                                      program: guest.path, argv0: isScript ? guestArgv[0] : nil,
                                      arguments: Array(guestArgv.dropFirst()), workingDirectory: options.workingDirectory)
        } catch {
            discard(writer, destination)
            throw error
        }
        signals.setChild(process.pid)

        let clock = ContinuousClock()
        let started = clock.now
        var lastReport = started
        let tree = ProcessTree(firstStream: process.pipe, listener: socket?.fd, builder: builder, writer: writer,
                               arch: guest.arch, program: guest.path, argv: guestArgv,
                               maxProcesses: options.followProcesses ? options.maxProcesses : 1)
        var termination: Termination?
        do {
            try tree.run(rootExited: {
                if termination == nil {
                    termination = ChildProcess.poll(process.pid)
                    // Ctrl-C or SIGTERM stopped the recorded program: its descendants go with it.
                    if termination != nil, signals.interruption != nil { tree.killAll() }
                }
                return termination != nil
            }, tick: {
                guard let progress else { return }
                let now = clock.now
                guard now - lastReport >= .milliseconds(250) else { return }
                lastReport = now
                let counts = tree.counts
                progress(RecordProgress(instructions: counts.instructions, blocks: counts.blocks,
                                        bytesWritten: fileBytes(partial), seconds: seconds(now - started)))
            })
        } catch {
            // A failed run keeps the file that was at `output`: the partial trace is removed.
            process.kill(SIGKILL)
            tree.killAll()
            if termination == nil { _ = process.wait() }
            discard(writer, destination)
            if let error = error as? TraceStoreError { throw RecorderError.writeFailed(detail: describe(error)) }
            throw error
        }
        let ended = termination ?? process.wait()
        let elapsed = seconds(clock.now - started)

        let qemuName = (qemu as NSString).lastPathComponent
        let loaderMessage = process.loaderMessage()
        guard tree.hello != nil else {
            discard(writer, destination)
            throw RecorderError.qemuFailedToStart(qemu: qemuName, status: ended.description)
        }
        let counts = tree.counts
        // No guest code ran at all (QEMU could not load the program, e.g. its ELF interpreter is missing):
        // an error, not a "complete" trace of 0 blocks. With --skip-insns, 0 recorded blocks can be right.
        if counts.blocks == 0, counts.translations == 0, signals.interruption == nil,
           (options.skipInstructions ?? 0) == 0 {
            discard(writer, destination)
            throw RecorderError.qemuCouldNotRun(qemu: qemuName, program: guest.path, status: ended.description,
                                                message: loaderMessage)
        }
        // Warnings QEMU printed while loading a program that then ran: passed on, not lost.
        if !loaderMessage.isEmpty { StandardError.write(loaderMessage) }

        var result = RecordResult(
            path: output, metadata: metadata, termination: ended, interruptedBy: signals.interruption,
            instructions: 0, blocks: 0, distinctBlocks: 0, codeWrites: 0, syscalls: 0, dataTouches: 0, threads: 0,
            translations: 0, pageCaptures: 0, pluginBytes: tree.bytesRead, fileBytes: 0, seconds: elapsed,
            processes: tree.processes)
        do {
            let decided = try tree.conclude(rootPID: process.pid, termination: ended, interruption: signals.interruption,
                                            maxInstructions: options.maxInstructions,
                                            processLimit: tree.stoppedAtLimit ? options.maxProcesses : nil)
            if case .interruptedBeforeRecording(let signal) = decided {
                // Ctrl-C before anything was recorded: the file that was at `output` stays.
                discard(writer, destination)
                throw RecorderError.interruptedBeforeRecording(signal: signalName(signal), path: output)
            }
            decided.apply(to: &result.metadata)
        } catch let error as TraceStoreError {
            discard(writer, destination)
            throw RecorderError.writeFailed(detail: describe(error))
        }
        // Finished, or stopped with at least one block recorded: the trace replaces what was at `output`.
        try destination.commit()

        result.fill(tree.counts, distinctBlocks: builder.definitions.count, path: output)
        return result
    }

    /// Closes the writer and removes the partial trace: the file at the destination stays as it was.
    private static func discard(_ writer: TraceWriter, _ destination: TraceDestination) {
        writer.abandon(note: "nothing kept")
        destination.discard()
    }

    static func describe(_ error: TraceStoreError) -> String {
        switch error {
        case .writeFailed(_, let detail): detail
        default: error.description
        }
    }

    static func fileBytes(_ path: String) -> UInt64 {
        var total: UInt64 = 0
        for suffix in ["", "-wal"] {
            var info = stat()
            if stat(path + suffix, &info) == 0 { total += UInt64(info.st_size) }
        }
        return total
    }

    static func seconds(_ duration: Duration) -> Double {
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
