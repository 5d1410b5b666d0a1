import TraceModel
import TraceStore
import X86Decode

/// A deterministic pseudo-random number generator (SplitMix64), so every run makes the same trace.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// Real x86-64 code laid out as many small functions over many pages, and a walk through it that follows
/// what the decoded blocks say (direct targets, a return stack, a few targets per indirect site), so the
/// trace mixes calls, returns, indirect branches, jcc both ways, page crossings and sensitive instructions.
struct SyntheticProgram {
    static let base: UInt64 = 0x40_0000
    /// Code bytes per 4096-byte page.
    private(set) var memory: [UInt64: [UInt8]] = [:]
    let entry: UInt64
    /// Indirect sites, keyed by the address after the `call rax` / `jmp rax`: the targets the walk picks from.
    private(set) var indirectTargets: [UInt64: [UInt64]] = [:]
    /// Taken probability (percent) of each jcc, keyed by the address after it.
    private(set) var takenPercent: [UInt64: Int] = [:]

    private enum Terminator { case none, jcc(segment: Int), call(function: Int), callInd, jmpInd, syscall, ret, loopToStart }
    private struct Segment { var filler: [[UInt8]]; var terminator: Terminator; var address: UInt64 = 0 }

    init(functions count: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let fillers: [[UInt8]] = [[0x90], [0x48, 0x01, 0xD8], [0xFF, 0xC1], [0x48, 0x89, 0xC3], [0x48, 0x83, 0xC0, 0x01],
                                  [0x48, 0x8B, 0x07], [0x48, 0x89, 0x47, 0x08]]
        var functions: [[Segment]] = []
        for k in 0..<count {
            let segmentCount = 2 + random.below(9)
            var segments: [Segment] = []
            for s in 0..<segmentCount {
                var filler = (0..<random.below(6)).map { _ in fillers[random.below(fillers.count)] }
                if random.chance(3) { filler.append([0x9C]) }          // pushf: sensitive
                if random.chance(1) { filler.append([0x0F, 0xA2]) }    // cpuid
                let last = s == segmentCount - 1
                let terminator: Terminator
                if last {
                    terminator = k == 0 ? .loopToStart : .ret
                } else {
                    let canCall = k + 1 < count && (k == 0 || k < count * 3 / 4)
                    let roll = random.below(100)
                    if roll < 30 { terminator = .jcc(segment: random.below(segmentCount)) }
                    else if roll < 55 && canCall { terminator = .call(function: k + 1 + random.below(min(count - k - 1, 200))) }
                    else if roll < 62 && canCall { terminator = .callInd }
                    else if roll < 67 && s + 2 < segmentCount { terminator = .jmpInd }
                    else if roll < 69 { terminator = .syscall }
                    else { terminator = .none }
                }
                segments.append(Segment(filler: filler, terminator: terminator))
            }
            functions.append(segments)
        }
        // Lay out: sizes are fixed by the terminator kind, so addresses are known before any target.
        func size(_ t: Terminator) -> Int {
            switch t {
            case .none: 0
            case .jcc: 6
            case .call, .loopToStart: 5
            case .callInd, .jmpInd, .syscall: 2
            case .ret: 1
            }
        }
        var address = Self.base
        var functionStart: [UInt64] = []
        for k in functions.indices {
            address += UInt64(random.below(24))  // int3 padding between functions
            functionStart.append(address)
            for s in functions[k].indices {
                functions[k][s].address = address
                address += UInt64(functions[k][s].filler.reduce(0) { $0 + $1.count } + size(functions[k][s].terminator))
            }
        }
        entry = functionStart[0]
        var image = [UInt8](repeating: 0xCC, count: Int(address - Self.base) + 16)
        for (k, segments) in functions.enumerated() {
            for (s, segment) in segments.enumerated() {
                var at = Int(segment.address - Self.base)
                for instruction in segment.filler {
                    image.replaceSubrange(at..<at + instruction.count, with: instruction)
                    at += instruction.count
                }
                func rel32(_ opcode: [UInt8], to target: UInt64) {
                    let next = Self.base + UInt64(at + opcode.count + 4)
                    let displacement = UInt32(truncatingIfNeeded: Int64(bitPattern: target &- next))
                    let bytes = opcode + withUnsafeBytes(of: displacement.littleEndian) { Array($0) }
                    image.replaceSubrange(at..<at + bytes.count, with: bytes)
                    at += bytes.count
                }
                let after = Self.base + UInt64(at + size(segment.terminator))
                switch segment.terminator {
                case .none: break
                case .jcc(let target):
                    let backward = target <= s
                    takenPercent[after] = [5, 50, 95, 90, 10][random.below(5)] / (backward ? 2 : 1)
                    rel32([0x0F, 0x85], to: segments[target].address)
                case .call(let function): rel32([0xE8], to: functionStart[function])
                case .loopToStart: rel32([0xE9], to: functionStart[k])
                case .callInd:
                    image.replaceSubrange(at..<at + 2, with: [0xFF, 0xD0])
                    let choices = [1, 1, 1, 2, 4][random.below(5)]
                    indirectTargets[after] = (0..<choices).map { _ in functionStart[k + 1 + random.below(min(count - k - 1, 200))] }
                case .jmpInd:
                    image.replaceSubrange(at..<at + 2, with: [0xFF, 0xE0])
                    let choices = 1 + random.below(3)
                    indirectTargets[after] = (0..<choices).map { _ in segments[s + 1 + random.below(segments.count - s - 1)].address }
                case .syscall: image.replaceSubrange(at..<at + 2, with: [0x0F, 0x05])
                case .ret: image[at] = 0xC3
                }
            }
        }
        var page = Self.base
        while page < Self.base + UInt64(image.count) {
            var bytes = [UInt8](repeating: 0xCC, count: CodePage.size)
            let start = Int(page - Self.base)
            let end = min(start + CodePage.size, image.count)
            bytes.replaceSubrange(0..<(end - start), with: image[start..<end])
            memory[page] = bytes
            page += UInt64(CodePage.size)
        }
    }

    /// Walks the program for `blocks` executed blocks and writes the trace: one thread, its code pages as
    /// first executed, syscalls, a data touch every few blocks, and now and then a store to a code page.
    func write(to path: String, blocks total: Int, seed: UInt64, chunkBlocks: Int = 1 << 20,
               codec: BlockStreamCodec = .writerDefault) throws {
        let metadata = TraceMetadata(program: "synthetic-mix", argv: ["synthetic-mix", "\(total)"], arch: .x86_64,
                                     recorder: "replay-bench", recorderVersion: "1", host: "replay-bench",
                                     date: "1970-01-01T00:00:00Z", hasDataTouches: true)
        let writer = try TraceWriter(path: path, metadata: metadata, options: .init(chunkBlocks: chunkBlocks, overwrite: true, blockCodec: codec))
        let decoder = X86Decoder(arch: .x86_64)
        var random = SplitMix64(seed: seed)
        var ids: [UInt64: BlockID] = [:]
        var definitions: [BlockDefinition] = []
        var captured: Set<UInt64> = []
        var returns: [UInt64] = []
        var pc = entry
        for _ in 0..<total {
            let id: BlockID
            if let known = ids[pc] { id = known } else {
                let page = pc & ~UInt64(CodePage.size - 1)
                var bytes = Array(memory[page]![Int(pc - page)...])
                if let next = memory[page + UInt64(CodePage.size)] { bytes += next.prefix(16) }
                let shape = bytes.withUnsafeBytes { decoder.decodeBlock($0, at: pc) }!
                for part in [page, (pc + UInt64(shape.length) - 1) & ~UInt64(CodePage.size - 1)] where !captured.contains(part) {
                    captured.insert(part)
                    try writer.addCodePage(CodePage(address: part, version: 0, bytes: memory[part]!))
                }
                let definition = BlockDefinition(
                    address: pc, length: UInt32(shape.length), instructionCount: UInt32(shape.instructionCount),
                    codeVersion: 0, exitKind: shape.exitKind, staticTarget: shape.staticTarget,
                    sensitiveCount: UInt16(shape.sensitiveCount), cpuidCount: UInt16(shape.cpuidCount),
                    bytes: Array(bytes.prefix(shape.length)))
                id = try writer.define(definition)
                ids[pc] = id
                definitions.append(definition)
            }
            let block = definitions[Int(id)]
            let event = writer.nextEventIndex(thread: 0)
            let after = block.fallThrough
            switch block.exitKind {
            case .split: pc = after
            case .jcc: pc = random.chance(takenPercent[after] ?? 50) ? block.staticTarget! : after
            case .jmp: pc = block.staticTarget!
            case .call:
                returns.append(after)
                pc = block.staticTarget!
            case .callInd:
                returns.append(after)
                let targets = indirectTargets[after]!
                pc = targets[random.below(targets.count)]
            case .jmpInd:
                let targets = indirectTargets[after]!
                pc = targets[random.below(targets.count)]
            case .ret: pc = returns.popLast() ?? entry
            case .syscall:
                writer.record(thread: 0, syscall: SyscallEvent(eventIndex: event, number: 39))
                pc = after
            case .far: pc = after
            }
            if random.below(16) == 0 {
                writer.record(thread: 0, dataTouch: DataTouch(eventIndex: event, page: 0x1000_0000 + UInt64(random.below(64)) << 12,
                                                              reads: UInt32(1 + random.below(4)), writes: UInt32(random.below(3))))
            }
            if random.below(4_000_000) == 0 {
                let executedPages = captured.sorted()  // stores count only on pages where code ran
                let page = executedPages[random.below(executedPages.count)]
                writer.record(thread: 0, codeWrite: CodeWrite(eventIndex: event, address: page + UInt64(random.below(4000)), size: 8))
            }
            try writer.append(thread: 0, block: id)
        }
        try writer.finish(exitStatus: 0, signal: nil, note: "synthetic mix written by replay-bench")
    }
}
