import TraceModel

/// "No block": an unknown cached successor, an empty stack slot, a decoding error.
var noBlock: UInt32 { 0xFFFF_FFFF }
/// What the predictor keeps per block id this thread has executed.
struct BlockEntry {
    var address: UInt64 = 0
    /// Static target (jcc, jmp, call) or fall-through (split, syscall): the single static successor.
    var target: UInt64 = 0
    var fallThrough: UInt64 = 0
    /// Learned id of the block at `target` (`noBlock` until seen).
    var targetID: UInt32 = noBlock
    /// Learned id of the block at `fallThrough`: a jcc's not-taken side, a call's return site.
    var fallID: UInt32 = noBlock
    /// `ExitKind` raw value; `unknownKind` for ids this thread has not executed.
    var kind: UInt8 = unknownKind
    /// Bimodal direction counter for jcc (-4 ... 3, taken when >= 0).
    var bimodal: Int8 = 0
    /// Recent misses of the static prediction (0 ... 3), a coding context for single-successor blocks.
    var missState: UInt8 = 0
    /// jcc: how many times in a row it went the same way (saturating), and which way.
    var streak: UInt16 = 0
    var lastTaken = false
    /// jcc: whether each of its last 8 direction predictions missed (bit 0 = the latest).
    var outcomes: UInt8 = 0
}

var unknownKind: UInt8 { 0xFF }

/// Parameters of the predictor, fixed at compile time: `SuccessorModel` is specialised for each
/// configuration, so a cheaper configuration costs nothing in the others. Both sides must use the same
/// values; they are part of the format (one configuration per `BlockCodecVariant`).
protocol ModelConfiguration {
    /// Tagged direction tables in use (1 ... 6) and their history lengths (only the first `tageTables`
    /// count; at most 128).
    static var tageTables: Int { get }
    static var tageIndexBits: Int { get }
    static var tageHistory: (Int, Int, Int, Int, Int, Int) { get }
    /// Whether a jcc's "prediction is right" bit goes through the logistic mixer with the branch's own hit
    /// rate (else it is coded directly in its provider/counter/recent-miss context).
    static var mixJcc: Bool { get }
    /// A jcc that went the same way this many times in a row skips the direction tables.
    static var stableStreak: Int { get }
    /// A match at least this long switches to copy mode: the run length is coded once and the ids are
    /// copied from the window without running the predictors.
    static var copyThreshold: Int { get }
    /// The match model's hash table has 2^min(windowBits - 1, maxMatchTableBits) entries.
    static var maxMatchTableBits: Int { get }
}

/// Codec 1 ("predictive"): six TAGE tables, the mixer, copy mode after 256 matched blocks.
enum FullShape: ModelConfiguration {
    static var tageTables: Int { 6 }
    static var tageIndexBits: Int { 14 }
    static var tageHistory: (Int, Int, Int, Int, Int, Int) { (4, 8, 16, 32, 64, 128) }
    static var mixJcc: Bool { true }
    static var stableStreak: Int { 32 }
    static var copyThreshold: Int { 256 }
    static var maxMatchTableBits: Int { 18 }
}

/// Codec 2 ("predictiveFast"): three TAGE tables over shorter histories, no mixer, stable jccs and copy
/// mode reached sooner.
enum FastShape: ModelConfiguration {
    static var tageTables: Int { 3 }
    static var tageIndexBits: Int { 12 }
    static var tageHistory: (Int, Int, Int, Int, Int, Int) { (6, 24, 96, 0, 0, 0) }
    static var mixJcc: Bool { false }
    static var stableStreak: Int { 8 }
    static var copyThreshold: Int { 64 }
    static var maxMatchTableBits: Int { 16 }
}

/// Parameters shared by every configuration (part of the format).
enum ModelShape {
    static var maxTageTables: Int { 6 }
    static var indirectIndexBits: Int { 12 }
    static var returnStackDepth: Int { 64 }
    static var mtfSlots: Int { 4 }
    /// The match model's window of past successors grows from 2^16 up to 2^maxWindowBits entries.
    static var minWindowBits: Int { 16 }
    static var maxWindowBits: Int { 22 }
    static var minMatch: Int { 4 }
    /// Adaptation shifts of the coding probabilities.
    static var hitShift: Int { 6 }
    static var sideShift: Int { 4 }
    /// Mixer weight sets for jcc: (tables + 1) providers x 2 (match model agrees or has no guess).
    static var mixSets: Int { (maxTageTables + 1) * 2 }
    /// Adaptation shift of a branch's own hit rate, and the mixer's learning rate.
    static var branchHitShift: Int { 5 }
    static var mixRate: Int { 3 }
}

/// Offsets of the coding contexts in the probability table. "Agree" groups hold 9 probabilities: no
/// match-model prediction, or a match prediction equal to the kind's prediction, by match length bucket.
enum Ctx {
    static var single: Int { 0 }                           // 9 kinds x 2 (prediction is new) x 4 (miss state), x 9
    static var jcc: Int { single + 72 * 9 }                // (tables+1) x 8 (counter) x 2 (alt agrees) x 4 (recent misses), x 9
    static var ret: Int { jcc + 448 * 9 }                  // 2 (stack had an entry) x 2 (prediction is new), x 9
    static var indirect: Int { ret + 4 * 9 }               // 3 (source) x 4 (confidence), x 9
    static var matchFirst: Int { indirect + 12 * 9 }       // 5 (kind class) x 8 (match length) x 4 (confidence)
    static var matchSecond: Int { matchFirst + 5 * 8 * 4 } // 5 (kind class) x 4 (confidence)
    static var secondary: Int { matchSecond + 5 * 4 }      // 2: a jcc's other side
    static var mtf: Int { secondary + 2 }                  // 5 (kind class) x mtfSlots
    static var new: Int { mtf + 5 * ModelShape.mtfSlots }  // 5 (kind class)
    static var idLength: Int { new + 5 }                   // 64: 6-bit tree for the explicit id's bit length
    static var stable: Int { idLength + 64 }               // 8 (streak length) x 2 (prediction is new) x 9
    static var runLength: Int { stable + 8 * 2 * 9 }   // 8 (match length bucket) x 64: 6-bit tree, bit length
    static var runLow: Int { runLength + 8 * 64 }      // 33 (bit length) x 4: 2-bit tree below the leading one
    static var count: Int { runLow + 33 * 4 }
}

/// A jcc's other side, the candidate after its predicted side: the block learned there, else the block
/// the address map knows at `address`. It is looked up only when a miss needs it, since most executions of
/// a jcc hit and the lookup is a cache miss on large programs (the same id either way).
struct OtherSide {
    var learned: UInt32
    var address: UInt64
    var exists = true
    static var none: OtherSide { OtherSide(learned: noBlock, address: 0, exists: false) }
}

/// A match table entry: a window position (0: empty) and the id just before that position (`noBlock`:
/// unknown, read the window).
enum MatchEntry {
    /// `SuccessorModel.ageMatchTable` runs whenever `position` enters a new epoch of 2^epochBits blocks.
    static var epochBits: UInt32 { 30 }
    @inline(__always) static func make(position: UInt32, idBefore: UInt32) -> UInt64 {
        UInt64(position) | UInt64(idBefore) << 32
    }
    @inline(__always) static func position(_ entry: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: entry) }
    @inline(__always) static func idBefore(_ entry: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: entry >> 32) }
}

/// The successor predictor shared by encoder and decoder, plus the coding of one transition.
///
/// Everything here is deterministic and depends only on the ids already coded and their definitions, so
/// the decoder reproduces the encoder's state exactly.
struct SuccessorModel<Shape: ModelConfiguration> {
    var blocks = RawArray<BlockEntry>(capacity: 1024, fill: BlockEntry())
    /// Up to `mtfSlots` distinct recent successors per block, most recent first (miss alternatives).
    var recent = RawArray<UInt32>(capacity: 1024 * ModelShape.mtfSlots, fill: noBlock)
    var addresses = AddressMap()
    var probabilities = RawArray<AdaptiveBit>(capacity: Ctx.count, fill: AdaptiveBit())
    /// Per jcc id: how often its direction prediction was right (the mixer's second input).
    var jccHit = RawArray<AdaptiveBit>(capacity: 1024, fill: AdaptiveBit())
    /// Mixer weights (1.0 = 65536): context probability, branch hit rate, bias; one set per provider and
    /// match state.
    var mixWeights = RawArray<Int32>(capacity: ModelShape.mixSets * 3, fill: 0)
    let logistic = LogisticTables()
    /// Tagged direction tables: tag (bits 0-15), counter 0...7 (bits 16-18), useful 0...3 (bits 19-20).
    var tage = RawArray<UInt32>(capacity: Shape.tageTables << Shape.tageIndexBits, fill: 0)
    /// Indirect targets: id (bits 0-31), tag (32-47), confidence 0...3 (48-49).
    var indirect = RawArray<UInt64>(capacity: 1 << ModelShape.indirectIndexBits, fill: 0)
    var returnStack = RawArray<UInt32>(capacity: ModelShape.returnStackDepth, fill: noBlock)
    var returnTop = 0
    var returnCount = 0
    /// Global jcc direction history, newest in bit 0 of `history0`.
    var history0: UInt64 = 0
    var history1: UInt64 = 0
    /// The block executed last (`noBlock` before the thread's first block) and the one before it.
    var current: UInt32 = noBlock
    var previous: UInt32 = noBlock
    /// One past the largest id this thread has executed: the id a never-seen block gets.
    var nextNew: UInt32 = 0
    /// The id that had no definition when `step` failed (`noBlock` if it failed on a malformed value).
    var failedID: UInt32 = noBlock

    /// Match model: the last 2^windowBits ids; `matchTable` maps a hash of the recent ids to the window
    /// position that followed them last time; `matchPosition` is where the current match continues.
    var window = MatchWindow(entries: 1 << ModelShape.maxWindowBits)
    /// Each entry: the window position (bits 0-31, 0 = empty) and the id just before it (bits 32-63, the
    /// id the entry's verification compares first). Keeping that id in the entry saves the window read
    /// (a cache miss) for the many candidates the hash only collided into (`MatchEntry`).
    var matchTable = RawArray<UInt64>(capacity: 1 << (ModelShape.minWindowBits - 1), fill: 0)
    var matchTableBits = ModelShape.minWindowBits - 1
    var windowBits = ModelShape.minWindowBits
    /// (1 << windowBits) - 1 and 64 - matchTableBits, kept with them (hot in every step).
    var windowMask = (1 << ModelShape.minWindowBits) - 1
    var matchShift = UInt64(64 - (ModelShape.minWindowBits - 1))
    var position: UInt32 = 0
    var matchPosition: UInt32 = 0
    var matchLength = 0
    /// How many blocks in a row the current match predicted correctly (its verified start not counted).
    var matchHits = 0
    var recentHash: UInt64 = 0
    /// The match model's guess for the block being coded (`noBlock` when there is no match).
    var matchPredicted: UInt32 = noBlock
    var matchBucket = 0
    /// The match model's guess that a copy run just proved wrong (`noBlock` otherwise): excluded from the
    /// next block's coding.
    var knownWrong: UInt32 = noBlock

    init() {
        for set in 0..<ModelShape.mixSets {
            mixWeights[set * 3] = 45000
            mixWeights[set * 3 + 1] = 25000
        }
    }

    func free() {
        blocks.free()
        recent.free()
        addresses.free()
        probabilities.free()
        jccHit.free()
        mixWeights.free()
        logistic.free()
        tage.free()
        indirect.free()
        returnStack.free()
        window.free()
        matchTable.free()
    }

    // MARK: Learning definitions

    /// Records the definition of `id` the first time this thread executes it; false if `id` has none.
    @inline(never)
    mutating func learn(_ id: UInt32, _ definitions: UnsafeBufferPointer<BlockDefinition>) -> Bool {
        let i = Int(id)
        guard i < definitions.count else {
            failedID = id
            return false
        }
        blocks.ensure(i + 1)
        jccHit.ensure(i + 1)
        recent.ensure((i + 1) * ModelShape.mtfSlots)
        let definition = definitions[i]
        let kind = definition.exitKind
        var entry = BlockEntry()
        entry.address = definition.address
        entry.fallThrough = definition.fallThrough
        switch kind {
        case .jcc, .jmp, .call: entry.target = definition.staticTarget ?? definition.fallThrough
        default: entry.target = definition.fallThrough
        }
        entry.kind = kind.rawValue
        blocks[i] = entry
        addresses.insert(definition.address, id)
        if id >= nextNew { nextNew = id &+ 1 }
        return true
    }

    /// The id expected at `address`: the latest block known there, else the next new id.
    @inline(__always) func resolve(_ address: UInt64) -> UInt32 {
        let id = addresses.lookup(address)
        return id == noBlock ? nextNew : id
    }

    // MARK: One transition

    /// Codes the successor of `current` (`actual` when encoding; ignored when decoding) and updates the
    /// model. Returns the successor, or `noBlock` if it has no definition (malformed input).
    ///
    /// The per-kind steps and `codePredicted` are `@_transparent`, inlined before optimisation: the
    /// optimiser kept them out of line in the (large) encode and decode loops despite `@inline(__always)`,
    /// paying a call, the entry copy and the coder's state through memory on every block.
    @inline(__always)
    mutating func step<C: BitCoder>(_ coder: inout C, actual: UInt32,
                                    _ definitions: UnsafeBufferPointer<BlockDefinition>) -> UInt32 {
        let b = current
        var s: UInt32
        if matchLength > 0 {
            matchPredicted = window[Int(matchPosition) & windowMask]
            matchBucket = Swift.min(7, Int.bitWidth - 1 - matchLength.leadingZeroBitCount)
        } else {
            matchPredicted = noBlock
        }
        if b == noBlock {
            s = codeEscape(&coder, actual, kindClass: 4, exclude: noBlock, noBlock, noBlock)
            guard s != noBlock, learnIfNew(s, definitions) else { return noBlock }
        } else {
            let e = blocks[Int(b)]
            switch e.kind {
            case ExitKind.jcc.rawValue:
                s = stepJcc(&coder, actual, b, e, definitions)
            case ExitKind.ret.rawValue:
                s = stepReturn(&coder, actual, b, e, definitions)
            case ExitKind.jmpInd.rawValue, ExitKind.callInd.rawValue, ExitKind.far.rawValue:
                s = stepIndirect(&coder, actual, b, e, definitions)
            default:
                s = stepSingle(&coder, actual, b, e, definitions)
            }
            guard s != noBlock else { return noBlock }
        }
        previous = b
        current = s
        knownWrong = noBlock
        updateMatch(s)
        return s
    }

    // MARK: Copy mode

    /// True when the next blocks are coded as a copy run (`codeRun`) instead of one `step` each.
    @inline(__always) var copyReady: Bool { matchLength > 0 && matchHits >= Shape.copyThreshold }

    /// Copy mode: codes how many of the next blocks (at most `remaining`) continue the current match, and
    /// copies them from the window. The encoder reads the blocks from `ids`, the decoder writes them there.
    /// Only the cheap state is kept up to date over the run (window, return stack, jcc history, current and
    /// previous block, the recent-ids hash); the per-block tables stay as they were, identically on both
    /// sides. A run shorter than `remaining` ends at a block the match did not predict: that guess is then
    /// excluded from the next `step`. Returns the run length, or -1 for a malformed run length.
    mutating func codeRun<C: BitCoder>(_ coder: inout C, _ ids: UnsafeMutablePointer<UInt32>, remaining: Int,
                                       decoding: Bool) -> Int {
        let limit = Swift.min(remaining, 1 << 30)
        let bucket = Swift.min(7, Swift.max(0, Shape.copyThreshold.leadingZeroBitCount - matchHits.leadingZeroBitCount))
        var r = 0
        if decoding {
            r = codeRunLength(&coder, 0, bucket: bucket)
            if r < 0 || r > limit { return -1 }
        }
        // Copy (the encoder: while the blocks follow the match), in segments that stop where the window grows.
        let runLength = matchLength
        var pos = position, from = matchPosition
        var k = 0
        let target = decoding ? r : limit
        while true {
            var mask = windowMask
            var segment = target - k
            let growing = windowBits < ModelShape.maxWindowBits
            if growing { segment = Swift.min(segment, (mask + 1) - Int(pos)) }
            let w = window.base  // complemented ids: copied as they are
            let start = k
            if decoding {
                while k < start + segment {
                    let v = w[Int(from) & mask]
                    w[Int(pos) & mask] = v
                    ids[k] = ~v
                    from &+= 1
                    pos &+= 1
                    k += 1
                }
            } else {
                while k < start + segment {
                    let v = w[Int(from) & mask]
                    if ids[k] != ~v { break }
                    w[Int(pos) & mask] = v
                    from &+= 1
                    pos &+= 1
                    k += 1
                }
            }
            if growing && Int(pos) == mask + 1 {
                position = pos
                growWindow()
                mask = windowMask
            }
            if k == target || k - start < segment { break }
        }
        if pos >> MatchEntry.epochBits != position >> MatchEntry.epochBits {
            position = pos
            ageMatchTable()
        }
        position = pos
        matchPosition = from
        if !decoding {
            r = k
            _ = codeRunLength(&coder, r, bucket: bucket)
        }
        if r == 0 {
            knownWrong = window[Int(matchPosition) & windowMask]
            matchLength = 0
            return 0
        }
        followRun(UnsafePointer(ids), r)
        matchLength = runLength + r
        matchHits += r
        if r < remaining {
            knownWrong = window[Int(matchPosition) & windowMask]
            matchLength = 0
        }
        return r
    }

    /// The state a run's transitions update cheaply: return stack, jcc history, last blocks, recent hash.
    @inline(__always)
    private mutating func followRun(_ ids: UnsafePointer<UInt32>, _ r: Int) {
        var b = current
        var h0 = history0, h1 = history1
        let table = blocks.base
        for j in 0..<r {
            let s = ids[j]
            let e = table[Int(b)]
            switch e.kind {
            case ExitKind.jcc.rawValue:
                let taken: Bool
                if s == e.targetID { taken = true }
                else if s == e.fallID { taken = false }
                else {
                    let address = table[Int(s)].address
                    if address == e.target { taken = true }
                    else if address == e.fallThrough { taken = false }
                    else { b = s; continue }
                }
                h1 = (h1 << 1) | (h0 >> 63)
                h0 = (h0 << 1) | (taken ? 1 : 0)
            case ExitKind.call.rawValue, ExitKind.callInd.rawValue:
                pushReturn(b)
            case ExitKind.ret.rawValue:
                if returnCount > 0 {
                    returnTop = (returnTop &- 1) & (ModelShape.returnStackDepth - 1)
                    returnCount -= 1
                }
            default:
                break
            }
            b = s
        }
        history0 = h0
        history1 = h1
        previous = r >= 2 ? ids[r - 2] : current
        current = ids[r - 1]
        let mask = windowMask
        var hash: UInt64 = 0
        for back in (1...13).reversed() {
            let s = window[Int(position &- UInt32(back)) & mask]
            hash = (hash << 5) ^ (UInt64(s) &* 0x9E37_79B9_7F4A_7C15 >> 20)
        }
        recentHash = hash
    }

    /// Codes a run length: its bit length (6-bit tree in context `bucket`), two bits below the leading one
    /// in context of the bit length, the rest raw. Returns the length, or -1 if it cannot be one.
    private mutating func codeRunLength<C: BitCoder>(_ coder: inout C, _ r: Int, bucket: Int) -> Int {
        let length = r == 0 ? 0 : Int.bitWidth - r.leadingZeroBitCount
        var node = 1
        for i in (0..<6).reversed() {
            let bit = coder.code((length >> i) & 1 == 1, &probabilities.base[Ctx.runLength + bucket &* 64 + node],
                                 shift: ModelShape.sideShift)
            node = node * 2 + (bit ? 1 : 0)
        }
        let decodedLength = node - 64
        if decodedLength == 0 { return 0 }
        if decodedLength > 31 { return -1 }
        let lowBits = decodedLength - 1
        var value = 1
        let modelled = Swift.min(2, lowBits)
        var tree = 1
        for i in 0..<modelled {
            let bit = coder.code((r >> (lowBits - 1 - i)) & 1 == 1,
                                 &probabilities.base[Ctx.runLow + decodedLength &* 4 + tree], shift: ModelShape.sideShift)
            tree = tree * 2 + (bit ? 1 : 0)
            value = value * 2 + (bit ? 1 : 0)
        }
        var done = modelled
        while done < lowBits {
            let n = Swift.min(16, lowBits - done)
            let shift = lowBits - done - n
            let part = coder.codeRaw(UInt32(truncatingIfNeeded: (r >> shift) & ((1 << n) - 1)), count: n)
            value = (value << n) | Int(part)
            done += n
        }
        return value
    }

    /// Appends `s` to the window, follows or ends the current match, and looks for a new one.
    @inline(__always)
    private mutating func updateMatch(_ s: UInt32) {
        if matchLength > 0 {
            if matchPredicted == s {
                matchLength &+= 1
                matchHits &+= 1
                matchPosition &+= 1
            } else {
                matchLength = 0
            }
        }
        var mask = windowMask
        window[Int(position) & mask] = s
        position &+= 1
        if Int(position) & mask == 0 {
            if windowBits < ModelShape.maxWindowBits && Int(position) == mask + 1 {
                growWindow()
                mask = windowMask
            }
            if position & (1 << MatchEntry.epochBits - 1) == 0 { ageMatchTable() }
        }
        recentHash = (recentHash << 5) ^ (UInt64(s) &* 0x9E37_79B9_7F4A_7C15 >> 20)
        // matchShift (64 - matchTableBits) is below 64: a masking shift needs no range check.
        let slot = Int(truncatingIfNeeded: (recentHash &* 0xD6E8_FEB8_6659_FD93) &>> matchShift)
        // While a match runs, its context is already in the table (an older occurrence predicts as well
        // as the newest), so only unmatched positions are inserted: far fewer random stores.
        if matchLength == 0 {
            let stored = matchTable[slot]
            let candidate = MatchEntry.position(stored)
            let distance = position &- candidate
            // (distance == mask would not compare a single id: no match either.)
            if candidate != 0, distance > 0, Int(distance) < mask {
                // Verify the candidate (the hash may collide) and measure how long the match already is.
                // The first comparison, window[candidate - 1] == s, is made on the id kept in the entry
                // unless the entry is too old to trust it (`ageMatchTable`).
                let before = MatchEntry.idBefore(stored)
                if before == s || before == noBlock {
                    var length = before == s ? 1 : 0
                    while length < 32, Int(distance) + length < mask,
                          window[Int(candidate &- 1 &- UInt32(length)) & mask] == window[Int(position &- 1 &- UInt32(length)) & mask] {
                        length += 1
                    }
                    if length >= ModelShape.minMatch {
                        matchLength = length
                        matchHits = 0
                        matchPosition = candidate
                    }
                }
            }
            matchTable[slot] = MatchEntry.make(position: position, idBefore: s)
        }
    }

    /// Makes entries that may be older than 2^32 positions forget their `idBefore`. Positions are 32-bit:
    /// once the stream is 2^32 blocks past an entry, its distance wraps and may look small again, and
    /// then the window (overwritten since) decides its verification, not the id the entry kept. Called
    /// each time `position` enters a new 2^epochBits epoch (within a copy run's length of it), it marks
    /// every entry farther back than the window; an unmarked entry was then either written in the last two
    /// epochs or was inside the window at the last call, so it is younger than 2^32 and its id is still
    /// the window's. (Marking an entry is always safe: it is verified on the window, as it once was.)
    @inline(never)
    private mutating func ageMatchTable() {
        let limit = UInt32(windowMask)
        for i in 0..<(1 << matchTableBits) {
            let stored = matchTable[i]
            let candidate = MatchEntry.position(stored)
            if candidate != 0, position &- candidate &- 1 >= limit {
                matchTable[i] = MatchEntry.make(position: candidate, idBefore: noBlock)
            }
        }
    }

    /// Doubles the window (and starts a fresh, larger hash table) once the stream has filled it.
    @inline(never)
    private mutating func growWindow() {
        let bits = windowBits + 1
        // The window is full and position is its size: slot i holds position i, and the slots the wider
        // mask adds were never written (they read as noBlock), as in a freshly filled larger window.
        matchTable.free()
        matchTableBits = Swift.min(bits - 1, Shape.maxMatchTableBits)
        matchTable = RawArray<UInt64>(capacity: 1 << matchTableBits, fill: 0)
        windowBits = bits
        windowMask = (1 << bits) - 1
        matchShift = UInt64(64 - matchTableBits)
        matchLength = 0
    }

    @inline(__always)
    private mutating func learnIfNew(_ s: UInt32, _ definitions: UnsafeBufferPointer<BlockDefinition>) -> Bool {
        if Int(s) < blocks.capacity, blocks[Int(s)].kind != unknownKind { return true }
        return learn(s, definitions)
    }

    /// jmp, call, split, syscall: one static successor.
    @_transparent
    private mutating func stepSingle<C: BitCoder>(_ coder: inout C, _ actual: UInt32, _ b: UInt32, _ e: BlockEntry,
                                                  _ definitions: UnsafeBufferPointer<BlockDefinition>) -> UInt32 {
        let p = e.targetID != noBlock ? e.targetID : resolve(e.target)
        let agree = Ctx.single + ((Int(e.kind) &* 8) + (p == nextNew ? 4 : 0) + Int(e.missState)) &* 9
        let s = codePredicted(&coder, actual, b, p, agree: agree, confidence: 3 - Int(e.missState), kindClass: 0,
                              secondary: .none)
        guard s != noBlock, learnIfNew(s, definitions) else { return noBlock }
        if s == p {
            if e.missState != 0 { blocks.base[Int(b)].missState = e.missState - 1 }
        } else {
            blocks.base[Int(b)].missState = 3
            pushRecent(b, s)
        }
        if e.targetID != s, blocks[Int(s)].address == e.target { blocks.base[Int(b)].targetID = s }
        if e.kind == ExitKind.call.rawValue { pushReturn(b) }
        return s
    }

    /// Near return: the return-address stack holds the calling blocks.
    @_transparent
    private mutating func stepReturn<C: BitCoder>(_ coder: inout C, _ actual: UInt32, _ b: UInt32, _ e: BlockEntry,
                                                  _ definitions: UnsafeBufferPointer<BlockDefinition>) -> UInt32 {
        var p: UInt32
        var caller = noBlock
        if returnCount > 0 {
            returnTop = (returnTop &- 1) & (ModelShape.returnStackDepth - 1)
            returnCount -= 1
            caller = returnStack[returnTop]
            let c = blocks[Int(caller)]
            p = c.fallID != noBlock ? c.fallID : resolve(c.fallThrough)
        } else {
            p = recent[Int(b) &* ModelShape.mtfSlots]
            if p == noBlock { p = nextNew }
        }
        let agree = Ctx.ret + ((caller != noBlock ? 2 : 0) + (p == nextNew ? 1 : 0)) &* 9
        let s = codePredicted(&coder, actual, b, p, agree: agree, confidence: caller != noBlock ? 3 : 0,
                              kindClass: 2, secondary: .none)
        guard s != noBlock, learnIfNew(s, definitions) else { return noBlock }
        if caller != noBlock {
            let c = blocks[Int(caller)]
            if c.fallID != s, blocks[Int(s)].address == c.fallThrough { blocks.base[Int(caller)].fallID = s }
        }
        pushRecent(b, s)
        return s
    }

    /// jmp_ind, call_ind, far: a tagged table indexed by the previous block, else the last successor.
    @_transparent
    private mutating func stepIndirect<C: BitCoder>(_ coder: inout C, _ actual: UInt32, _ b: UInt32, _ e: BlockEntry,
                                                    _ definitions: UnsafeBufferPointer<BlockDefinition>) -> UInt32 {
        let x = (UInt64(b) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(previous) &* 0xC2B2_AE3D_27D4_EB4F)
            ^ ((history0 & 0xFF) &* 0x1656_67B1_9E37_79F9)
        let mixed = (x ^ (x >> 31)) &* 0xD6E8_FEB8_6659_FD93
        let index = Int(truncatingIfNeeded: mixed >> UInt64(64 - ModelShape.indirectIndexBits))
        let tag = (mixed >> 8) & 0xFFFF
        let slot = indirect[index]
        let matched = (slot >> 32) & 0xFFFF == tag && slot != 0
        var p: UInt32
        var source: Int
        let confidence = Int((slot >> 48) & 3)
        if matched {
            p = UInt32(truncatingIfNeeded: slot)
            source = 0
        } else {
            p = recent[Int(b) &* ModelShape.mtfSlots]
            source = 1
            if p == noBlock {
                p = nextNew
                source = 2
            }
        }
        let agree = Ctx.indirect + (source &* 4 + (matched ? confidence : 0)) &* 9
        let s = codePredicted(&coder, actual, b, p, agree: agree, confidence: matched ? confidence : 0,
                              kindClass: 3, secondary: .none)
        guard s != noBlock, learnIfNew(s, definitions) else { return noBlock }
        if matched {
            if p == s {
                if confidence < 3 { indirect[index] = slot + (1 << 48) }
            } else if confidence > 0 {
                indirect[index] = slot - (1 << 48)
            } else {
                indirect[index] = (tag << 32) | UInt64(s)
            }
        } else if p != s {
            indirect[index] = (tag << 32) | UInt64(s)
        }
        pushRecent(b, s)
        if e.kind == ExitKind.callInd.rawValue { pushReturn(b) }
        return s
    }

    /// jcc: a TAGE-style direction predictor; the coding context is its provider and confidence.
    /// Whether successor `s` of jcc block `b` is its taken side (false: fall-through; nil: neither),
    /// remembering `s` as that side's id.
    @inline(__always)
    private mutating func side(of s: UInt32, jcc b: UInt32, _ e: BlockEntry) -> Bool? {
        let address = blocks[Int(s)].address
        if address == e.target {
            if e.targetID != s { blocks.base[Int(b)].targetID = s }
            return true
        }
        if address == e.fallThrough {
            if e.fallID != s { blocks.base[Int(b)].fallID = s }
            return false
        }
        return nil
    }

    @_transparent
    private mutating func stepJcc<C: BitCoder>(_ coder: inout C, _ actual: UInt32, _ b: UInt32, _ e: BlockEntry,
                                               _ definitions: UnsafeBufferPointer<BlockDefinition>) -> UInt32 {
        if Shape.stableStreak > 0 && Int(e.streak) >= Shape.stableStreak {
            return stepStableJcc(&coder, actual, b, e, definitions)
        }
        var indices = (0, 0, 0, 0, 0, 0)
        var tags = (UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0))
        let lengths = Shape.tageHistory
        let bk = UInt64(b) &* 0x9E37_79B9_7F4A_7C15
        @inline(__always) func hash(_ length: Int, _ table: Int) -> (Int, UInt32) {
            var h0 = history0, h1: UInt64 = 0
            if length < 64 { h0 &= (1 << UInt64(length)) - 1 }
            else if length > 64 { h1 = history1 & ((1 << UInt64(length - 64)) &- 1) }
            var x = bk ^ (h0 &* 0xC2B2_AE3D_27D4_EB4F) ^ (h1 &* 0x1656_67B1_9E37_79F9) ^ UInt64(table)
            x = (x ^ (x >> 29)) &* 0xD6E8_FEB8_6659_FD93
            x ^= x >> 32
            let index = (table << Shape.tageIndexBits)
                | Int(truncatingIfNeeded: x >> UInt64(64 - Shape.tageIndexBits))
            return (index, UInt32(truncatingIfNeeded: x & 0xFFFF) | 1)
        }
        // Static counts: the tables a configuration does not use cost nothing after specialisation.
        (indices.0, tags.0) = hash(lengths.0, 0)
        if Shape.tageTables > 1 { (indices.1, tags.1) = hash(lengths.1, 1) }
        if Shape.tageTables > 2 { (indices.2, tags.2) = hash(lengths.2, 2) }
        if Shape.tageTables > 3 { (indices.3, tags.3) = hash(lengths.3, 3) }
        if Shape.tageTables > 4 { (indices.4, tags.4) = hash(lengths.4, 4) }
        if Shape.tageTables > 5 { (indices.5, tags.5) = hash(lengths.5, 5) }
        let table = tage.base
        @inline(__always) func entry(_ t: Int) -> (Int, UInt32) {
            switch t {
            case 0: return (indices.0, tags.0)
            case 1: return (indices.1, tags.1)
            case 2: return (indices.2, tags.2)
            case 3: return (indices.3, tags.3)
            case 4: return (indices.4, tags.4)
            default: return (indices.5, tags.5)
            }
        }
        var provider = -1, alternate = -1
        var t = Shape.tageTables - 1
        while t >= 0 {
            let (index, tag) = entry(t)
            if table[index] & 0xFFFF == tag {
                if provider < 0 { provider = t } else { alternate = t; break }
            }
            t -= 1
        }
        let baseTaken = e.bimodal >= 0
        var counter: Int
        var predicted: Bool
        if provider >= 0 {
            counter = Int((table[entry(provider).0] >> 16) & 7)
            predicted = counter >= 4
        } else {
            counter = Int(e.bimodal) + 4
            predicted = baseTaken
        }
        let alternateTaken = alternate >= 0 ? (table[entry(alternate).0] >> 16) & 7 >= 4 : baseTaken
        let p = predicted ? (e.targetID != noBlock ? e.targetID : resolve(e.target))
                          : (e.fallID != noBlock ? e.fallID : resolve(e.fallThrough))
        let other = predicted ? OtherSide(learned: e.fallID, address: e.fallThrough)
                              : OtherSide(learned: e.targetID, address: e.target)
        let agree = Ctx.jcc + (((provider + 1) &* 16 + counter &* 2 + (alternateTaken == predicted ? 1 : 0)) &* 4
            + recentMisses(e.outcomes)) &* 9
        let strength = predicted ? counter - 4 : 3 - counter
        let s = codePredicted(&coder, actual, b, p, agree: agree, confidence: strength, kindClass: 1,
                              secondary: other, mixSet: Shape.mixJcc ? (provider + 1) &* 2 : -1)
        guard s != noBlock, learnIfNew(s, definitions) else { return noBlock }
        // Neither side (a signal, a new translation): no direction to learn.
        guard let taken = side(of: s, jcc: b, e) else { return s }

        blocks.base[Int(b)].outcomes = (e.outcomes << 1) | (predicted != taken ? 1 : 0)
        if taken == e.lastTaken {
            if e.streak < UInt16.max { blocks.base[Int(b)].streak = e.streak + 1 }
        } else {
            blocks.base[Int(b)].streak = 1
            blocks.base[Int(b)].lastTaken = taken
        }
        // Update the direction predictor (TAGE: provider counter, usefulness, allocation on mispredict).
        let bimodal = e.bimodal
        if taken { if bimodal < 3 { blocks.base[Int(b)].bimodal = bimodal + 1 } }
        else if bimodal > -4 { blocks.base[Int(b)].bimodal = bimodal - 1 }
        if provider >= 0 {
            let index = entry(provider).0
            var value = table[index]
            var c = (value >> 16) & 7
            if taken { if c < 7 { c += 1 } } else if c > 0 { c -= 1 }
            var u = (value >> 19) & 3
            if predicted != alternateTaken {
                if predicted == taken { if u < 3 { u += 1 } } else if u > 0 { u -= 1 }
            }
            value = (value & 0xFFFF) | (c << 16) | (u << 19)
            table[index] = value
        }
        if predicted != taken && provider < Shape.tageTables - 1 {
            var allocated = false
            var t = provider + 1
            while t < Shape.tageTables {
                let (index, tag) = entry(t)
                if (table[index] >> 19) & 3 == 0 {
                    table[index] = tag | ((taken ? 4 : 3) << 16)
                    allocated = true
                    break
                }
                t += 1
            }
            if !allocated {
                t = provider + 1
                while t < Shape.tageTables {
                    let index = entry(t).0
                    table[index] -= 1 << 19
                    t += 1
                }
            }
        }
        history1 = (history1 << 1) | (history0 >> 63)
        history0 = (history0 << 1) | (taken ? 1 : 0)
        return s
    }

    /// A jcc that went the same way many times in a row: predict that way without the tables; the streak
    /// length is the coding context. A break sends the block back to the tables.
    @_transparent
    private mutating func stepStableJcc<C: BitCoder>(_ coder: inout C, _ actual: UInt32, _ b: UInt32, _ e: BlockEntry,
                                                     _ definitions: UnsafeBufferPointer<BlockDefinition>) -> UInt32 {
        let p = e.lastTaken ? (e.targetID != noBlock ? e.targetID : resolve(e.target))
                            : (e.fallID != noBlock ? e.fallID : resolve(e.fallThrough))
        let other = e.lastTaken ? OtherSide(learned: e.fallID, address: e.fallThrough)
                                : OtherSide(learned: e.targetID, address: e.target)
        let level = Swift.min(7, 15 - e.streak.leadingZeroBitCount - (Int.bitWidth - 1 - Shape.stableStreak.leadingZeroBitCount) + 1)
        let agree = Ctx.stable + (level &* 2 + (p == nextNew ? 1 : 0)) &* 9
        let s = codePredicted(&coder, actual, b, p, agree: agree, confidence: 3, kindClass: 1,
                              secondary: other)
        guard s != noBlock, learnIfNew(s, definitions) else { return noBlock }
        // Neither side (a signal, a new translation): no direction to learn.
        guard let taken = side(of: s, jcc: b, e) else { return s }
        if taken == e.lastTaken {
            if e.streak < UInt16.max { blocks.base[Int(b)].streak = e.streak + 1 }
        } else {
            blocks.base[Int(b)].streak = 1
            blocks.base[Int(b)].lastTaken = taken
        }
        history1 = (history1 << 1) | (history0 >> 63)
        history0 = (history0 << 1) | (taken ? 1 : 0)
        return s
    }

    // MARK: Shared pieces

    /// A coding context from a jcc's recent direction misses (0 ... 3).
    @inline(__always)
    private func recentMisses(_ outcomes: UInt8) -> Int {
        Swift.min(3, outcomes.nonzeroBitCount)
    }

    @inline(__always)
    private mutating func pushReturn(_ caller: UInt32) {
        returnStack[returnTop] = caller
        returnTop = (returnTop + 1) & (ModelShape.returnStackDepth - 1)
        if returnCount < ModelShape.returnStackDepth { returnCount += 1 }
    }

    /// Moves `s` to the front of `b`'s recent successors.
    @inline(__always)
    private mutating func pushRecent(_ b: UInt32, _ s: UInt32) {
        let list = recent.base + Int(b) &* ModelShape.mtfSlots
        if list[0] == s { return }
        var carried = s
        for i in 0..<ModelShape.mtfSlots {
            let old = list[i]
            list[i] = carried
            if old == s { return }
            carried = old
        }
    }

    /// Codes the successor given the kind's prediction `p`: alone when the match model agrees or has no
    /// guess (context group `agree`), else the match model's guess first, then `p`.
    @_transparent
    private mutating func codePredicted<C: BitCoder>(_ coder: inout C, _ actual: UInt32, _ b: UInt32, _ p: UInt32,
                                                     agree: Int, confidence: Int, kindClass: Int,
                                                     secondary: OtherSide, mixSet: Int = -1) -> UInt32 {
        let m = matchPredicted
        if m == noBlock || m == p {
            let state = m == noBlock ? 0 : 1 + matchBucket
            if p != knownWrong {
                let hit = mixSet >= 0
                    ? codeMixed(&coder, actual == p, context: agree + state, branch: b, set: mixSet + (state == 0 ? 0 : 1))
                    : coder.code(actual == p, &probabilities.base[agree + state], shift: ModelShape.hitShift)
                if hit { return p }
            }
            return codeMiss(&coder, actual, b, kindClass: kindClass, exclude: p, knownWrong, secondary: secondary)
        }
        let first = Ctx.matchFirst + (kindClass &* 8 + matchBucket) &* 4 + confidence
        if coder.code(actual == m, &probabilities.base[first], shift: ModelShape.hitShift) { return m }
        let second = Ctx.matchSecond + kindClass &* 4 + confidence
        if coder.code(actual == p, &probabilities.base[second], shift: ModelShape.hitShift) { return p }
        return codeMiss(&coder, actual, b, kindClass: kindClass, exclude: p, m, secondary: secondary)
    }

    /// A jcc's "prediction is right" decision at the mix of the context probability and the branch's own
    /// hit rate; both adapt to the outcome, and so do the weights.
    @inline(__always)
    private mutating func codeMixed<C: BitCoder>(_ coder: inout C, _ bit: Bool, context: Int, branch: UInt32,
                                                 set: Int) -> Bool {
        let contextBit = probabilities.base + context
        let branchBit = jccHit.base + Int(branch)
        let s0 = Int(logistic.stretch[Int(contextBit.pointee.p >> 4)])
        let s1 = Int(logistic.stretch[Int(branchBit.pointee.p >> 4)])
        let logistic = logistic
        let decoded = LogisticTables.codeMix(&coder, bit, s0, s1, weights: mixWeights.base + set &* 3,
                                             rate: ModelShape.mixRate) { logistic.squash($0) }
        contextBit.pointee.update(decoded, shift: ModelShape.hitShift)
        branchBit.pointee.update(decoded, shift: ModelShape.branchHitShift)
        return decoded
    }

    /// After the predictions `exclude0`/`exclude1` missed: the kind's `secondary` candidate (a jcc's other
    /// side; skipped when it is one of those), `b`'s recent successors, then new, then the id.
    @inline(never)
    private mutating func codeMiss<C: BitCoder>(_ coder: inout C, _ actual: UInt32, _ b: UInt32, kindClass: Int,
                                                exclude exclude0: UInt32, _ exclude1: UInt32,
                                                secondary other: OtherSide) -> UInt32 {
        var exclude2 = noBlock
        // Resolved here, not by the step: nothing the address map or `nextNew` depend on changed since.
        let secondary = !other.exists ? noBlock : other.learned != noBlock ? other.learned : resolve(other.address)
        if secondary != noBlock, secondary != exclude0, secondary != exclude1 {
            if coder.code(actual == secondary, &probabilities.base[Ctx.secondary + (secondary == nextNew ? 1 : 0)],
                          shift: ModelShape.sideShift) {
                return secondary
            }
            exclude2 = secondary
        }
        let list = recent.base + Int(b) &* ModelShape.mtfSlots
        for i in 0..<ModelShape.mtfSlots {
            let candidate = list[i]
            if candidate == noBlock { break }
            if candidate == exclude0 || candidate == exclude1 || candidate == exclude2 { continue }
            let ctx = Ctx.mtf + kindClass &* ModelShape.mtfSlots + i
            if coder.code(actual == candidate, &probabilities.base[ctx], shift: ModelShape.sideShift) {
                return candidate
            }
        }
        return codeEscape(&coder, actual, kindClass: kindClass, exclude: exclude0, exclude1, exclude2)
    }

    /// A block not predicted at all: the next new id, else the id itself (bit length, then the bits).
    @inline(never)
    private mutating func codeEscape<C: BitCoder>(_ coder: inout C, _ actual: UInt32, kindClass: Int,
                                                  exclude exclude0: UInt32, _ exclude1: UInt32,
                                                  _ exclude2: UInt32) -> UInt32 {
        if exclude0 != nextNew && exclude1 != nextNew && exclude2 != nextNew,
           coder.code(actual == nextNew, &probabilities.base[Ctx.new + kindClass], shift: ModelShape.sideShift) {
            return nextNew
        }
        let length = actual == 0 ? 0 : 32 - actual.leadingZeroBitCount
        var node = 1
        for i in (0..<6).reversed() {
            let bit = coder.code((length >> i) & 1 == 1, &probabilities.base[Ctx.idLength + node],
                                 shift: ModelShape.sideShift)
            node = node * 2 + (bit ? 1 : 0)
        }
        let decodedLength = node - 64
        if decodedLength == 0 { return 0 }
        if decodedLength > 32 { return noBlock }
        let lowBits = decodedLength - 1
        var value: UInt32 = 1
        var done = 0
        while done < lowBits {
            let n = Swift.min(16, lowBits - done)
            let shift = lowBits - done - n
            let part = coder.codeRaw((actual >> UInt32(shift)) & ((1 << UInt32(n)) - 1), count: n)
            value = (value << UInt32(n)) | part
            done += n
        }
        return value
    }
}
