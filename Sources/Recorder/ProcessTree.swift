#if canImport(Glibc)
import Glibc
#endif
import TraceBuilder
import TraceModel
import TraceStore

/// The streams of a recorded process tree (docs/recorder.md, "Process trees"): one per process image (the
/// first process's, then one per forked child or exec'd program), each turned into its own process of the
/// trace by its own `TraceAssembler`. Live, it reads them from the first process's pipe and the socket's
/// connections; in a pack, it is fed the segments of a tree's fast form (`feed`, `endInput`). They share one `TraceBuilder` (each process is an address space of
/// it) and one `TraceWriter`. A forked child's stream is read only once its parent's stream reached the
/// FORK record it comes from: the child starts from a copy of the parent's translations and pages there.
final class ProcessTree {
    struct ForkKey: Hashable {
        var pid: Int32
        var serial: UInt32
    }

    /// A parent's state at a FORK record, waiting for the child's stream.
    private struct PendingFork {
        var parent: Int
        var assembler: TraceAssembler
        var space: Int
        var point: TraceProcess.ForkPoint
    }

    /// One connection: a process's stream (or, before its PROCESS record, a stream not yet placed).
    private final class Stream {
        let fd: Int32
        var buffer: UnsafeMutableRawPointer
        var capacity = 1 << 20
        var filled = 0
        var process: Int?
        var hello: PluginRecord.Hello?
        /// A forked child's PROCESS record whose FORK has not been read yet.
        var parked: PluginRecord.Process?
        var ended = false
        var sawExec = false
        var exitStatus: Int32?
        var truncatedTail = 0
        /// A pack's stream whose end was read while it was parked.
        var inputEnded = false
        /// Why the exec the process is about to make runs unrecorded (forgotten when its stream goes on).
        var unfollowed: String?
        /// A process of the other architecture: placed, but its code is not recorded.
        var foreign = false

        init(fd: Int32) {
            self.fd = fd
            buffer = .allocate(byteCount: capacity, alignment: 16)
        }

        deinit {
            buffer.deallocate()
            if fd >= 0 { close(fd) }
        }

        /// Room for `count` more bytes.
        func reserve(_ count: Int) {
            guard filled + count > capacity else { return }
            while filled + count > capacity { capacity *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            grown.copyMemory(from: buffer, byteCount: filled)
            buffer.deallocate()
            buffer = grown
        }
    }

    let builder: TraceBuilder
    let writer: TraceWriter
    let arch: GuestArch
    /// The recorded program and its arguments (the first process's); nil: as QEMU's command line has them.
    let program: String?
    let argv: [String]?
    /// Processes beyond this are killed with the rest of the tree (`--max-processes`).
    let maxProcesses: Int
    private let numbering = ThreadNumbering()
    private let listener: Int32?

    private(set) var processes: [TraceProcess] = []
    private var assemblers: [TraceAssembler] = []
    private var spaces: [Int] = []
    /// Per process: bytes of a partial record its stream ended with.
    private var truncatedTails: [Int] = []
    private var nextSpace = 0
    private var streams: [Stream] = []
    private var pendingForks: [ForkKey: PendingFork] = [:]
    /// The process image each live pid runs now.
    private var imageOfPID: [Int32: Int] = [:]
    /// Set once the tree went beyond `maxProcesses`: every process is being killed.
    private(set) var stoppedAtLimit = false
    /// Reading live streams (processes can be killed); false in a pack.
    private let live: Bool
    /// A pack's streams by their number in the fast form.
    private var fedStreams: [Int: Stream] = [:]
    /// A pack of a tree the recorder killed at the limit (`markStoppedAtLimit`).
    private var limitReachedWhenFull = false
    private(set) var bytesRead: UInt64 = 0
    /// HELLO of the first stream.
    private(set) var hello: PluginRecord.Hello?
    /// Wait statuses the guests' own wait calls returned, per reaped pid in order (ProcessEnds).
    private var reaped: [Int32: [Int32]] = [:]
    /// Processes placed whose code is not recorded, with why.
    private var unrecorded: [Int: String] = [:]

    /// `firstStream` is the pipe of the process the recorder started; `listener` the socket others connect to.
    /// Without them (a pack) the streams come through `feed`.
    init(firstStream: Int32?, listener: Int32?, builder: TraceBuilder, writer: TraceWriter, arch: GuestArch,
         program: String?, argv: [String]?, maxProcesses: Int) {
        self.builder = builder
        self.writer = writer
        self.arch = arch
        self.program = program
        self.argv = argv
        self.maxProcesses = maxProcesses
        self.listener = listener
        live = firstStream != nil
        streams = firstStream.map { [Stream(fd: dup($0))] } ?? []
    }

    /// A pack: the next bytes of stream `number` (of a tree's fast form).
    func feed(stream number: Int, _ bytes: UnsafeRawBufferPointer) throws {
        let stream: Stream
        if let known = fedStreams[number] {
            stream = known
        } else {
            stream = Stream(fd: -1)
            fedStreams[number] = stream
            streams.append(stream)
        }
        guard !stream.ended, !bytes.isEmpty else { return }
        stream.reserve(bytes.count)
        (stream.buffer + stream.filled).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        stream.filled += bytes.count
        bytesRead += UInt64(bytes.count)
        if stream.parked == nil { try parse(stream) }
    }

    /// A pack: stream `number` ended (its process image was gone and everything it sent was stored).
    func endInput(stream number: Int) throws {
        guard let stream = fedStreams.removeValue(forKey: number) else { return }
        stream.inputEnded = true
        if stream.parked == nil { try endAtInputEnd(stream) }
    }

    /// A pack: every stream is read; those that did not end (the recorder was killed) end here.
    func finishInput() throws {
        if limitReachedWhenFull { stoppedAtLimit = true }
        for stream in streams { try endAtInputEnd(stream) }
        streams.removeAll()
        fedStreams.removeAll()
        settleEnds()
    }

    /// A pack: the recording stopped the tree at --max-processes (the recorder killed it once it had
    /// `maxProcesses` processes): from there on, as live, a process that ends without its END was killed.
    func markStoppedAtLimit() { limitReachedWhenFull = true }

    private func endAtInputEnd(_ stream: Stream) throws {
        if !stream.ended {
            stream.truncatedTail = stream.filled
            try end(stream)
        }
        streams.removeAll { $0 === stream }
    }

    /// Figures of every process so far.
    var counts: TraceAssembler.Counts {
        var total = TraceAssembler.Counts()
        for a in assemblers {
            let c = a.counts
            total.blocks += c.blocks
            total.instructions += c.instructions
            total.codeWrites += c.codeWrites
            total.syscalls += c.syscalls
            total.dataTouches += c.dataTouches
            total.translations += c.translations
            total.pageCaptures += c.pageCaptures
            total.threads += c.threads
        }
        return total
    }

    static let unknownSignal = "died of a signal (which one the recorder cannot see)"

    /// How the last image of process `pid` (the recorded program's pid) ended its stream: its END record,
    /// its last system call, the bytes of a partial record at its end; nil if no stream of it was read.
    func finalImage(of pid: Int32) -> (end: PluginRecord.End?, lastSyscall: Int64?, truncatedTail: Int)? {
        guard let id = processes.lastIndex(where: { $0.pid == pid }) else { return nil }
        return (assemblers[id].end, assemblers[id].lastSyscall, truncatedTails[id])
    }

    /// Reads every stream until `rootExited()` says the recorded program ended and no stream is open.
    /// `tick` runs after each batch of records (progress). Throws on a malformed stream.
    func run(rootExited: () -> Bool, tick: () -> Void) throws {
        var fds: [pollfd] = []
        while true {
            fds.removeAll(keepingCapacity: true)
            var readers: [Stream] = []
            for stream in streams where !stream.ended && stream.parked == nil {
                fds.append(pollfd(fd: stream.fd, events: Int16(POLLIN), revents: 0))
                readers.append(stream)
            }
            // A parked stream waits for a FORK record of a stream still read; with none left, none comes.
            if readers.isEmpty && rootExited() {
                // A program exec'd by an orphan may still connect: one last look at the socket.
                if let listener, accept(listener) { continue }
                break
            }
            if let listener { fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), readers.isEmpty ? 20 : 250)
            if ready < 0 {
                if errno == EINTR { continue }
                throw RecorderError.protocolError(detail: "poll failed (errno \(errno))")
            }
            if let listener, fds.last!.revents != 0 { _ = accept(listener) }
            for (i, stream) in readers.enumerated() where fds[i].revents != 0 {
                try read(stream)
            }
            streams.removeAll { $0.ended }
            tick()
        }
        for stream in streams { try end(stream) }
        streams.removeAll()
        settleEnds()
    }

    /// Every stream read: each process gets the status its guest parent's wait saw (ProcessEnds), and the
    /// processes whose code was not recorded say why.
    private func settleEnds() {
        processes = ProcessEnds.apply(reaped: reaped, to: processes)
        for (id, reason) in unrecorded {
            processes[id].note = processes[id].note.isEmpty ? reason : reason + "; " + processes[id].note
        }
    }

    /// Accepts waiting connections; true if there was one.
    private func accept(_ listener: Int32) -> Bool {
        var any = false
        while true {
            // The listener is non-blocking (ProcessSocket); accepted sockets are blocking on Linux.
            let fd = Glibc.accept(listener, nil, nil)
            if fd < 0 { return any }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            streams.append(Stream(fd: fd))
            any = true
        }
    }

    /// Reads what `stream` has and handles its complete records.
    private func read(_ stream: Stream) throws {
        // A record larger than the buffer: grow (the protocol caps records at PluginWire.maxPayload).
        if stream.filled == stream.capacity { stream.reserve(1) }
        let n = Glibc.read(stream.fd, stream.buffer + stream.filled, stream.capacity - stream.filled)
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { return }
            if errno == ECONNRESET { return try end(stream) }
            throw RecorderError.protocolError(detail: "reading a plugin stream failed (errno \(errno))")
        }
        if n == 0 {
            stream.truncatedTail = stream.filled
            return try end(stream)
        }
        stream.filled += n
        bytesRead += UInt64(n)
        try parse(stream)
    }

    /// Handles the complete records in `stream`'s buffer (until one parks it or ends it).
    private func parse(_ stream: Stream) throws {
        let (consumed, _) = try PluginProtocol.parse(UnsafeRawBufferPointer(start: stream.buffer, count: stream.filled)) {
            try handle($0, from: stream)
        }
        if consumed > 0 {
            memmove(stream.buffer, stream.buffer + consumed, stream.filled - consumed)
            stream.filled -= consumed
        }
    }

    /// Returns false to stop parsing `stream` (parked, or ended).
    private func handle(_ record: PluginRecord, from stream: Stream) throws -> Bool {
        if stream.ended { return false }
        guard let id = stream.process else {
            switch record {
            case .hello(let hello):
                try TraceAssembler.check(hello)
                stream.hello = hello
                if self.hello == nil { self.hello = hello }
                return true
            case .process(let process):
                return try place(stream, process)
            default:
                throw RecorderError.protocolError(detail: "a plugin stream does not start with HELLO and PROCESS")
            }
        }
        switch record {
        case .fork(let serial, let thread):
            builder.useSpace(spaces[id])
            let point = try assemblers[id].position(of: thread)
            let space = nextSpace
            nextSpace += 1
            builder.copySpace(from: spaces[id], to: space)
            let key = ForkKey(pid: processes[id].pid, serial: serial)
            pendingForks[key] = PendingFork(parent: id, assembler: assemblers[id].forkedChild(), space: space, point: point)
            for child in streams where child.parked?.parentPID == key.pid && child.parked?.forkSerial == serial {
                let process = child.parked!
                child.parked = nil
                if try place(child, process) { try parse(child) }
                if child.inputEnded { try endAtInputEnd(child) }
            }
        case .exec:
            stream.sawExec = true
        case .exit(let status):
            stream.exitStatus = status
        case .reaped(let pid, let status):
            reaped[pid, default: []].append(status)
        case .execUnfollowed(let reason):
            stream.unfollowed = reason
        case .hello, .process:
            throw RecorderError.protocolError(detail: "a second HELLO or PROCESS record in one stream")
        default:
            if stream.foreign {
                // Nothing of its code is recorded; the plugin sends no translations, only how it ends.
                if case .end(let last) = record { _ = try assemblers[id].handle(.end(last)); try self.end(stream); return false }
                return true
            }
            if stream.unfollowed != nil, case .events = record { stream.unfollowed = nil } // the exec failed
            builder.useSpace(spaces[id])
            if try !assemblers[id].handle(record) { try end(stream); return false }
        }
        return true
    }

    /// Makes `stream` the stream of a new process; false when it must wait (a fork whose FORK was not read
    /// yet) or was refused (beyond --max-processes).
    private func place(_ stream: Stream, _ process: PluginRecord.Process) throws -> Bool {
        if stoppedAtLimit || processes.count >= maxProcesses {
            stopAtLimit(refusing: stream, pid: process.pid)
            return false
        }
        let id = processes.count
        var parent: Int?
        var assembler: TraceAssembler
        var space = nextSpace
        var forkPoint: TraceProcess.ForkPoint?
        var programPath = "", arguments: [String] = []
        switch process.origin {
        case .start:
            (programPath, arguments) = Self.guestCommand(process.commandLine)
            if let program, let argv { (programPath, arguments) = (program, argv) }
            assembler = TraceAssembler(builder: builder, writer: writer, arch: arch, numbering: numbering)
            nextSpace += 1
        case .exec:
            parent = imageOfPID[process.pid]
            (programPath, arguments) = Self.guestCommand(process.commandLine)
            assembler = TraceAssembler(builder: builder, writer: writer, arch: arch, numbering: numbering)
            nextSpace += 1
        case .fork:
            guard let pending = pendingForks.removeValue(forKey: ForkKey(pid: process.parentPID, serial: process.forkSerial)) else {
                stream.parked = process
                return false
            }
            parent = pending.parent
            programPath = processes[pending.parent].program
            arguments = processes[pending.parent].argv
            assembler = pending.assembler
            space = pending.space
            forkPoint = pending.point
            guard assembler.translationCount == Int(process.nextTB) else {
                throw RecorderError.protocolError(detail: "forked process \(process.pid) continues at translation "
                                                  + "\(process.nextTB), its parent defined \(assembler.translationCount)")
            }
        }
        try assembler.belong(to: id)
        // The stream's own HELLO (its data-page encoding: a forked child's assembler has none yet).
        if let hello = stream.hello { _ = try assembler.handle(.hello(hello)) }
        processes.append(TraceProcess(id: id, pid: process.pid, parent: parent, origin: process.origin,
                                      program: programPath, argv: arguments, forkPoint: forkPoint))
        if let target = stream.hello?.target, let traced = hello?.target, target != traced {
            // One decoder per trace: a program of the other architecture (and what it forks) is a process
            // of the tree whose code is not recorded (docs/recorder.md, "Process trees").
            stream.foreign = true
            unrecorded[id] = "not recorded: \(target) code in an \(traced) trace"
        }
        assemblers.append(assembler)
        spaces.append(space)
        truncatedTails.append(0)
        imageOfPID[process.pid] = id
        stream.process = id
        if limitReachedWhenFull && processes.count >= maxProcesses { stoppedAtLimit = true }
        return true
    }

    /// The tree went beyond --max-processes: kill every recorded process (and the one that asked).
    private func stopAtLimit(refusing stream: Stream, pid: Int32) {
        stream.ended = true
        if !stoppedAtLimit {
            stoppedAtLimit = true
            killAll()
        }
        if live { _ = kill(pid, SIGKILL) }
    }

    /// The end of `stream`: its process's last held blocks and how it ended.
    private func end(_ stream: Stream) throws {
        guard !stream.ended else { return }
        stream.ended = true
        guard let id = stream.process else { return }
        builder.useSpace(spaces[id])
        try assemblers[id].finishThreads()
        truncatedTails[id] = stream.truncatedTail
        processes[id].threads = assemblers[id].traceThreads.values.sorted()
        // The process is over: its threads' streams are complete, and their buffers and coders can go
        // (a make's hundreds of processes cost memory for the live ones only).
        for thread in processes[id].threads { try writer.endThread(thread) }
        if let end = assemblers[id].end {
            if end.stoppedAtMaxInstructions {
                processes[id].note = "stopped after --max-insns"
            } else if let status = stream.exitStatus {
                processes[id].exitStatus = status
            } else {
                processes[id].note = "ended (status not seen)"
            }
        } else if stream.sawExec {
            processes[id].note = "called execve"
        } else if let reason = stream.unfollowed {
            processes[id].note = ProcessEnds.unfollowedExec + reason
        } else if stoppedAtLimit {
            processes[id].note = "killed at --max-processes \(maxProcesses)"
        } else if stream.truncatedTail == 0 {
            processes[id].note = Self.unknownSignal
        } else {
            processes[id].note = "ended without the plugin's end record"
        }
    }

    /// The recorded program's last image gets how the process the recorder waited for ended.
    func applyRootTermination(_ termination: Termination, rootPID: Int32) {
        guard let id = processes.lastIndex(where: { $0.pid == rootPID }), processes[id].note != "called execve" else { return }
        switch termination {
        case .exited(let code): ProcessEnds.settle(&processes[id], exitStatus: code, signal: nil)
        case .signaled(let signal): ProcessEnds.settle(&processes[id], exitStatus: nil, signal: signal)
        }
    }

    /// Kills every process recorded so far (after an error).
    func killAll() {
        guard live else { return }
        for process in processes { _ = kill(process.pid, SIGKILL) }
    }

    /// The guest program and argv in QEMU's command line `qemu -plugin SPEC [-0 ARGV0] PROGRAM ARGS`.
    static func guestCommand(_ commandLine: [String]) -> (program: String, argv: [String]) {
        var i = 1
        var argv0: String?
        while i < commandLine.count, commandLine[i].hasPrefix("-") {
            if commandLine[i] == "-0", i + 1 < commandLine.count { argv0 = commandLine[i + 1] }
            i += 2
        }
        guard i < commandLine.count else { return (commandLine.last ?? "", []) }
        let program = commandLine[i]
        return (program, [argv0 ?? program] + commandLine[(i + 1)...])
    }
}
