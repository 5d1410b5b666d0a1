import ArgumentParser
import Foundation
import Recorder
import TraceModel
import TraceStore

/// `plexlab record -- PROGRAM ARGS`: runs a program under qemu-user with the PlexLab plugin.
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run a program under qemu-user and record its executed blocks, code pages and faults.",
        discussion: """
        PROGRAM is an x86-64 or i386 ELF executable or a #! script (run as the kernel would: its interpreter,
        the optional argument, the script), a path or a name found on PATH. Every process it starts (fork,
        execve, scripts) is recorded as a process of the trace; --no-follow records only the first, and
        --max-processes N kills a tree that goes beyond N processes (default 512). The trace goes to
        Traces/<name or program>.plextrace unless --out says otherwise. The guest's exit status and fatal
        signal are stored in the trace; Ctrl-C stops the guest and leaves a readable trace marked incomplete.
        The recording is made in two steps: while the guest runs, each process's stream goes through a
        shared-memory ring of its own and is only stored (the trace's fast form, at OUT.partial, then OUT);
        when the guest has exited it is packed (blocks decoded, densely coded) in place. --no-pack stops after
        the fast form; `plexlab pack OUT` packs it later, and a stopped pack leaves the fast form whole.
        --force replaces only a trace file, and a failed recording leaves the old file as it was.

        Examples:
          plexlab record -- /usr/bin/python3 -c 'print(42)'
          plexlab record --name gzip-random --max-insns 50000000 -- gzip -c data.bin
          plexlab record --out /tmp/t.plextrace --force --data-pages -- ./a.out
          plexlab record --skip-insns 1000000 --max-insns 1000000 -- sqlite3 db.sqlite 'select 1'
          plexlab record --workload micro-jit-64 --manifest Traces/manifest.json
          plexlab record --codec raw -- ./a.out      (larger file, fastest to replay)
          plexlab record -- make -C src              (make, the shells, cc1, as, ld: one trace)
          plexlab record --no-follow -- ./run.sh     (the script's interpreter only)
          plexlab record --no-pack --out t.plextrace -- make -C src && plexlab pack t.plextrace

        Whole-system traces (--system): boots a Linux guest (Debian's kernel and a busybox-static initramfs)
        under qemu-system-x86_64 10.x with one vCPU and records kernel and user code, interrupts, exceptions,
        syscalls and page-table stores while the guest's init runs COMMAND (docs/recorder.md, "System traces").
          plexlab record --system -- /bin/plexlab-forkwait 100
          plexlab record --system --workload sys-forkwait
          plexlab record --system --window boot --out boot.plextrace -- /bin/true
        """)

    @Option(name: .long, help: "Trace file to write (default: Traces/<name or program>.plextrace).")
    var out: String?

    @Flag(name: .long, help: "Replace an existing trace file.")
    var force = false

    @Option(name: .long, help: "Name for the default output file.")
    var name: String?

    @Option(name: .customLong("max-insns"), help: "Stop after N recorded instructions and end the guest.")
    var maxInsns: UInt64?

    @Option(name: .customLong("skip-insns"), help: "Run N instructions before recording starts.")
    var skipInsns: UInt64?

    @Flag(name: .customLong("no-follow"), help: "Record only the first process (forks and execve'd programs run unrecorded).")
    var noFollow = false

    @Option(name: .customLong("max-processes"), help: "Kill the process tree when it goes beyond N processes (default \(RecordOptions.defaultMaxProcesses)).")
    var maxProcesses: Int?

    @Flag(name: .customLong("data-pages"), help: "Also record data reads and writes per page (slower).")
    var dataPages = false

    @Option(help: "How the trace stores block ids (docs/trace-format.md).")
    var codec: BlockStreamCodec?

    @Flag(name: .customLong("no-pack"),
          help: "Stop after the fast form (the streams as recorded); `plexlab pack OUT` packs it later.")
    var noPack = false

    @Flag(name: .long, help: "Record a whole Linux guest, kernel and user, under qemu-system-x86_64 (COMMAND runs in the guest).")
    var system = false

    @Option(name: .long, help: "With --system: the guest kernel (default: the newest /boot/vmlinuz-*).")
    var kernel: String?

    @Option(name: .long, help: "With --system: an initramfs to boot instead of the default guest image.")
    var initrd: String?

    @Option(name: .long, help: "With --system: guest memory in MiB (default \(SystemRecordOptions.defaultMemoryMB)).")
    var memory: Int?

    @Option(name: .long, help: "With --system: what the trace holds: command (the default) or boot.")
    var window: SystemWindow?

    // The same boot without the plugin, for scripts/bench-record-system.sh.
    @Flag(name: .customLong("no-record"), help: .hidden)
    var noRecord = false

    @Option(help: "Record a named corpus workload (its inputs, bounds and options) instead of a command.")
    var workload: String?

    @Option(help: "With --workload: add or replace its entry in this corpus manifest.")
    var manifest: String?

    @Flag(name: .customLong("list-workloads"), help: "Print the corpus workload names and exit.")
    var listWorkloads = false

    // Small chunks make a long recording commit often (the kill -9 and Ctrl-C tests of ReliabilityTests).
    @Option(name: .long, help: .hidden)
    var chunkBlocks: Int?

    @Argument(parsing: .captureForPassthrough, help: "The program and its arguments (after --).")
    var command: [String] = []

    mutating func validate() throws {
        command = try ProgramWords.split(command, of: self)
        if system { return try validateSystem() }
        if kernel != nil || initrd != nil || memory != nil || window != nil {
            throw ValidationError("--kernel, --initrd, --memory and --window need --system")
        }
        if workload != nil || listWorkloads { return try validateWorkload() }
        guard !command.isEmpty else { throw ValidationError("give the program to record after --") }
        if let name, name.isEmpty || name.contains("/") { throw ValidationError("--name must be a plain file name") }
        try validateBounds()
    }

    /// `--max-insns 0` would record nothing (the plugin treats 0 as "no limit"): refused, as is a chunk of 0.
    func validateBounds() throws {
        if maxInsns == 0 { throw ValidationError("--max-insns must be at least 1 (leave it out to record the whole run)") }
        if let chunkBlocks, chunkBlocks < 1 { throw ValidationError("--chunk-blocks must be positive") }
        if let maxProcesses, maxProcesses < 1 { throw ValidationError("--max-processes must be at least 1") }
    }

    func run() throws {
        if system { return try runSystem() }
        if listWorkloads || workload != nil { return try runWorkload() }
        let program = command[0]
        let output = out ?? Recorder.defaultOutput(program: program, name: name)
        if out == nil { try? FileManager.default.createDirectory(atPath: "Traces", withIntermediateDirectories: true) }
        var options = RecordOptions(output: output, overwrite: force, maxInstructions: maxInsns,
                                    skipInstructions: skipInsns, dataPages: dataPages, blockCodec: codec ?? .writerDefault,
                                    pack: !noPack)
        if let chunkBlocks { options.chunkBlocks = max(1, chunkBlocks) }
        options.followProcesses = !noFollow
        if let maxProcesses { options.maxProcesses = maxProcesses }
        let live = StandardError.isTerminal
        let progress: ((RecordProgress) -> Void)? = live ? { Self.drawProgress($0) } : nil
        let result = try Self.interruptible {
            try Recorder.record(program: program, arguments: Array(command.dropFirst()), options: options,
                                progress: progress)
        }
        if live { StandardError.write("\r\u{1B}[K") }
        // On stderr: stdout belongs to the guest (`plexlab record -- gzip -c f > f.gz`).
        StandardError.write(Self.summary(result) + "\n")
        if result.interruptedBy != nil { throw ExitCode(130) }
    }

    /// Ctrl-C before anything was recorded is no error: one line saying the old file stays, exit 130.
    static func interruptible(_ record: () throws -> RecordResult) throws -> RecordResult {
        do {
            return try record()
        } catch let error as RecorderError {
            switch error {
            case .interruptedBeforeRecording, .packInterrupted: break
            default: throw error
            }
            if StandardError.isTerminal { StandardError.write("\r\u{1B}[K") }
            StandardError.write("plexlab: \(Escape.terminal(error.description))\n")
            throw ExitCode(130)
        }
    }

    static func drawProgress(_ progress: RecordProgress) {
        if progress.eventWords > 0 {
            // The fast form: nothing is decoded while the guest runs (RUN words stand for many blocks each).
            StandardError.write("\r\u{1B}[Krecording: \(NumberFormat.count(progress.eventWords)) event words, "
                                + "\(NumberFormat.bytes(progress.bytesWritten)) from the plugin, "
                                + "\(String(format: "%.1f", progress.seconds)) s")
            return
        }
        let rate = progress.seconds > 0 ? Double(progress.instructions) / progress.seconds : 0
        StandardError.write("\r\u{1B}[Krecording: \(NumberFormat.count(progress.instructions)) instructions, "
                            + "\(NumberFormat.count(progress.blocks)) blocks, \(NumberFormat.bytes(progress.bytesWritten)) written, "
                            + "\(NumberFormat.count(UInt64(rate))) instructions/s")
    }

    static func summary(_ result: RecordResult) -> String {
        guard result.packed else {
            return """
            \(Escape.terminal(result.path)): fast form (not packed), \(NumberFormat.bytes(result.pluginBytes)) from the plugin \
            stored in \(NumberFormat.bytes(result.fileBytes)), \(result.translations) translations; guest \(result.termination.description) \
            after \(String(format: "%.2f", result.guestSeconds)) s
            plexlab pack \(Escape.terminal(result.path)) makes it replayable
            """
        }
        let ending: String
        if let signal = result.interruptedBy {
            ending = "interrupted by signal \(signal): trace incomplete"
        } else if !result.metadata.complete {
            ending = "trace incomplete (\(Escape.terminal(result.metadata.note)))"
        } else if !result.metadata.note.isEmpty {
            ending = result.metadata.note
        } else {
            ending = "guest \(result.termination.description)"
        }
        let perBlock = result.blocks > 0 ? Double(result.fileBytes * 8) / Double(result.blocks) : 0
        return """
        \(Escape.terminal(result.path)): \(result.blocks) blocks executed (\(result.instructions) instructions), \
        \(result.distinctBlocks) distinct blocks, \(result.pageCaptures) code page captures, \
        \(result.codeWrites) code writes, \(result.syscalls) syscalls, \(result.threads) thread\(result.threads == 1 ? "" : "s")\
        \(result.processes.count > 1 ? " in \(result.processes.count) processes" : "")
        \(ending); \(NumberFormat.bytes(result.fileBytes)) (\(String(format: "%.2f", perBlock)) bits per block, whole file) \
        in \(String(format: "%.2f", result.seconds)) s\
        \(result.guestSeconds > 0 ? String(format: " (guest run %.2f s, pack %.2f s)", result.guestSeconds, max(0, result.seconds - result.guestSeconds)) : "")
        """
    }
}
