#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TraceBuilder
import TraceModel
import TraceStore

/// What the recorder learnt about a run, stored in the fast form for the pack (JSON).
struct RecordingFacts: Encodable, Equatable {
    var exitStatus: Int32?
    var signal: Int32?
    /// SIGINT or SIGTERM that stopped the recording.
    var interruptedBy: Int32?
    /// Bytes of a record the stream ended in the middle of.
    var truncatedTail: Int
    var maxInstructions: UInt64?
    var pluginBytes: UInt64
    var guestSeconds: Double
    /// The pid of the process the recorder started (a tree's fast form: whose last image gets `termination`).
    var rootPID: Int32?
    /// Set to --max-processes when the tree went beyond it and the recorder killed it.
    var processLimit: Int?
    /// The recorded program (a `#!` script resolved) and its argv as the recorder started it.
    var rootProgram: String?
    var rootArgv: [String]?

    var termination: Termination {
        if let signal { return .signaled(signal) }
        return .exited(exitStatus ?? 0)
    }

    init(termination: Termination, interruptedBy: Int32?, truncatedTail: Int, maxInstructions: UInt64?,
         pluginBytes: UInt64, guestSeconds: Double) {
        switch termination {
        case .exited(let code): exitStatus = code; signal = nil
        case .signaled(let number): exitStatus = nil; signal = number
        }
        self.interruptedBy = interruptedBy
        self.truncatedTail = truncatedTail
        self.maxInstructions = maxInstructions
        self.pluginBytes = pluginBytes
        self.guestSeconds = guestSeconds
    }

    func json() -> String {
        JSONWriter.write((try? JSONText(encoding: self)) ?? [:], style: .compact)
    }

    /// The facts `json()` wrote, read with the one strict reader; nil when the text is not such an object.
    init?(json: String) {
        guard case .object(let fields)? = try? JSONParser.parse(Array(json.utf8)) else { return nil }
        func number<T: LosslessStringConvertible>(_ key: String, _: T.Type) -> T? {
            if case .number(let text)? = fields[key] { T(text) } else { nil }
        }
        guard let truncatedTail = number("truncatedTail", Int.self), let pluginBytes = number("pluginBytes", UInt64.self),
              let guestSeconds = number("guestSeconds", Double.self) else { return nil }
        exitStatus = number("exitStatus", Int32.self)
        signal = number("signal", Int32.self)
        interruptedBy = number("interruptedBy", Int32.self)
        maxInstructions = number("maxInstructions", UInt64.self)
        rootPID = number("rootPID", Int32.self)
        processLimit = number("processLimit", Int.self)
        if case .string(let program)? = fields["rootProgram"] { rootProgram = program }
        if case .array(let items)? = fields["rootArgv"] {
            let strings = items.compactMap { item -> String? in if case .string(let text) = item { text } else { nil } }
            rootArgv = strings.count == items.count ? strings : nil
        }
        self.truncatedTail = truncatedTail
        self.pluginBytes = pluginBytes
        self.guestSeconds = guestSeconds
    }
}

/// `plexlab pack`: turns a trace in its fast form into the dense one (rr's record, then pack). The packed
/// trace is written to TRACE.partial under TRACE.lock and renamed over TRACE only when whole, so a pack that
/// is stopped (Ctrl-C, kill -9, disk full) leaves the fast form as it was: nothing recorded is lost.
public enum Packer {
    /// `pack` that stops at SIGINT or SIGTERM (`plexlab pack`).
    public static func packWatchingSignals(path: String, codec: BlockStreamCodec = .writerDefault) throws -> RecordResult {
        let signals = SignalWatcher()
        defer { signals.stop() }
        return try pack(path: path, codec: codec, shouldStop: { signals.count > 0 ? signals.lastSignal : nil })
    }

    /// Packs the fast form at `path` in place with `codec`. `shouldStop` is asked between records; when it
    /// says yes the pack is abandoned and `RecorderError.packInterrupted` thrown (`signal` names why).
    public static func pack(path: String, codec: BlockStreamCodec = .writerDefault, chunkBlocks: Int? = nil,
                            shouldStop: () -> Int32? = { nil }) throws -> RecordResult {
        let clock = ContinuousClock()
        let started = clock.now
        let reader = try TraceReader(path: path)
        guard reader.isFastForm else { throw RecorderError.notFastForm(path: path) }
        let factsText = try reader.fastFormFacts()
        let facts = factsText.flatMap(RecordingFacts.init(json:))
        var metadata = reader.metadata
        metadata.note = ""
        let arch = metadata.arch

        let destination: TraceDestination
        do {
            destination = try TraceDestination(path: path, overwrite: true)
        } catch let error as TraceStoreError {
            throw RecorderError.writeFailed(detail: error.description)
        }
        var writerOptions = TraceWriter.Options(blockCodec: codec, commitInBackground: true)
        if let chunkBlocks { writerOptions.chunkBlocks = chunkBlocks }
        let writer: TraceWriter
        do {
            writer = try TraceWriter(path: destination.partialPath, metadata: metadata, options: writerOptions)
        } catch let error as TraceStoreError {
            destination.discard()
            throw RecorderError.writeFailed(detail: error.description)
        }
        func fail(_ error: Error) -> Error {
            writer.abandon(note: "nothing kept")
            destination.discard()
            if let error = error as? TraceStoreError { return RecorderError.writeFailed(detail: error.description) }
            return error
        }

        let builder = TraceBuilder(writer: writer, arch: arch)
        var result = RecordResult(
            path: path, metadata: metadata, termination: facts?.termination ?? .exited(0),
            interruptedBy: facts?.interruptedBy, instructions: 0, blocks: 0, distinctBlocks: 0, codeWrites: 0,
            syscalls: 0, dataTouches: 0, threads: 0, translations: 0, pageCaptures: 0,
            pluginBytes: facts?.pluginBytes ?? 0, fileBytes: 0, seconds: 0, processes: [],
            guestSeconds: facts?.guestSeconds ?? 0, packed: true)
        var stopped: Int32?
        let counts: TraceAssembler.Counts
        do {
            if reader.isTreeFastForm {
                counts = try packTree(reader, builder: builder, writer: writer, facts: facts, metadata: metadata,
                                      result: &result, shouldStop: shouldStop, stopped: &stopped)
            } else {
                counts = try packOne(reader, builder: builder, writer: writer, facts: facts, metadata: metadata,
                                     result: &result, shouldStop: shouldStop, stopped: &stopped)
            }
        } catch {
            throw fail(error)
        }
        if let stopped {
            _ = fail(RecorderError.packInterrupted(signal: Recorder.signalName(stopped), path: path))
            throw RecorderError.packInterrupted(signal: Recorder.signalName(stopped), path: path)
        }
        do {
            try destination.commit()
        } catch let error as TraceStoreError {
            throw RecorderError.writeFailed(detail: error.description)
        }

        result.fill(counts, distinctBlocks: builder.definitions.count, path: path)
        let (s, attoseconds) = (clock.now - started).components
        result.seconds = result.guestSeconds + Double(s) + Double(attoseconds) / 1e18
        return result
    }

    /// One process's fast form (`record --no-follow`): its stream through one assembler. Leaves `stopped` set
    /// (and the writer open) when `shouldStop` said so.
    private static func packOne(_ reader: TraceReader, builder: TraceBuilder, writer: TraceWriter,
                                facts: RecordingFacts?, metadata: TraceMetadata, result: inout RecordResult,
                                shouldStop: () -> Int32?, stopped: inout Int32?) throws -> TraceAssembler.Counts {
        let arch = metadata.arch
        var assembler = TraceAssembler(builder: builder, writer: writer, arch: arch)
        let parser = PluginStreamParser()
        var ended = false
        var pid: Int32 = 0
        try reader.forEachFastFormSegment { segment in
            if let signal = shouldStop() { stopped = signal; return false }
            ended = try parser.feed(segment) { record in
                if case .process(let process) = record { pid = process.pid }
                return try assembler.handle(record)
            }
            return !ended
        }
        if stopped != nil { return assembler.counts }
        try assembler.finishThreads()
        // The one process (schema 3's processes table), as a tree of one.
        let termination = facts?.termination
        let process = TraceProcess(
            id: 0, pid: pid, parent: nil, origin: .start, program: metadata.program, argv: metadata.argv,
            threads: (0..<UInt32(assembler.counts.threads)).map { $0 },
            exitStatus: termination.flatMap { if case .exited(let code) = $0 { code } else { nil } },
            signal: termination.flatMap { if case .signaled(let number) = $0 { number } else { nil } })
        writer.setProcesses([process])
        result.processes = [process]
        let note = try finish(writer, assembler: assembler, facts: facts, truncatedTail: ended ? 0 : parser.pending,
                              arch: arch)
        result.metadata.note = note.text
        result.metadata.complete = note.complete
        result.metadata.exitStatus = note.exitStatus
        result.metadata.signal = note.signal
        return assembler.counts
    }

    /// A process tree's fast form: its streams, in the order stored, through a `ProcessTree` (as `record`
    /// through pipes assembles them live), ended as the recording saw the tree end.
    private static func packTree(_ reader: TraceReader, builder: TraceBuilder, writer: TraceWriter,
                                 facts: RecordingFacts?, metadata: TraceMetadata, result: inout RecordResult,
                                 shouldStop: () -> Int32?, stopped: inout Int32?) throws -> TraceAssembler.Counts {
        let tree = ProcessTree(firstStream: nil, listener: nil, builder: builder, writer: writer, arch: metadata.arch,
                               program: facts?.rootProgram, argv: facts?.rootArgv,
                               maxProcesses: facts?.processLimit ?? Int.max)
        if facts?.processLimit != nil { tree.markStoppedAtLimit() }
        try reader.forEachFastFormPiece { stream, bytes in
            if let signal = shouldStop() { stopped = signal; return false }
            if let bytes { try tree.feed(stream: stream, bytes) } else { try tree.endInput(stream: stream) }
            return true
        }
        if stopped != nil { return tree.counts }
        try tree.finishInput()
        result.processes = tree.processes
        guard let facts, let rootPID = facts.rootPID else {
            writer.setProcesses(tree.processes)
            let note = "the recorder stopped before the guest ended (packed from what it had stored)"
            writer.abandon(note: note)
            result.metadata.note = note
            result.metadata.complete = false
            return tree.counts
        }
        let decided = try tree.conclude(rootPID: rootPID, termination: facts.termination,
                                        interruption: facts.interruptedBy, maxInstructions: facts.maxInstructions,
                                        processLimit: facts.processLimit)
        // (The recording keeps a fast form only when something was recorded.)
        if case .interruptedBeforeRecording(let signal) = decided {
            let note = "interrupted by \(Recorder.signalName(signal))"
            writer.abandon(note: note + "; the guest was stopped")
            result.metadata.note = note
        }
        decided.apply(to: &result.metadata)
        result.processes = tree.processes
        return tree.counts
    }

    /// How the trace ends, as written into its metadata.
    private struct Ending {
        var text: String
        var complete: Bool
        var exitStatus: Int32?
        var signal: Int32?
    }

    /// Finishes (complete) or abandons (incomplete) the trace from how the run ended (docs/recorder.md,
    /// "How the guest ends").
    private static func finish(_ writer: TraceWriter, assembler: TraceAssembler, facts: RecordingFacts?,
                               truncatedTail: Int, arch: GuestArch) throws -> Ending {
        guard let facts else {
            let note = "the recorder stopped before the guest ended (packed from what it had stored)"
            writer.abandon(note: note)
            return Ending(text: note, complete: false)
        }
        let decided = RecordingEnd.decide(RecordingEnd.Facts(
            interruption: facts.interruptedBy, blocks: max(1, assembler.counts.blocks), end: assembler.end,
            maxInstructions: facts.maxInstructions,
            endedInExecve: assembler.end == nil && assembler.lastSyscall.map { Recorder.isExecve($0, arch: arch) } == true,
            termination: facts.termination, truncatedTail: max(facts.truncatedTail, truncatedTail), processLimit: nil))
        // (blocks is at least 1: the recording keeps a fast form only when something was recorded.)
        switch decided {
        case .interruptedBeforeRecording(let signal):
            let note = "interrupted by \(Recorder.signalName(signal))"
            writer.abandon(note: note + "; the guest was stopped")
            return Ending(text: note, complete: false)
        case .incomplete(let note):
            writer.abandon(note: facts.interruptedBy == nil ? note : note + "; the guest was stopped")
            return Ending(text: note, complete: false)
        case .complete(let exitStatus, let signal, let note):
            try writer.finish(exitStatus: exitStatus, signal: signal, note: note)
            return Ending(text: note, complete: true, exitStatus: exitStatus, signal: signal)
        }
    }
}
