import Testing
import TraceModel
@testable import BlockCodec

// MARK: Synthetic programs


/// A static block of a synthetic program.
struct StaticBlock {
    var address: UInt64
    var length: UInt32
    var kind: ExitKind
    var target: UInt64? = nil
}

/// Turns a walk over static blocks (indices into `program`) into dense ids in first-execution order plus
/// the matching definitions, as a recorder would.
func makeStream(_ program: [StaticBlock], walk: [Int]) -> (definitions: [BlockDefinition], ids: [BlockID]) {
    var idOf: [Int: BlockID] = [:]
    var definitions: [BlockDefinition] = []
    var ids: [BlockID] = []
    ids.reserveCapacity(walk.count)
    for index in walk {
        if let id = idOf[index] {
            ids.append(id)
            continue
        }
        let block = program[index]
        let id = BlockID(definitions.count)
        idOf[index] = id
        definitions.append(BlockDefinition(address: block.address, length: block.length, instructionCount: 1,
                                           codeVersion: 0, exitKind: block.kind, staticTarget: block.target,
                                           sensitiveCount: 0, cpuidCount: 0, bytes: []))
        ids.append(id)
    }
    return (definitions, ids)
}

/// Nested loops: the inner loop runs 1 + (outer % 7) times.
func loopStream(outer: Int) -> (definitions: [BlockDefinition], ids: [BlockID]) {
    let program = [
        StaticBlock(address: 0x1000, length: 16, kind: .split),                  // 0: outer body
        StaticBlock(address: 0x1010, length: 16, kind: .jcc, target: 0x1010),    // 1: inner loop
        StaticBlock(address: 0x1020, length: 16, kind: .jcc, target: 0x1000),    // 2: outer loop test
        StaticBlock(address: 0x1030, length: 5, kind: .syscall),                 // 3: exit
    ]
    var walk: [Int] = []
    for i in 0..<outer {
        walk.append(0)
        for _ in 0..<(1 + i % 7) { walk.append(1) }
        walk.append(2)
    }
    walk.append(3)
    return makeStream(program, walk: walk)
}

/// Recursion to random depths up to `maxDepth` (deeper than the 64-entry return stack).
func recursionStream(calls: Int, maxDepth: Int, seed: UInt64) -> (definitions: [BlockDefinition], ids: [BlockID]) {
    let program = [
        StaticBlock(address: 0x1000, length: 5, kind: .call, target: 0x2000),    // 0: main calls f
        StaticBlock(address: 0x1005, length: 2, kind: .jmp, target: 0x1000),     // 1: main loops
        StaticBlock(address: 0x2000, length: 8, kind: .jcc, target: 0x2040),     // 2: f: depth == 0?
        StaticBlock(address: 0x2008, length: 5, kind: .call, target: 0x2000),    // 3: f calls f
        StaticBlock(address: 0x200D, length: 1, kind: .ret),                     // 4: f returns
        StaticBlock(address: 0x2040, length: 1, kind: .ret),                     // 5: base case
    ]
    var rng = SplitMix64(seed: seed)
    var walk: [Int] = []
    func f(_ depth: Int) {
        walk.append(2)
        if depth == 0 {
            walk.append(5)
            return
        }
        walk.append(3)
        f(depth - 1)
        walk.append(4)
    }
    for _ in 0..<calls {
        walk.append(0)
        f(Int.random(in: 0...maxDepth, using: &rng))
        walk.append(1)
    }
    return makeStream(program, walk: walk)
}

/// A dispatcher (`jmp *table(,%rax,8)`) over 16 cases; mostly a repeating bytecode-like pattern with some
/// random cases, and each case also makes an indirect call.
func switchStream(steps: Int, seed: UInt64) -> (definitions: [BlockDefinition], ids: [BlockID]) {
    var program = [StaticBlock(address: 0x3000, length: 6, kind: .jmpInd),    // 0: dispatch
                   StaticBlock(address: 0x4000, length: 1, kind: .ret)]       // 1: helper returns
    for k in 0..<16 {
        let base = 0x3100 + UInt64(k) * 0x20
        program.append(StaticBlock(address: base, length: 8, kind: .callInd))                   // 2 + 2k
        program.append(StaticBlock(address: base + 8, length: 5, kind: .jmp, target: 0x3000))  // 3 + 2k
    }
    let pattern = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    var rng = SplitMix64(seed: seed)
    var walk: [Int] = []
    for i in 0..<steps {
        let k = Int.random(in: 0..<10, using: &rng) == 0 ? Int.random(in: 0..<16, using: &rng) : pattern[i % pattern.count]
        walk += [0, 2 + 2 * k, 1, 3 + 2 * k]
    }
    return makeStream(program, walk: walk)
}

/// Random walks over random blocks (every kind, targets that rarely match): the escape paths.
func randomStream(blocks: Int, count: Int, seed: UInt64) -> (definitions: [BlockDefinition], ids: [BlockID]) {
    var rng = SplitMix64(seed: seed)
    let program = (0..<blocks).map { i -> StaticBlock in
        let kind = ExitKind.allCases.randomElement(using: &rng)!
        let address = 0x10000 + UInt64(i) * 16
        let target: UInt64? = kind.hasStaticTarget ? 0x10000 + UInt64.random(in: 0..<UInt64(blocks), using: &rng) * 16 : nil
        return StaticBlock(address: address, length: UInt32.random(in: 1...16, using: &rng), kind: kind, target: target)
    }
    let walk = (0..<count).map { _ in Int.random(in: 0..<blocks, using: &rng) }
    return makeStream(program, walk: walk)
}

// MARK: Round trips

/// Encodes `ids` in chunks of the given sizes, decodes them with a fresh decoder, and returns the decoded
/// ids and the total payload size.
func roundTrip(_ ids: [BlockID], _ definitions: [BlockDefinition], chunks sizes: [Int],
               variant: BlockCodecVariant = .full) throws -> ([BlockID], Int) {
    let encoder = BlockStreamEncoder(variant: variant)
    var payloads: [[UInt8]] = []
    var start = 0
    try ids.withUnsafeBufferPointer { all in
        for size in sizes {
            payloads.append(try encoder.encodeChecked(UnsafeBufferPointer(rebasing: all[start..<start + size]),
                                                      definitions: definitions))
            start += size
        }
    }
    let decoder = BlockStreamDecoder(variant: variant)
    var decoded: [BlockID] = []
    for (payload, size) in zip(payloads, sizes) {
        try payload.withUnsafeBytes { try decoder.decode($0, count: size, definitions: definitions, into: &decoded) }
    }
    return (decoded, payloads.reduce(0) { $0 + $1.count })
}

func chunkSizes(total: Int, chunk: Int) -> [Int] {
    stride(from: 0, to: total, by: chunk).map { min(chunk, total - $0) }
}

@Test(arguments: BlockCodecVariant.allCases, [1, 7, 1000, 1 << 20])
func nestedLoopsRoundTrip(variant: BlockCodecVariant, chunk: Int) throws {
    let (definitions, ids) = loopStream(outer: 3000)
    let (decoded, _) = try roundTrip(ids, definitions, chunks: chunkSizes(total: ids.count, chunk: chunk), variant: variant)
    #expect(decoded == ids)
}

@Test(arguments: BlockCodecVariant.allCases)
func regularLoopCostsAlmostNothing(variant: BlockCodecVariant) throws {
    // 20000 x (3-block loop body): fully predictable after the first iterations.
    let program = [StaticBlock(address: 0x1000, length: 4, kind: .split),
                   StaticBlock(address: 0x1004, length: 4, kind: .call, target: 0x2000),
                   StaticBlock(address: 0x2000, length: 1, kind: .ret),
                   StaticBlock(address: 0x1009, length: 4, kind: .jcc, target: 0x1000),
                   StaticBlock(address: 0x100D, length: 2, kind: .syscall)]
    let walk = Array(repeating: [0, 1, 2, 3], count: 20000).flatMap { $0 } + [4]
    let (definitions, ids) = makeStream(program, walk: walk)
    let (decoded, bytes) = try roundTrip(ids, definitions, chunks: [ids.count], variant: variant)
    #expect(decoded == ids)
    // 80001 blocks: well under 0.01 bits per block.
    #expect(bytes * 8 < ids.count / 100)
}

@Test(arguments: BlockCodecVariant.allCases, [UInt64(1), 2, 3])
func recursionDeeperThanReturnStack(variant: BlockCodecVariant, seed: UInt64) throws {
    let (definitions, ids) = recursionStream(calls: 300, maxDepth: 200, seed: seed)
    #expect(ModelShape.returnStackDepth < 200)
    let (decoded, _) = try roundTrip(ids, definitions, chunks: chunkSizes(total: ids.count, chunk: 4096), variant: variant)
    #expect(decoded == ids)
}

@Test(arguments: BlockCodecVariant.allCases, [UInt64(7), 8])
func indirectSwitchRoundTrip(variant: BlockCodecVariant, seed: UInt64) throws {
    let (definitions, ids) = switchStream(steps: 20000, seed: seed)
    let (decoded, bytes) = try roundTrip(ids, definitions, chunks: chunkSizes(total: ids.count, chunk: 10000), variant: variant)
    #expect(decoded == ids)
    // One random case in ten (about 4 bits to pick one of 16) dominates; the pattern itself is learned.
    #expect(Double(bytes * 8) / 20000 < 2.0)
}

@Test(arguments: BlockCodecVariant.allCases, [UInt64(11), 12, 13])
func randomStreamRoundTrip(variant: BlockCodecVariant, seed: UInt64) throws {
    let (definitions, ids) = randomStream(blocks: 500, count: 50000, seed: seed)
    let (decoded, _) = try roundTrip(ids, definitions, chunks: chunkSizes(total: ids.count, chunk: 3333), variant: variant)
    #expect(decoded == ids)
}

@Test(arguments: BlockCodecVariant.allCases)
func longStreamGrowsTheMatchWindow(variant: BlockCodecVariant) throws {
    // More blocks than the initial window (2^16), with long repeats for the match model to find.
    let (definitions, ids) = switchStream(steps: 60000, seed: 21)
    #expect(ids.count > 2 << ModelShape.minWindowBits)  // the window doubles twice
    let (decoded, _) = try roundTrip(ids, definitions, chunks: chunkSizes(total: ids.count, chunk: 50000), variant: variant)
    #expect(decoded == ids)
}

/// A random 2000-block walk repeated 20 times, each repetition with one block changed at a different
/// place: long matches for copy mode, each ended by a block the match did not predict.
func repeatedWalk() -> (definitions: [BlockDefinition], ids: [BlockID]) {
    let (definitions, segment) = randomStream(blocks: 300, count: 2000, seed: 31)
    var ids = segment
    for repetition in 1..<20 {
        var copy = segment
        let k = 300 + repetition * 71
        copy[k] = segment[(k + 7) % segment.count]
        ids += copy
    }
    return (definitions, ids)
}

@Test(arguments: BlockCodecVariant.allCases, [40000, 997, 256, 1])
func copyRunsRoundTrip(variant: BlockCodecVariant, chunk: Int) throws {
    let (definitions, ids) = repeatedWalk()
    let (decoded, bytes) = try roundTrip(ids, definitions, chunks: chunkSizes(total: ids.count, chunk: chunk), variant: variant)
    #expect(decoded == ids)
    if chunk == 40000 {
        // The repetitions are nearly free next to the first pass (2000 random blocks, about 8 bits each).
        #expect(bytes * 8 < 2000 * 10 + 19 * 200)
    }
}

@Test(arguments: BlockCodecVariant.allCases)
func copyModeCoversRepeats(variant: BlockCodecVariant) throws {
    let (definitions, ids) = repeatedWalk()
    let cost = ids.withUnsafeBufferPointer { BlockStreamCost(blocks: $0, definitions: definitions, variant: variant) }
    let copy = cost.byKind[BlockStreamCost.copyIndex]
    // Most of the 19 repetitions are copied; a run ends at each changed block (and where the random walk
    // itself repeats a short stretch of ids, which can end a run early).
    #expect(copy.transitions > 19 * 2000 / 2)
    #expect(copy.misses >= 19)
    #expect(copy.bits / Double(copy.transitions) < 0.05)
    let total = cost.byKind.reduce(0) { $0 + $1.transitions }
    #expect(total == ids.count)
}

@Test(arguments: BlockCodecVariant.allCases)
func chunkBoundaryAtEveryPosition(variant: BlockCodecVariant) throws {
    // A mix of loops, calls, returns and indirect jumps; split into two chunks at every position.
    let loops = loopStream(outer: 12)
    let calls = recursionStream(calls: 4, maxDepth: 70, seed: 5)
    var program: [StaticBlock] = []
    for d in loops.definitions + calls.definitions + switchStream(steps: 1, seed: 1).definitions {
        program.append(StaticBlock(address: d.address + (program.count >= loops.definitions.count ? 0x100000 : 0),
                                   length: d.length, kind: d.exitKind, target: d.staticTarget))
    }
    let walk = loops.ids.map { Int($0) } + calls.ids.map { Int($0) + loops.definitions.count }
    let (definitions, ids) = makeStream(program, walk: walk)
    for cut in 0...ids.count {
        let (decoded, _) = try roundTrip(ids, definitions, chunks: [cut, ids.count - cut], variant: variant)
        #expect(decoded == ids, "cut at \(cut)")
    }
    let (single, _) = try roundTrip(ids, definitions, chunks: Array(repeating: 1, count: ids.count), variant: variant)
    #expect(single == ids)
}

@Test(arguments: BlockCodecVariant.allCases)
func emptyChunksAreEmptyAndKeepState(variant: BlockCodecVariant) throws {
    let (definitions, ids) = loopStream(outer: 100)
    let encoder = BlockStreamEncoder(variant: variant)
    let decoder = BlockStreamDecoder(variant: variant)
    var decoded: [BlockID] = [99]  // decoding appends
    let half = ids.count / 2
    try ids.withUnsafeBufferPointer { all in
        for range in [0..<0, 0..<half, half..<half, half..<ids.count, ids.count..<ids.count] {
            let payload = try encoder.encodeChecked(UnsafeBufferPointer(rebasing: all[range]), definitions: definitions)
            if range.isEmpty { #expect(payload.isEmpty) }
            try payload.withUnsafeBytes {
                try decoder.decode($0, count: range.count, definitions: definitions, into: &decoded)
            }
        }
    }
    #expect(decoded == [99] + ids)
}

@Test(arguments: BlockCodecVariant.allCases)
func retranslatedBlockAtTheSameAddress(variant: BlockCodecVariant) throws {
    // The block at 0x5000 is retranslated with another length (a new id at the same address) midway.
    let program = [StaticBlock(address: 0x5000, length: 8, kind: .jmp, target: 0x6000),
                   StaticBlock(address: 0x6000, length: 4, kind: .jcc, target: 0x5000),
                   StaticBlock(address: 0x5000, length: 6, kind: .jmp, target: 0x6000),
                   StaticBlock(address: 0x6004, length: 1, kind: .ret)]
    var walk = Array(repeating: [0, 1], count: 50).flatMap { $0 }
    walk += Array(repeating: [2, 1], count: 50).flatMap { $0 } + [3]
    let (definitions, ids) = makeStream(program, walk: walk)
    let (decoded, _) = try roundTrip(ids, definitions, chunks: [40, ids.count - 40], variant: variant)
    #expect(decoded == ids)
}

@Test(arguments: BlockCodecVariant.allCases)
func idsNotInFirstExecutionOrder(variant: BlockCodecVariant) throws {
    // Another thread executed blocks first: this thread's stream starts at id 5 and jumps around.
    var all: [BlockDefinition] = []
    for i in 0..<50 {
        let address = 0x7000 + UInt64(i) * 8
        let target: UInt64 = 0x7000 + UInt64(i * 7 % 50) * 8
        let kind: ExitKind = i % 3 == 0 ? .jcc : .jmp
        all.append(BlockDefinition(address: address, length: 8, instructionCount: 2, codeVersion: 0, exitKind: kind,
                                   staticTarget: target, sensitiveCount: 0, cpuidCount: 0, bytes: []))
    }
    let ids: [BlockID] = [5, 6, 2, 30, 31, 0, 5, 6, 2, 30, 31, 0, 40, 41, 1, 2, 3]
    let (decoded, _) = try roundTrip(ids, all, chunks: [3, 0, 14], variant: variant)
    #expect(decoded == ids)
}

@Test(arguments: BlockCodecVariant.allCases)
func encodingIsDeterministic(variant: BlockCodecVariant) throws {
    let (definitions, ids) = switchStream(steps: 3000, seed: 9)
    func encode() -> [UInt8] {
        ids.withUnsafeBufferPointer { BlockStreamEncoder(variant: variant).encode($0, definitions: definitions) }
    }
    #expect(encode() == encode())
}

// MARK: Errors

/// Encodes the whole stream as one chunk.
func encodeOne(_ ids: [BlockID], _ definitions: [BlockDefinition], variant: BlockCodecVariant = .full) -> [UInt8] {
    ids.withUnsafeBufferPointer { BlockStreamEncoder(variant: variant).encode($0, definitions: definitions) }
}

func decodeOne(_ payload: [UInt8], count: Int, _ definitions: [BlockDefinition],
               variant: BlockCodecVariant = .full) throws -> [BlockID] {
    var out: [BlockID] = []
    let decoder = BlockStreamDecoder(variant: variant)
    try payload.withUnsafeBytes { try decoder.decode($0, count: count, definitions: definitions, into: &out) }
    return out
}

@Test(arguments: BlockCodecVariant.allCases)
func truncatedPayloadThrows(variant: BlockCodecVariant) throws {
    let (definitions, ids) = randomStream(blocks: 200, count: 5000, seed: 31)
    let payload = encodeOne(ids, definitions, variant: variant)
    #expect(try decodeOne(payload, count: ids.count, definitions, variant: variant) == ids)
    for keep in [0, 1, payload.count / 2, payload.count - 1] {
        #expect(throws: BlockCodecError.truncated(chunk: 0, payloadBytes: keep)) {
            _ = try decodeOne(Array(payload.prefix(keep)), count: ids.count, definitions, variant: variant)
        }
    }
}

@Test(arguments: BlockCodecVariant.allCases)
func trailingBytesThrow(variant: BlockCodecVariant) throws {
    let (definitions, ids) = loopStream(outer: 50)
    let payload = encodeOne(ids, definitions, variant: variant)
    #expect(throws: BlockCodecError.trailingBytes(chunk: 0, used: payload.count, payloadBytes: payload.count + 1)) {
        _ = try decodeOne(payload + [0], count: ids.count, definitions, variant: variant)
    }
    #expect(throws: BlockCodecError.trailingBytes(chunk: 0, used: 0, payloadBytes: 3)) {
        _ = try decodeOne([1, 2, 3], count: 0, definitions, variant: variant)
    }
}

@Test(arguments: BlockCodecVariant.allCases, [UInt64(41), 42, 43, 44, 45])
func garbageThrows(variant: BlockCodecVariant, seed: UInt64) throws {
    let (definitions, _) = randomStream(blocks: 300, count: 1000, seed: 40)
    var rng = SplitMix64(seed: seed)
    let garbage = (0..<400).map { _ in UInt8.random(in: 0...255, using: &rng) }
    // 10 blocks cannot use 400 bytes (an explicit id takes at most about 5), and 10^6 blocks from 400 bytes
    // of noise end in an unknown id or a truncation: both must be reported, never a crash.
    #expect(throws: BlockCodecError.self) { _ = try decodeOne(garbage, count: 10, definitions, variant: variant) }
    #expect(throws: BlockCodecError.self) { _ = try decodeOne(garbage, count: 1_000_000, definitions, variant: variant) }
}

@Test(arguments: BlockCodecVariant.allCases)
func unknownIDIsReported(variant: BlockCodecVariant) throws {
    let (definitions, ids) = loopStream(outer: 10)
    let encoder = BlockStreamEncoder(variant: variant)
    var bad = ids
    bad[7] = BlockID(definitions.count)
    #expect(throws: BlockCodecError.unknownBlock(chunk: 0, index: 7, id: BlockID(definitions.count),
                                                 definitionCount: definitions.count)) {
        _ = try bad.withUnsafeBufferPointer { try encoder.encodeChecked($0, definitions: definitions) }
    }
    // The failed chunk left the encoder untouched: the good stream still round-trips.
    let payload = ids.withUnsafeBufferPointer { encoder.encode($0, definitions: definitions) }
    #expect(try decodeOne(payload, count: ids.count, definitions, variant: variant) == ids)

    // A decoder given fewer definitions than the encoder had names the first id it cannot resolve.
    let firstMissing = BlockID(definitions.count - 1)
    let index = ids.firstIndex(of: firstMissing)!
    #expect(throws: BlockCodecError.unknownBlock(chunk: 0, index: index, id: firstMissing,
                                                 definitionCount: definitions.count - 1)) {
        _ = try decodeOne(payload, count: ids.count, Array(definitions.dropLast()), variant: variant)
    }
}

@Test(arguments: BlockCodecVariant.allCases)
func decoderRefusesChunksAfterAFailure(variant: BlockCodecVariant) throws {
    let (definitions, ids) = loopStream(outer: 20)
    let payload = encodeOne(ids, definitions, variant: variant)
    let decoder = BlockStreamDecoder(variant: variant)
    var out: [BlockID] = [1, 2]
    #expect(throws: BlockCodecError.self) {
        try payload.dropLast().withUnsafeBytes { try decoder.decode($0, count: ids.count, definitions: definitions, into: &out) }
    }
    #expect(out == [1, 2])
    #expect(throws: BlockCodecError.failedEarlier(chunk: 1)) {
        try payload.withUnsafeBytes { try decoder.decode($0, count: ids.count, definitions: definitions, into: &out) }
    }
}

@Test func errorDescriptionsAreOneLine() {
    let errors: [BlockCodecError] = [.unknownBlock(chunk: 1, index: 2, id: 3, definitionCount: 3),
                                     .truncated(chunk: 0, payloadBytes: 5),
                                     .trailingBytes(chunk: 0, used: 4, payloadBytes: 6),
                                     .malformed(chunk: 2, index: 9), .failedEarlier(chunk: 4)]
    for error in errors {
        #expect(!error.description.contains("\n"))
        #expect(error.description.hasPrefix("block stream chunk"))
    }
    #expect(BlockCodecError.trailingBytes(chunk: 0, used: 4, payloadBytes: 6).description.contains("2 unexpected bytes"))
}

@Test func variantsAreDifferentFormats() throws {
    // The configurations differ (table count, mixer), so on a stream with unpredictable jccs their
    // payloads differ, and a payload decodes back only with its own variant.
    let (definitions, ids) = randomStream(blocks: 300, count: 20000, seed: 51)
    let full = encodeOne(ids, definitions, variant: .full)
    let fast = encodeOne(ids, definitions, variant: .fast)
    #expect(full != fast)
    #expect(try decodeOne(fast, count: ids.count, definitions, variant: .fast) == ids)
    #expect((try? decodeOne(fast, count: ids.count, definitions, variant: .full)) != ids)
}
