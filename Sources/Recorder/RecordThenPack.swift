#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TraceModel
import TraceStore

extension Recorder {
    /// A recording made in two steps (docs/recorder.md, "Record, then pack"): while the guest runs, each
    /// process's plugin writes its stream into a shared-memory ring of its own (the first process's made here,
    /// a forked child's or exec'd program's made by its plugin and handed over the process socket), and the
    /// rings go into the trace's fast form; the pack decodes it when the guest has exited (unless
    /// `options.pack` is off). `record` has started `signals` and resolved `launch` for it.
    static func recordThenPack(launch: Launch, options: RecordOptions, signals: SignalWatcher,
                               progress: ((RecordProgress) -> Void)?) throws -> RecordResult {
        let (guest, guestArgv, isScript, qemu, plugin) = (launch.guest, launch.guestArgv, launch.isScript, launch.qemu,
                                                          launch.plugin)
        let (destination, output) = (launch.destination, options.output)
        let partial = destination.partialPath

        var pluginArguments = options.pluginArguments
        let socket: ProcessSocket?
        do {
            socket = options.followProcesses ? try ProcessSocket() : nil
        } catch {
            destination.discard()
            throw error
        }
        if let socket {
            // rings=on: each forked child and exec'd program hands the recorder a ring of its own.
            pluginArguments += launch.followArguments(socket: socket, environment: options.environment) + ["rings=on"]
        }

        let process: QEMUProcess
        do {
            process = try QEMUProcess(qemu: qemu, plugin: plugin, pluginArguments: pluginArguments,
                                      program: guest.path, argv0: isScript ? guestArgv[0] : nil,
                                      arguments: Array(guestArgv.dropFirst()),
                                      workingDirectory: options.workingDirectory, ring: true)
        } catch {
            destination.discard()
            throw error
        }
        signals.setChild(process.pid)
        let clock = ContinuousClock()
        let started = clock.now

        // While the guest runs, the plugin's stream goes into the fast form as it comes; blocks are decoded
        // and densely coded by the pack, after the guest has exited (docs/recorder.md, "Record, then pack").
        // QEMU starts first: `qemu --version` and creating the file (~35 ms) overlap the guest's start, whose
        // stream waits in its ring meanwhile.
        let metadata = launch.metadata
        let fastForm: FastFormWriter
        do {
            fastForm = try FastFormWriter(path: partial, metadata: metadata, tree: options.followProcesses)
        } catch let error as TraceStoreError {
            process.kill(SIGKILL)
            _ = process.wait()
            signals.setChild(0)
            destination.discard()
            throw RecorderError.outputUnwritable(path: output, detail: describe(error))
        }
        func discard() {
            fastForm.abandon()
            destination.discard()
        }
        var lastReport = started
        let spool = StreamSpool(ring: process.ring!, pipe: process.pipe, pid: process.pid, writer: fastForm,
                                listener: socket?.fd, maxProcesses: options.followProcesses ? options.maxProcesses : 1)
        var failure: Error?
        var ended: Termination?
        do {
            try spool.run(rootExited: {
                if ended == nil {
                    ended = ChildProcess.poll(process.pid)
                    // Ctrl-C or SIGTERM stopped the recorded program: its descendants go with it.
                    if ended != nil, signals.interruption != nil { spool.killAll() }
                }
                return ended != nil
            }, tick: { eventWords, bytes in
                guard let progress else { return }
                let now = clock.now
                if now - lastReport >= .milliseconds(250) {
                    lastReport = now
                    progress(RecordProgress(instructions: 0, blocks: 0, bytesWritten: bytes,
                                            seconds: seconds(now - started), eventWords: eventWords))
                }
            })
        } catch {
            failure = error
            process.kill(SIGKILL)
            spool.killAll()
        }
        let termination = ended ?? process.wait()
        signals.setChild(0)
        let guestSeconds = seconds(clock.now - started)
        let scan = spool.scan

        // A failed run keeps the file that was at `output`: the partial trace is removed.
        if let failure {
            discard()
            if let error = failure as? TraceStoreError { throw RecorderError.writeFailed(detail: describe(error)) }
            throw failure
        }
        let qemuName = (qemu as NSString).lastPathComponent
        let loaderMessage = process.loaderMessage()
        guard scan.sawHello else {
            discard()
            throw RecorderError.qemuFailedToStart(qemu: qemuName, status: termination.description)
        }
        // No guest code ran at all (QEMU could not load the program, e.g. its ELF interpreter is missing):
        // an error, not a "complete" trace of 0 blocks. With --skip-insns, 0 recorded blocks can be right.
        if spool.eventWords == 0, spool.translations == 0, signals.interruption == nil,
           (options.skipInstructions ?? 0) == 0 {
            discard()
            throw RecorderError.qemuCouldNotRun(qemu: qemuName, program: guest.path, status: termination.description,
                                                message: loaderMessage)
        }
        // Warnings QEMU printed while loading a program that then ran: passed on, not lost.
        if !loaderMessage.isEmpty { StandardError.write(loaderMessage) }
        if let interruption = signals.interruption, spool.eventWords == 0 {
            // Ctrl-C before anything was recorded: the file that was at `output` stays.
            discard()
            throw RecorderError.interruptedBeforeRecording(signal: signalName(interruption), path: output)
        }
        var facts = RecordingFacts(termination: termination, interruptedBy: signals.interruption,
                                   truncatedTail: scan.atBoundary ? 0 : 1, maxInstructions: options.maxInstructions,
                                   pluginBytes: spool.bytesRead, guestSeconds: guestSeconds)
        (facts.rootPID, facts.rootProgram, facts.rootArgv) = (process.pid, guest.path, guestArgv)
        facts.processLimit = spool.stoppedAtLimit ? options.maxProcesses : nil
        do {
            try fastForm.finish(facts: facts.json())
        } catch let error as TraceStoreError {
            discard()
            throw RecorderError.writeFailed(detail: describe(error))
        }
        // The fast form replaces what was at `output`: from here on nothing recorded can be lost.
        try destination.commit()

        guard options.pack else {
            var fastMetadata = metadata
            fastMetadata.note = FastForm.note
            return RecordResult(
                path: output, metadata: fastMetadata, termination: termination, interruptedBy: signals.interruption,
                instructions: 0, blocks: 0, distinctBlocks: 0, codeWrites: 0, syscalls: 0, dataTouches: 0, threads: 0,
                translations: spool.translations, pageCaptures: 0, pluginBytes: spool.bytesRead,
                fileBytes: fileBytes(output), seconds: seconds(clock.now - started), processes: [],
                guestSeconds: guestSeconds, packed: false)
        }
        // A signal during the pack stops it; the fast form stays (the first one may have stopped the guest).
        let signalsBefore = signals.count
        var result = try Packer.pack(path: output, codec: options.blockCodec, chunkBlocks: options.chunkBlocks,
                                     shouldStop: { signals.count > signalsBefore ? signals.lastSignal : nil })
        result.termination = termination
        result.guestSeconds = guestSeconds
        result.seconds = seconds(clock.now - started)
        return result
    }

}
