import TraceBuilder
import TraceModel
import TraceStore
import X86Decode

/// Turns the plugin's records into a trace on a `TraceWriter`, through a `TraceBuilder`.
///
/// QEMU's translation blocks become PlexLab blocks (split at page ends and control transfers, ids in
/// first-execution order, cached per plugin TB id). Two QEMU artefacts are undone so that the block
/// stream counts each executed instruction once:
/// - A rep-prefixed string instruction runs one iteration per TB execution: QEMU jumps back to the
///   instruction after each iteration, so the next TBs start at it again. Executions that continue the
///   rep instruction ending the previous TB are folded into that TB.
/// - Self-modifying code: when a store hits the page of the TB that is executing, QEMU abandons the TB at
///   the store and re-executes from the store in a one-instruction TB. The abandoned TB (followed by a
///   code write on its own page, then a one-instruction TB inside it) is cut at the store; the code write
///   that triggered the restart is dropped, because the re-executed store faults and reports it again.
/// The last executed TB of each thread is held back until the next one shows whether either applies.
/// A value type on purpose: its hot state is checked for exclusive access at compile time, not per access.
struct TraceAssembler {
    /// Figures so far.
    struct Counts {
        var blocks: UInt64 = 0
        var instructions: UInt64 = 0
        var codeWrites: UInt64 = 0
        var syscalls: UInt64 = 0
        var dataTouches: UInt64 = 0
        /// System streams: interrupts, exceptions and page-table stores; of them, page faults (#PF).
        var systemEvents: UInt64 = 0
        var pageFaults: UInt64 = 0
        var translations: UInt64 = 0
        var pageCaptures: UInt64 = 0
        var repIterationsFolded: UInt64 = 0
        var restartsCut: UInt64 = 0
        var pageCrossingInstructionsDropped: UInt64 = 0
        var threads: Int = 0
    }

    private let builder: TraceBuilder
    private let writer: TraceWriter
    private let arch: GuestArch
    private let decoder: X86Decoder
    private(set) var counts = Counts()
    private(set) var hello: PluginRecord.Hello?
    /// The last system call any thread made (execve explains a stream without an end record).
    private(set) var lastSyscall: Int64?
    private(set) var end: PluginRecord.End?

    /// Per plugin TB id (dense), in unmanaged storage so the per-TB path does no reference counting.
    private var tbs = UnsafeTable<TBInfo>()
    /// Decoded blocks of the TBs: `blockIDs[info.blocksStart ..< + info.blocksCount]`.
    private var blockIDs = UnsafeTable<BlockID>()
    private var instructionLengths: [UInt8] = []
    /// Per TB: where its instruction lengths start in `instructionLengths`.
    private var lengthsStarts: [Int] = []
    /// TBs translated on a page, for decoding other threads' not yet reported TBs before a new capture.
    private var tbsByPage: [UInt64: [UInt32]] = [:]
    private var capturedPages: Set<UInt64> = []

    private var threads: [UInt32: ThreadState] = [:]
    /// Blocks on their way to the writer (flushed at the end of each events record and before side events).
    private var batch = BlockBatch()
    /// The trace's thread id of each plugin thread: processes of a tree share one numbering.
    private let numbering: ThreadNumbering
    private(set) var traceThreads: [UInt32: UInt32] = [:]
    /// The process (`TraceProcess.id`) this stream belongs to, and the module mappings of its address space
    /// (a forked child inherits its parent's: the plugin does not send them again).
    private(set) var process = 0
    private var modules: [ModuleMapping] = []

    init(builder: TraceBuilder, writer: TraceWriter, arch: GuestArch, numbering: ThreadNumbering = ThreadNumbering()) {
        self.builder = builder
        self.writer = writer
        self.arch = arch
        self.numbering = numbering
        decoder = X86Decoder(arch: arch)
    }

    /// The trace thread of plugin thread `thread`, numbered on first sight.
    mutating func traceThread(_ thread: UInt32) -> UInt32 {
        if let known = traceThreads[thread] { return known }
        let id = numbering.next()
        traceThreads[thread] = id
        return id
    }

    /// A forked child's assembler: the parent's translations as they are now (the child inherits QEMU's
    /// code cache and goes on numbering TBs after them), no threads, counts from zero.
    func forkedChild() -> TraceAssembler {
        var child = self
        child.tbs = tbs.copy()
        child.blockIDs = blockIDs.copy()
        child.batch = BlockBatch()
        child.threads = [:]
        child.traceThreads = [:]
        child.counts = Counts()
        child.hello = nil
        child.end = nil
        child.lastSyscall = nil
        return child
    }

    /// Makes this the assembler of process `id`; a forked child's inherited mappings are stored as its own.
    mutating func belong(to id: Int) throws {
        process = id
        for index in modules.indices where modules[index].process != id {
            modules[index].process = id
            try writer.addModule(modules[index])
        }
    }

    /// Where plugin thread `thread` is now, counting its held TB (a fork happens in the TB that made the call).
    mutating func position(of thread: UInt32) throws -> TraceProcess.ForkPoint {
        let id = traceThread(thread)
        guard let state = threads[thread] else { return .init(thread: id, eventIndex: 0) }
        var index = state.nextIndex
        if state.hasHeld {
            if let truncated = state.truncated {
                index += UInt64(truncated.count)
            } else {
                if tbs[Int(state.heldTB)].blocksCount == 0 { try decode(state.heldTB) }
                index += UInt64(tbs[Int(state.heldTB)].blocksCount)
            }
        }
        return .init(thread: id, eventIndex: index)
    }

    /// The number of TB ids defined so far.
    var translationCount: Int { tbs.count }

    /// Refuses a plugin of another protocol version.
    static func check(_ hello: PluginRecord.Hello) throws {
        guard (PluginWire.oldestProtocolVersion...PluginWire.protocolVersion).contains(hello.version) else {
            throw RecorderError.protocolError(detail: "plugin speaks protocol \(hello.version), "
                                              + "the recorder \(PluginWire.protocolVersion)")
        }
    }

    /// Handles one record. Returns false after the END record.
    mutating func handle(_ record: PluginRecord) throws -> Bool {
        switch record {
        case .hello(let hello):
            try Self.check(hello)
            self.hello = hello
        case .translation(let tb):
            try addTranslation(tb)
        case .page(let address, let bytes):
            try capture(page: address, bytes: bytes)
        case .events(let thread, let words):
            try events(thread: thread, words: words)
        case .module(var module):
            module.process = process
            modules.append(module)
            try writer.addModule(module)
        case .threadEnd(let thread):
            if var state = threads.removeValue(forKey: thread) { try release(&state) }
            try batch.flush(to: writer)
            // The plugin numbers threads by creation and never reuses a number: the thread's stream is
            // complete, and its buffers and coder can go (memory follows the live threads, not all of them).
            // The writer knows it by its trace thread id (unique across the processes of a tree).
            if let id = traceThreads[thread] { try writer.endThread(id) }
        case .end(let end):
            self.end = end
            try finishThreads()
            return false
        case .process, .fork, .exec, .exit, .reaped, .execUnfollowed:
            break // the process tree's business (ProcessTree)
        }
        return true
    }

    /// Appends every thread's held TB (end of stream).
    mutating func finishThreads() throws {
        for thread in threads.keys.sorted() {
            if var state = threads[thread] { try release(&state) }
        }
        threads.removeAll()
        try batch.flush(to: writer)
    }

    // MARK: - Translations and pages

    private mutating func addTranslation(_ tb: PluginRecord.Translation) throws {
        guard tb.id == UInt32(tbs.count) else {
            throw RecorderError.protocolError(detail: "translation block \(tb.id) out of order (expected \(tbs.count))")
        }
        var count = tb.instructionLengths.count
        var lastOffset = tb.bytes.count - Int(tb.instructionLengths[count - 1])
        // QEMU 7.2 hands plugins a TB's last instruction even when the translator dropped it because it
        // crossed into the next page (the TB really ends before it; the next TB starts there). Its bytes
        // then stop short of a whole instruction.
        if count > 1 {
            let last = UnsafeRawBufferPointer(rebasing: tb.bytes[lastOffset...])
            if decoder.decode(last, at: tb.address &+ UInt64(lastOffset))?.length != last.count {
                count -= 1
                lastOffset -= Int(tb.instructionLengths[count - 1])
                counts.pageCrossingInstructionsDropped += 1
            }
        }
        let lengthsStart = instructionLengths.count
        instructionLengths.append(contentsOf: tb.instructionLengths.prefix(count))
        let length = lastOffset + Int(tb.instructionLengths[count - 1])
        guard count <= Int(UInt16.max), lastOffset <= Int(UInt16.max) else {
            throw RecorderError.protocolError(detail: "translation block \(tb.id) has \(count) instructions")
        }
        tbs.append(TBInfo(
            address: tb.address, length: UInt32(length), singleBlock: TBInfo.noSingleBlock, blocksStart: 0,
            instructions: UInt16(count), lastOffset: UInt16(lastOffset), blocksCount: 0,
            endsWithRepString: Self.isRepString(UnsafeRawBufferPointer(rebasing: tb.bytes[lastOffset..<length]), arch: arch)))
        counts.translations += 1
        if let physical = tb.physicalAddress {
            // A system stream: the TB's virtual pages map to these physical pages now, and it is decoded
            // at once (a later capture of its physical page may replace the bytes it was translated from).
            let pageMask = ~UInt64(CodePage.size - 1)
            builder.map(virtualPage: tb.address & pageMask, toPhysicalPage: physical & pageMask)
            if let next = tb.nextPhysicalPage {
                builder.map(virtualPage: (tb.address & pageMask) &+ UInt64(CodePage.size), toPhysicalPage: next)
            }
            lengthsStarts.append(lengthsStart)
            try decode(tb.id)
            return
        }
        lengthsStarts.append(lengthsStart)
        var page = tb.address & ~UInt64(CodePage.size - 1)
        while page < tb.address &+ UInt64(length) {
            tbsByPage[page, default: []].append(tb.id)
            page &+= UInt64(CodePage.size)
        }
    }

    private mutating func capture(page: UInt64, bytes: UnsafeRawBufferPointer) throws {
        if let tbs = tbsByPage.removeValue(forKey: page), counts.threads > 1, capturedPages.contains(page) {
            // A new version of the page: TBs translated from the old bytes whose executions another thread
            // has not reported yet must be decoded now (the plugin sends the capturing thread's first).
            for tb in tbs where self.tbs[Int(tb)].blocksCount == 0 { try decode(tb) }
        }
        capturedPages.insert(page)
        do {
            try builder.capturePage(address: page, bytes: bytes)
        } catch let error as TraceBuilderError {
            throw RecorderError.protocolError(detail: error.description)
        }
        counts.pageCaptures += 1
    }

    private mutating func decode(_ tb: UInt32) throws {
        let info = tbs[Int(tb)]
        let ids: [BlockID]
        do {
            ids = try builder.blocks(at: info.address, length: Int(info.length), privilege: Self.privilege(of: info.address, in: builder.mode))
        } catch let error as TraceBuilderError {
            throw RecorderError.decodeFailed(detail: "translation block at 0x\(String(info.address, radix: 16)): \(error)")
        }
        guard !ids.isEmpty, ids.count <= Int(UInt16.max) else {
            throw RecorderError.decodeFailed(detail: "translation block at 0x\(String(info.address, radix: 16)) "
                                             + "gave \(ids.count) blocks")
        }
        tbs[Int(tb)].blocksStart = UInt32(blockIDs.count)
        tbs[Int(tb)].blocksCount = UInt16(ids.count)
        tbs[Int(tb)].singleBlock = ids.count == 1 ? ids[0] : TBInfo.noSingleBlock
        for id in ids { blockIDs.append(id) }
    }

    /// The CPL a block at `address` ran at: x86-64 Linux runs kernel code in the upper canonical half and
    /// user code in the lower (docs/recorder.md, "System traces"); user-mode traces are all CPL 3.
    static func privilege(of address: UInt64, in mode: GuestMode) -> UInt8 {
        mode == .system && address >= 0xFFFF_8000_0000_0000 ? 0 : 3
    }

    // MARK: - Events

    private mutating func events(thread: UInt32, words: UnsafeRawBufferPointer) throws {
        // Taken out of the table while its events run, so its arrays stay uniquely referenced.
        var state: ThreadState
        if let existing = threads.removeValue(forKey: thread) {
            state = existing
        } else {
            state = ThreadState(thread: traceThread(thread))
            counts.threads += 1
        }
        defer { threads[thread] = state }
        try consume(words, thread: thread, state: &state)
        try batch.flush(to: writer)
    }

    /// Handles a thread's event words (an EVENTS record's, or the ids a RUN stands for).
    private mutating func consume(_ words: UnsafeRawBufferPointer, thread: UInt32, state: inout ThreadState) throws {
        let count = words.count / 4
        let tbCount = tbs.count
        // Data pages with the touch cache: every TB id may carry its cached touches, so no fast runs.
        let cachedTouches = hello?.dataPages == true && hello?.touchCache == true
        var i = 0
        func word(_ at: Int) throws -> UInt32 {
            guard at < count else { throw RecorderError.protocolError(detail: "truncated side event of thread \(thread)") }
            return words.loadUnaligned(fromByteOffset: at * 4, as: UInt32.self)
        }
        while i < count {
            // The common case: the held TB is one decoded block, ran whole and had no side events, and the
            // next TB does not start at its last instruction (no rep iteration or restart to undo).
            if !cachedTouches, state.heldSingleBlock != TBInfo.noSingleBlock, !state.lastEventWasCodeWrite,
               state.sideEvents == 0 {
                i = try fastRun(words, from: i, count: count, state: &state)
                if i == count { break }
            }
            let w = words.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
            i += 1
            if w < PluginWire.firstMarker {
                guard Int(w) < tbCount else {
                    throw RecorderError.protocolError(detail: "executed translation block \(w) was never translated")
                }
                state.successors.note(w)
                if cachedTouches { try state.startTouches(of: w) }
                try executed(tb: w, by: &state)
                continue
            }
            if w &- PluginWire.dataPages <= PluginWire.touchPending { // DATA_PAGES + n: a list's short form
                let n = Int(w &- PluginWire.dataPages)
                guard n <= (count - i) / 2 else {
                    throw RecorderError.protocolError(detail: "truncated data list of thread \(thread)")
                }
                let list = UnsafeRawBufferPointer(rebasing: words[(i * 4)..<((i + 2 * n) * 4)])
                state.addTouchList(list, count: n, short: true, cached: cachedTouches)
                i += 2 * n
                continue
            }
            switch w {
            case PluginWire.run:
                try run(Int(try word(i)), thread: thread, state: &state)
                i += 1
                continue
            case PluginWire.codeWrite:
                let address = UInt64(try word(i)) | UInt64(try word(i + 1)) << 32
                state.codeWrites.append(.init(address: address, size: try word(i + 2)))
                state.sideEvents += 1
                state.lastEventWasCodeWrite = true
                i += 3
                continue
            case PluginWire.syscall:
                let number = Int64(bitPattern: UInt64(try word(i)) | UInt64(try word(i + 1)) << 32)
                state.syscalls.append(number)
                state.sideEvents += 1
                lastSyscall = number
                i += 2
            case PluginWire.dataTouch:
                let page = UInt64(try word(i)) | UInt64(try word(i + 1)) << 32
                state.addTouch(page: page, reads: try word(i + 2), writes: try word(i + 3))
                i += 4
            case PluginWire.dataList:
                let n = Int(try word(i))
                guard n <= (count - i - 1) / 4 else {
                    throw RecorderError.protocolError(detail: "truncated data list of thread \(thread)")
                }
                let list = UnsafeRawBufferPointer(rebasing: words[((i + 1) * 4)..<((i + 1 + 4 * n) * 4)])
                state.addTouchList(list, count: n, short: false, cached: cachedTouches)
                i += 1 + 4 * n
                continue // lists come after a TB's other events: a code write stays the last event
            case PluginWire.interrupt:
                state.addSystemEvent(.interrupt, vector: UInt8(truncatingIfNeeded: try word(i)), address: 0)
                i += 1
            case PluginWire.exception:
                state.addSystemEvent(.exception, vector: UInt8(truncatingIfNeeded: try word(i)),
                                     address: UInt64(try word(i + 1)) | UInt64(try word(i + 2)) << 32)
                i += 3
            case PluginWire.pageTableStore:
                state.addSystemEvent(.pageTableStore, vector: 0,
                                     address: UInt64(try word(i)) | UInt64(try word(i + 1)) << 32)
                i += 2
            default:
                throw RecorderError.protocolError(detail: "unknown event marker 0x\(String(w, radix: 16))")
            }
            state.lastEventWasCodeWrite = false
        }
    }

    /// A RUN of `count` TBs, each the one the thread's successor table predicts: handled as the words they
    /// stand for, a few thousand at a time (a run may count billions).
    private mutating func run(_ count: Int, thread: UInt32, state: inout ThreadState) throws {
        let piece = 4096
        try withUnsafeTemporaryAllocation(of: UInt32.self, capacity: piece) { ids in
            var left = count
            while left > 0 {
                let n = Swift.min(left, piece)
                state.successors.predict(n, into: ids.baseAddress!)
                try consume(UnsafeRawBufferPointer(start: ids.baseAddress!, count: n * 4), thread: thread, state: &state)
                left -= n
            }
        }
    }

    /// The per-block fast path: while the held TB is a single decoded block and the next word names a TB
    /// that does not start at the held TB's last instruction, emits the held block and holds the next TB.
    /// Works on locals and writes straight into the batch. Returns the index of the first word it left
    /// (a marker, an unknown TB, or a TB the general path must handle). Precondition: the held TB is a
    /// single block and the thread has no pending side events.
    @inline(__always)
    private mutating func fastRun(_ words: UnsafeRawBufferPointer, from start: Int, count: Int,
                                  state: inout ThreadState) throws -> Int {
        let table = tbs.base
        let tbCount = UInt32(truncatingIfNeeded: tbs.count)
        var i = start
        var heldBlock = state.heldSingleBlock
        var heldLast = state.heldLastInstruction
        var heldInstructions = UInt64(state.heldInstructions)
        var heldTB = state.heldTB
        let successors = state.successors
        let next = successors.next
        var prev = successors.prev
        var instructions: UInt64 = 0
        var emitted = 0
        while i < count {
            let (out, room) = try batch.space(thread: state.thread, to: writer)
            let end = Swift.min(count, i + room)
            let first = i
            var n = 0
            while i < end {
                // Markers are >= 0xFFFFFF00, so this also stops at side events.
                let w = words.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)
                if w >= tbCount { break }
                let info = table[Int(w)]
                if info.address == heldLast { break }
                out[n] = heldBlock
                n &+= 1
                instructions &+= heldInstructions
                heldBlock = info.singleBlock
                heldLast = info.lastInstruction
                heldInstructions = UInt64(info.instructions)
                heldTB = w
                next[Int(prev & SuccessorTable.mask)] = w
                prev = w
                i &+= 1
                if heldBlock == TBInfo.noSingleBlock { break }
            }
            batch.commit(n)
            emitted &+= n
            if i - first < end - first || i == count || heldBlock == TBInfo.noSingleBlock { break }
        }
        successors.prev = prev
        if emitted > 0 {
            state.nextIndex &+= UInt64(emitted)
            counts.blocks &+= UInt64(emitted)
            counts.instructions &+= instructions
            state.hold(tb: heldTB, table[Int(heldTB)])
        }
        return i
    }

    private mutating func executed(tb: UInt32, by state: inout ThreadState) throws {
        let info = tbs[Int(tb)]
        let address = info.address
        if state.hasHeld {
            if address == state.heldLastInstruction {
                if state.heldEndsWithRepString {
                    // Another iteration of the rep instruction that ended the held TB.
                    counts.repIterationsFolded += 1
                    state.lastEventWasCodeWrite = false
                    return
                }
                if restartedAt(address, tb: info, state: state) {
                    // The store was the held TB's last instruction: it still counts once, as part of it.
                    state.dropTriggeringCodeWrite()
                    counts.restartsCut += 1
                    return
                }
            } else if state.lastEventWasCodeWrite, address >= state.heldStart, address < state.heldLastInstruction,
                      restartedAt(address, tb: info, state: state) {
                state.dropTriggeringCodeWrite()
                let cut = address - state.heldStart
                state.truncated = cut == 0 ? [] : try truncatedBlocks(at: state.heldStart, length: Int(cut))
                counts.restartsCut += 1
            }
            try emitHeld(&state)
        }
        state.hold(tb: tb, info)
    }

    /// Whether `tb` (at `address`) re-executes the held TB from `address` after a code write hit it.
    private func restartedAt(_ address: UInt64, tb: TBInfo, state: ThreadState) -> Bool {
        guard state.lastEventWasCodeWrite, tb.instructions == 1, let write = state.codeWrites.last else { return false }
        let held = tbs[Int(state.heldTB)]
        let pageMask = ~UInt64(CodePage.size - 1)
        let firstPage = held.address & pageMask
        let lastPage = (held.address &+ UInt64(held.length) &- 1) & pageMask
        let writePage = write.address & pageMask
        guard writePage >= firstPage, writePage <= lastPage else { return false }
        // `address` must start one of the held TB's instructions.
        var offset = held.address
        let lengthsStart = lengthsStarts[Int(state.heldTB)]
        for i in lengthsStart..<(lengthsStart + Int(held.instructions)) {
            if offset == address { return true }
            offset &+= UInt64(instructionLengths[i])
        }
        return false
    }

    private func truncatedBlocks(at start: UInt64, length: Int) throws -> [BlockID] {
        do {
            return try builder.blocks(at: start, length: length)
        } catch let error as TraceBuilderError {
            throw RecorderError.decodeFailed(detail: "cut translation block at 0x\(String(start, radix: 16)): \(error)")
        }
    }

    /// Appends the held TB's blocks and its side events (attached to its last block).
    /// The events are recorded before the blocks are appended: the append that fills a chunk commits it, and
    /// an event naming that chunk's last block must already be with the writer then. Blocks go through the
    /// batch, so events may run ahead of the appended blocks; the writer keeps them for the chunk they fall in.
    private mutating func emitHeld(_ state: inout ThreadState) throws {
        let thread = state.thread
        let truncated = state.truncated
        if truncated == nil, tbs[Int(state.heldTB)].blocksCount == 0 {
            // Decoded at first emission, so a TB cut short before it was ever emitted whole defines no block.
            try decode(state.heldTB)
        }
        let held = tbs[Int(state.heldTB)]
        let count = truncated?.count ?? Int(held.blocksCount)
        // Events of a TB cut to nothing belong to the block before it; before the first block, nowhere.
        if state.sideEvents > 0, state.nextIndex + UInt64(count) > 0 {
            let index = state.nextIndex + UInt64(count) - 1
            for write in state.codeWrites {
                writer.record(thread: thread, codeWrite: CodeWrite(eventIndex: index, address: write.address, size: write.size))
            }
            for number in state.syscalls {
                writer.record(thread: thread, syscall: SyscallEvent(eventIndex: index, number: number))
            }
            for touch in state.touches {
                writer.record(thread: thread, dataTouch: DataTouch(eventIndex: index, page: touch.page,
                                                                   reads: touch.reads, writes: touch.writes))
            }
            for event in state.systemEvents {
                writer.record(thread: thread, systemEvent: SystemEvent(eventIndex: index, kind: event.kind,
                                                                       vector: event.vector, address: event.address))
            }
            counts.systemEvents += UInt64(state.systemEvents.count)
            counts.pageFaults += UInt64(state.systemEvents.count { $0.kind == .exception && $0.vector == SystemEvent.pageFaultVector })
            counts.codeWrites += UInt64(state.codeWrites.count)
            counts.syscalls += UInt64(state.syscalls.count)
            counts.dataTouches += UInt64(state.touches.count)
        }
        if let truncated {
            for id in truncated { try batch.add(id, thread: thread, to: writer) }
            let definitions = builder.definitions
            for id in truncated { counts.instructions += UInt64(definitions[Int(id)].instructionCount) }
            state.truncated = nil
        } else {
            let start = Int(held.blocksStart)
            for i in start..<(start + count) { try batch.add(blockIDs.base[i], thread: thread, to: writer) }
            counts.instructions += UInt64(held.instructions)
        }
        state.nextIndex += UInt64(count)
        counts.blocks += UInt64(count)
        state.hasHeld = false
        state.heldSingleBlock = TBInfo.noSingleBlock
        if state.sideEvents > 0 { state.clearSideEvents() }
    }

    private mutating func release(_ state: inout ThreadState) throws {
        if state.hasHeld { try emitHeld(&state) }
    }

    // MARK: - Instruction shapes

    /// Whether `bytes` starts with a rep/repne-prefixed string instruction (movs, cmps, stos, lods, scas, ins, outs).
    static func isRepString(_ bytes: UnsafeRawBufferPointer, arch: GuestArch) -> Bool {
        var rep = false
        for byte in bytes {
            switch byte {
            case 0xF2, 0xF3: rep = true
            case 0x66, 0x67, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65, 0xF0: continue
            case 0x40...0x4F where arch == .x86_64: continue
            case 0xA4...0xA7, 0xAA...0xAF, 0x6C...0x6F: return rep
            default: return false
            }
        }
        return false
    }
}

/// Trace thread ids for every process of a recording, in order of first sight.
final class ThreadNumbering {
    private var count: UInt32 = 0
    func next() -> UInt32 {
        defer { count += 1 }
        return count
    }
}

/// One guest thread's position: the held TB and its side events.
struct ThreadState {
    struct PendingWrite {
        var address: UInt64
        var size: UInt32
    }

    struct Touch {
        var page: UInt64
        var reads: UInt32
        var writes: UInt32
    }

    let thread: UInt32
    /// Event index the next appended block gets (mirrors the writer's count).
    var nextIndex: UInt64 = 0

    var hasHeld = false
    var heldTB: UInt32 = 0
    var heldStart: UInt64 = 0
    var heldLastInstruction: UInt64 = 0
    var heldEndsWithRepString = false
    /// The held TB's block when it is one decoded block (the fast path), else `TBInfo.noSingleBlock`.
    var heldSingleBlock = TBInfo.noSingleBlock
    var heldInstructions: UInt16 = 0
    /// Set when the held TB was cut at a restart: the blocks that really ran.
    var truncated: [BlockID]?

    var codeWrites: [PendingWrite] = []
    var syscalls: [Int64] = []
    var touches: [Touch] = []
    /// System streams: interrupts, exceptions and page-table stores (`SystemEvent` without its index).
    var systemEvents: [(kind: SystemEventKind, vector: UInt8, address: UInt64)] = []
    /// Number of entries in the four lists above.
    var sideEvents = 0
    var lastEventWasCodeWrite = false
    /// The plugin thread's successor table (RUN words), copied as the plugin keeps it.
    let successors = SuccessorTable()

    /// Data pages with the touch cache (plexlab_plugin.h, DATA_LIST): the plugin TB whose execution's lists
    /// may still come (id + 1; 0: none), how many came, and this thread's copy of the plugin's cache.
    var touchTB: UInt32 = 0
    var touchLists = 0
    var touchCache: TouchCache?

    init(thread: UInt32) { self.thread = thread }

    /// The thread's next TB id `tb` arrived: the previous TB's execution is over, and when no list came for it,
    /// it touched what its cache slot holds. Then `tb`'s execution starts.
    mutating func startTouches(of tb: UInt32) throws {
        if touchTB != 0 && touchLists == 0 {
            let cache = writableTouchCache()
            let slot = Int(touchTB - 1) & (TouchCache.slots - 1)
            guard cache.keys[slot] == touchTB else {
                throw RecorderError.protocolError(detail: "translation block \(touchTB - 1) repeats cached data touches "
                                                  + "that thread \(thread) never sent")
            }
            let base = slot * TouchCache.pagesPerSlot
            for k in 0..<Int(cache.counts[slot]) {
                addTouch(page: cache.pages[base + k], reads: cache.reads[base + k], writes: cache.writes[base + k])
            }
        }
        touchTB = tb &+ 1
        touchLists = 0
    }

    /// A DATA_LIST of `count` touches (4 words each; `short`: a DATA_PAGES list, 2 words each) for the TB executed
    /// last; with the cache, the list also fills or empties that TB's slot as the plugin's rule says.
    mutating func addTouchList(_ words: UnsafeRawBufferPointer, count: Int, short: Bool, cached: Bool) {
        func word(_ at: Int) -> UInt32 { words.loadUnaligned(fromByteOffset: at * 4, as: UInt32.self) }
        // The slot this list fills (nil: none), decided before the touches so that each is read once.
        var filling: (cache: TouchCache, base: Int)?
        if cached, touchTB != 0 {
            touchLists += 1
            let cache = writableTouchCache()
            let slot = Int(touchTB - 1) & (TouchCache.slots - 1)
            if touchLists == 1, count <= TouchCache.pagesPerSlot {
                cache.keys[slot] = touchTB
                cache.counts[slot] = UInt8(count)
                filling = (cache, slot * TouchCache.pagesPerSlot)
            } else {
                cache.keys[slot] = 0
            }
        }
        let countMask = UInt32(1) << PluginWire.dataPagesCountBits - 1
        for k in 0..<count {
            let page: UInt64, reads: UInt32, writes: UInt32
            if short { // page number lo; reads | writes << 14 | page number hi << 28 (plexlab_plugin.h, DATA_PAGES)
                let packed = word(2 * k + 1)
                page = (UInt64(word(2 * k)) | UInt64(packed >> (2 * PluginWire.dataPagesCountBits)) << 32) << 12
                reads = packed & countMask
                writes = packed >> PluginWire.dataPagesCountBits & countMask
            } else {
                page = UInt64(word(4 * k)) | UInt64(word(4 * k + 1)) << 32
                reads = word(4 * k + 2)
                writes = word(4 * k + 3)
            }
            addTouch(page: page, reads: reads, writes: writes)
            if let (cache, base) = filling {
                cache.pages[base + k] = page
                cache.reads[base + k] = reads
                cache.writes[base + k] = writes
            }
        }
    }

    /// This thread's copy of the plugin's touch cache, made at its first use.
    private mutating func writableTouchCache() -> TouchCache {
        if let touchCache { return touchCache }
        let cache = TouchCache()
        touchCache = cache
        return cache
    }

    mutating func hold(tb: UInt32, _ info: TBInfo) {
        hasHeld = true
        heldTB = tb
        heldStart = info.address
        heldLastInstruction = info.lastInstruction
        heldEndsWithRepString = info.endsWithRepString
        heldSingleBlock = info.singleBlock
        heldInstructions = info.instructions
        lastEventWasCodeWrite = false
    }

    mutating func addTouch(page: UInt64, reads: UInt32, writes: UInt32) {
        for i in touches.indices where touches[i].page == page {
            touches[i].reads &+= reads
            touches[i].writes &+= writes
            return
        }
        touches.append(Touch(page: page, reads: reads, writes: writes))
        sideEvents += 1
    }

    mutating func addSystemEvent(_ kind: SystemEventKind, vector: UInt8, address: UInt64) {
        systemEvents.append((kind, vector, address))
        sideEvents += 1
    }

    mutating func dropTriggeringCodeWrite() {
        codeWrites.removeLast()
        sideEvents -= 1
        lastEventWasCodeWrite = false
    }

    mutating func clearSideEvents() {
        sideEvents = 0
        codeWrites.removeAll(keepingCapacity: true)
        syscalls.removeAll(keepingCapacity: true)
        touches.removeAll(keepingCapacity: true)
        systemEvents.removeAll(keepingCapacity: true)
        lastEventWasCodeWrite = false
    }
}

/// The reader's copy of one plugin thread's touch cache (plexlab_plugin.h, DATA_LIST): per slot the tb id + 1
/// (0: empty) and up to `pages` touches. A class so that the thread state moving in and out of its table
/// does not copy it.
final class TouchCache {
    static let slots = PluginWire.touchCacheSlots
    static let pagesPerSlot = PluginWire.touchCachePages
    var keys = [UInt32](repeating: 0, count: TouchCache.slots)
    var counts = [UInt8](repeating: 0, count: TouchCache.slots)
    var pages = [UInt64](repeating: 0, count: TouchCache.slots * TouchCache.pagesPerSlot)
    var reads = [UInt32](repeating: 0, count: TouchCache.slots * TouchCache.pagesPerSlot)
    var writes = [UInt32](repeating: 0, count: TouchCache.slots * TouchCache.pagesPerSlot)
}

/// What the assembler keeps per plugin TB (32 bytes: the per-execution path loads one of these).
struct TBInfo {
    static let noSingleBlock = BlockID.max

    var address: UInt64
    var length: UInt32
    /// The TB's block when it decoded to exactly one, else `noSingleBlock` (also before decoding).
    var singleBlock: BlockID
    var blocksStart: UInt32
    var instructions: UInt16
    /// Offset of the TB's last instruction.
    var lastOffset: UInt16
    /// 0 until decoded.
    var blocksCount: UInt16
    var endsWithRepString: Bool

    var lastInstruction: UInt64 { address &+ UInt64(lastOffset) }
}

/// A growable array in manually managed memory: `base[i]` costs a load, no reference counting or
/// exclusivity bookkeeping. Single-threaded; `base` moves when the table grows.
final class UnsafeTable<Element> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity = 1024

    init() { base = .allocate(capacity: capacity) }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    /// A table of its own with the same elements.
    func copy() -> UnsafeTable<Element> {
        let table = UnsafeTable<Element>()
        for i in 0..<count { table.append(base[i]) }
        return table
    }

    func append(_ element: Element) {
        if count == capacity {
            let grown = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
            grown.moveInitialize(from: base, count: count)
            base.deallocate()
            base = grown
            capacity *= 2
        }
        (base + count).initialize(to: element)
        count += 1
    }

    subscript(index: Int) -> Element {
        get {
            precondition(index >= 0 && index < count)
            return base[index]
        }
        set {
            precondition(index >= 0 && index < count)
            base[index] = newValue
        }
    }
}
