import TraceModel

/// Which touch model codes a chunk's touches (docs/block-codec.md, "Data touches"; docs/trace-format.md says
/// which traces use which).
public enum TouchModelVersion: UInt8, Sendable, CaseIterable {
    /// Per block, its last list (schema-6 traces; their payloads carry no model byte).
    case lastList = 1
    /// Per block, its last four distinct lists (schema 7 on: the payload's first byte is this raw value).
    /// Byte 3: byte 2 named its earlier forms (development builds up to 2026-12-06), which it does not decode:
    /// a blob that names 2 is refused in one line (`retiredListHistory`) instead of decoding wrong.
    case listHistory = 3

    /// The byte of touch model 2's earlier forms, refused (see `listHistory`).
    public static let retiredListHistory: UInt8 = 2

    /// The model new traces use.
    public static let current = TouchModelVersion.listHistory
}

/// Codes one guest thread's data touches chunk after chunk (docs/block-codec.md, "Data touches"): per executed
/// block, in order, its list of touched pages with loads and stores, predicted from the lists the same block
/// touched before on this thread. The model keeps a bounded number of lists per block id, so memory grows with
/// the distinct blocks the thread ran, as the block coder's does, never with the stream's length. State
/// carries across chunks: a thread's chunks are decoded in order by a `TouchStreamDecoder` of the same model
/// that saw the same earlier chunks.
public final class TouchStreamEncoder {
    private var state: TouchModels

    public init(model: TouchModelVersion = .current) { state = TouchModels(model) }

    /// The chunk's payload: `touches` (sorted by event index, every index in `firstEventIndex ..< +
    /// blocks.count`) coded against the chunk's executed `blocks`.
    public func encode(blocks: UnsafeBufferPointer<BlockID>, firstEventIndex: UInt64,
                       touches: ArraySlice<DataTouch>) -> [UInt8] {
        var coder = RangeEncoder(capacity: touches.count * 2 + 16)
        switch state {
        case .lastList(var model):
            state = .none
            model.encode(&coder, blocks: blocks, firstEventIndex: firstEventIndex, touches: touches)
            state = .lastList(model)
        case .listHistory(var model):
            state = .none
            model.encode(&coder, blocks: blocks, firstEventIndex: firstEventIndex, touches: touches)
            state = .listHistory(model)
        case .none: break
        }
        return coder.finish()
    }
}

/// The decoding side of `TouchStreamEncoder`.
public final class TouchStreamDecoder {
    private var state: TouchModels
    private var chunk = 0
    private var failed = false

    public init(model: TouchModelVersion = .current) { state = TouchModels(model) }

    /// The chunk's `count` touches, decoded from `payload` against its executed `blocks`. Once a chunk failed,
    /// every later one does (the state no longer matches the encoder's).
    public func decode(_ payload: UnsafeRawBufferPointer, blocks: [BlockID], firstEventIndex: UInt64,
                       count: Int) throws(BlockCodecError) -> [DataTouch] {
        defer { chunk += 1 }
        guard !failed else { throw .failedEarlier(chunk: chunk) }
        failed = true
        var coder = RangeDecoder(payload)
        var out: [DataTouch] = []
        out.reserveCapacity(count)
        let bad: Int?
        switch state {
        case .lastList(var model):
            state = .none
            bad = model.decode(&coder, blocks: blocks, firstEventIndex: firstEventIndex, count: count, into: &out)
            state = .lastList(model)
        case .listHistory(var model):
            state = .none
            bad = model.decode(&coder, blocks: blocks, firstEventIndex: firstEventIndex, count: count, into: &out)
            state = .listHistory(model)
        case .none: bad = 0
        }
        if let bad { throw .malformed(chunk: chunk, index: bad) }
        guard out.count == count else { throw .malformed(chunk: chunk, index: blocks.count) }
        guard coder.consumed <= payload.count + 4 else { throw .truncated(chunk: chunk, payloadBytes: payload.count) }
        failed = false
        return out
    }
}

/// One model's state (`none` only while a chunk is being coded: the state moves out, so it is not copied).
private enum TouchModels {
    case lastList(LastListTouchModel)
    case listHistory(ListHistoryTouchModel)
    case none

    init(_ version: TouchModelVersion) {
        switch version {
        case .lastList: self = .lastList(LastListTouchModel())
        case .listHistory: self = .listHistory(ListHistoryTouchModel())
        }
    }
}

/// A data touch as the models keep it (the event index is the block's).
struct PageTouch: Equatable {
    var page: UInt64
    var reads: UInt32
    var writes: UInt32
}

/// What the encoder and decoder need of a touch model: `code` codes one executed block's list in both
/// directions (one function, so they cannot drift apart); after a repeat, `repeated` >= 0 and
/// `repeatedList` is the list repeated.
protocol TouchListModel {
    typealias Touch = PageTouch
    init()
    var repeated: Int { get }
    func repeatedList(block: BlockID) -> ArraySlice<Touch>
    mutating func code<C: BitCoder>(_ coder: inout C, block: BlockID, list: inout [Touch], encoding: Bool) -> Bool
}

extension TouchListModel {
    /// Codes a chunk's touches (sorted by event index) against its blocks: one call per chunk, so the loop runs
    /// on the model without an access check per block.
    mutating func encode<C: BitCoder>(_ coder: inout C, blocks: UnsafeBufferPointer<BlockID>, firstEventIndex: UInt64,
                         touches: ArraySlice<DataTouch>) {
        var next = touches.startIndex
        var list: [Touch] = []
        for (offset, block) in blocks.enumerated() {
            let index = firstEventIndex &+ UInt64(offset)
            list.removeAll(keepingCapacity: true)
            while next < touches.endIndex && touches[next].eventIndex == index {
                let touch = touches[next]
                list.append(.init(page: touch.page, reads: touch.reads, writes: touch.writes))
                next += 1
            }
            _ = code(&coder, block: block, list: &list, encoding: true)
        }
    }

    /// Decodes a chunk's touches (at most `count`) into `out`; returns the index of the block where the payload
    /// stopped making sense, or nil.
    mutating func decode(_ coder: inout RangeDecoder, blocks: [BlockID], firstEventIndex: UInt64, count: Int,
                         into out: inout [DataTouch]) -> Int? {
        var list: [Touch] = []
        for (offset, block) in blocks.enumerated() {
            guard code(&coder, block: block, list: &list, encoding: false), coder.overrun == 0 else { return offset }
            let index = firstEventIndex &+ UInt64(offset)
            if repeated >= 0 {
                let kept = repeatedList(block: block)
                guard out.count + kept.count <= count else { return offset }
                for touch in kept {
                    out.append(DataTouch(eventIndex: index, page: touch.page, reads: touch.reads, writes: touch.writes))
                }
            } else {
                guard out.count + list.count <= count else { return offset }
                for touch in list {
                    out.append(DataTouch(eventIndex: index, page: touch.page, reads: touch.reads, writes: touch.writes))
                }
            }
        }
        return nil
    }

}

/// Touch model 1, the one of schema-6 traces (docs/block-codec.md, "Data touches", model 1): per block id,
/// its last list only. Kept as it was so that those traces stay readable.
struct LastListTouchModel: TouchListModel {

    static let pagesPerSlot = 8

    /// Per block id: id + 1 once its last list is kept (0: none, or it was longer than `pagesPerSlot`), that
    /// list's length and the list, and its decision history (`after`).
    private var keys: [UInt32] = []
    private var counts: [UInt8] = []
    private var history: [UInt8] = []
    private var cached: [Touch] = []
    /// After `code`: where in `cached` the list just repeated starts (the block's kept list), or -1.
    private(set) var repeated = -1
    func repeatedList(block: BlockID) -> ArraySlice<Touch> { cached[repeated..<(repeated + Int(counts[Int(block)]))] }
    /// Recent pages, page numbers and counts (coded as model 2 codes them).
    private var fields = TouchFields(recentPages: 16, keepsFarPages: false)

    /// "Same as last": per (block history 0-16, previous block's decision).
    private var same = [AdaptiveBit](repeating: AdaptiveBit(), count: 34)
    /// Whether the thread's previous block repeated its list (with the block's own history, the context).
    private var previousSame = false
    /// Per (cached value available, position 0/1/2+): page as predicted.
    private var pageHit = [AdaptiveBit](repeating: AdaptiveBit(), count: 6)

    /// Codes the touches of one execution of `block`: `list` is the input when encoding and the output when
    /// decoding. Returns false on a malformed payload (decoding only).
    mutating func code<C: BitCoder>(_ coder: inout C, block: BlockID, list: inout [Touch], encoding: Bool) -> Bool {
        repeated = -1
        let slot = Int(block)
        if slot >= keys.count { grow(to: slot + 1) }
        let hit = keys[slot] == block &+ 1
        let base = slot * Self.pagesPerSlot
        let cachedCount = hit ? Int(counts[slot]) : 0
        if hit {
            var equal = false
            if encoding {
                equal = list.count == cachedCount
                var i = 0
                while equal && i < cachedCount { equal = list[i] == cached[base + i]; i += 1 }
            }
            let context = Int(history[slot]) * 2 + (previousSame ? 1 : 0)
            previousSame = coder.code(equal, &same[context], shift: 5)
            if previousSame {
                // Decoding, the list stays as it is: `repeated` tells the caller to read the block's kept one.
                repeated = base
                history[slot] = Self.after(history[slot], same: true)
                fields.noteRecent(cached[base..<(base + cachedCount)])
                return true
            }
        }
        previousSame = false
        // The length, unary up to 16 in the context of whether a prediction exists, then 20 raw bits.
        guard let n = fields.codeLength(&coder, encoding ? list.count : 0, predicted: hit) else { return false }
        if !encoding { list = [Touch](repeating: Touch(page: 0, reads: 0, writes: 0), count: n) }
        for j in 0..<n {
            let predicted = j < cachedCount ? cached[base + j]
                : Touch(page: j > 0 ? list[j - 1].page : fields.lastPage, reads: 1, writes: 0)
            let context = (j < cachedCount ? 3 : 0) + Swift.min(j, 2)
            let actual = encoding ? list[j] : predicted
            var page = predicted.page
            let hasCached = j < cachedCount ? 1 : 0
            if !coder.code(actual.page == predicted.page, &pageHit[context], shift: 4) {
                guard let coded = fields.codePage(&coder, actual: actual.page, predicted: predicted.page,
                                                  hasKept: hasCached == 1, encoding: encoding) else { return false }
                page = coded
            }
            guard let (reads, writes) = fields.codeCounts(&coder, actual: actual, predicted: predicted,
                                                          context: context) else { return false }
            list[j] = Touch(page: page, reads: reads, writes: writes)
        }
        fields.noteRecent(list[...])
        history[slot] = hit ? Self.after(history[slot], same: false) : 0
        if n <= Self.pagesPerSlot {
            keys[slot] = block &+ 1
            counts[slot] = UInt8(n)
            for j in 0..<n { cached[base + j] = list[j] }
        } else {
            keys[slot] = 0
        }
        return true
    }

    /// A block's history after a decision: 0 none yet, else 1 + its last four decisions (1 = same) as bits.
    static func after(_ history: UInt8, same: Bool) -> UInt8 {
        let bits = history == 0 ? 0 : history - 1
        return 1 + (((bits << 1) | (same ? 1 : 0)) & 15)
    }

    /// Makes room for block ids below `count` (the table grows with the distinct blocks the thread runs).
    private mutating func grow(to count: Int) {
        let size = Swift.max(count, keys.count * 2, 1024)
        keys += [UInt32](repeating: 0, count: size - keys.count)
        counts += [UInt8](repeating: 0, count: size - counts.count)
        history += [UInt8](repeating: 0, count: size - history.count)
        cached += [Touch](repeating: Touch(page: 0, reads: 0, writes: 0), count: size * Self.pagesPerSlot - cached.count)
    }

}

/// What both touch models code the same way: a page that is neither predicted nor in a block's lists (one of
/// the thread's most recently touched pages, for model 2 one that fell out of them, else a number of pages from
/// the prediction), loads and stores, and the recent pages themselves. Model 1's paths stay as they were (its
/// payloads of schema-6 traces must decode); model 2's extra contexts are chosen by `role` >= 0, `own` >= 0 and
/// `keepsFarPages`.
struct TouchFields {
    /// How many recent pages: 16 (model 1), 32 (model 2).
    let recentPages: Int
    private let recentLevels: Int
    /// Longest list a decoder accepts (a block's touches per execution; the plugin's lists are far shorter).
    static let maxList = 1 << 16
    /// The last page coded on this thread (the prediction of a first page without a kept one).
    private(set) var lastPage: UInt64 = 0
    /// The thread's `recentPages` most recently touched distinct pages, most recent first (objects a block touches were
    /// often just touched by another block).
    private var recent: [UInt64]
    /// The thread's `i`th most recently touched distinct page (.max: none yet).
    func recentPage(_ i: Int) -> UInt64 { recent[i] }
    /// Length: unary "longer than i" per (prediction kind, i).
    private var length = [AdaptiveBit](repeating: AdaptiveBit(), count: 2 * 17)
    /// Per (kept value available, position 0/1/2+): loads as predicted, stores as predicted.
    /// Model 2 adds 6 x how the page was found (0 the front list, 1 an older list, then `lastSource`).
    private var readHit = [AdaptiveBit](repeating: AdaptiveBit(), count: 6 * 5)
    private var writeHit = [AdaptiveBit](repeating: AdaptiveBit(), count: 6 * 5)
    /// Model 2: loads / stores as predicted per (block id, position) hashed into `ownCounts` contexts (`own`),
    /// mixed with the shared contexts above.
    private var ownReadHit: [AdaptiveBit] = []
    private var ownWriteHit: [AdaptiveBit] = []
    private var countMixer = TwoInputMixer()
    static let ownCounts = 1 << 16
    /// How `codePage` coded the last page: 2 a recent page, 3 a far one, 4 a number of pages.
    private(set) var lastSource = 0
    /// Per (kept value available): the page is among the recent pages; which one, as a binary tree (4 levels
    /// for model 1, 5 for model 2). Model 2 adds a role context (`role` + 1: the block's role at this position
    /// and the role before, `ListHistoryTouchModel`), mixed with role context 0, which all its roles share;
    /// model 1 uses role context 0 only.
    private var recentHit: [AdaptiveBit]
    private var recentIndex: [AdaptiveBit]
    private var recentMixer = TwoInputMixer()
    /// Model 2: the pages that fell out of the recent pages, most recent last, in a ring of `farPages` (a page
    /// may be there more than once), and per hash of a page the sequence number of its latest place there; a
    /// page that is in neither is coded as a number of pages. Model 1 keeps none of this.
    private let keepsFarPages: Bool
    private var far: [UInt64] = []
    private var farPlace: [UInt64] = []
    private var farCount: UInt64 = 0
    static let farPages = 1024
    static let farPlaces = 4096
    /// "The page fell out of the recent pages", per (kept value available); its distance from the ring's newest
    /// end as Elias gamma.
    private var farHit = [AdaptiveBit](repeating: AdaptiveBit(), count: 2)
    private var farBits = [AdaptiveBit](repeating: AdaptiveBit(), count: 65)
    /// Whether a page delta is a whole number of pages (always, for recorded traces).
    private var aligned = AdaptiveBit()
    /// Elias-gamma bit lengths: page deltas, loads, stores.
    private var pageBits = [AdaptiveBit](repeating: AdaptiveBit(), count: 65)
    private var readBits = [AdaptiveBit](repeating: AdaptiveBit(), count: 65)
    private var writeBits = [AdaptiveBit](repeating: AdaptiveBit(), count: 65)

    init(recentPages: Int, keepsFarPages: Bool) {
        self.recentPages = recentPages
        recentLevels = recentPages.trailingZeroBitCount
        recent = [UInt64](repeating: .max, count: recentPages)
        let roleContexts = 1 + (recentPages + 2) * (recentPages + 2)
        recentHit = [AdaptiveBit](repeating: AdaptiveBit(), count: 2 * roleContexts)
        recentIndex = [AdaptiveBit](repeating: AdaptiveBit(), count: recentPages * roleContexts)
        self.keepsFarPages = keepsFarPages
        if keepsFarPages {
            ownReadHit = [AdaptiveBit](repeating: AdaptiveBit(), count: Self.ownCounts)
            ownWriteHit = [AdaptiveBit](repeating: AdaptiveBit(), count: Self.ownCounts)
            far = [UInt64](repeating: .max, count: Self.farPages)
            farPlace = [UInt64](repeating: .max, count: Self.farPlaces)
        }
    }

    /// Codes a list's length `given` (encoding): unary up to 16 in the context of whether the block has a
    /// prediction, then 20 raw bits. Returns the length, or nil when it is longer than a list can be.
    mutating func codeLength<C: BitCoder>(_ coder: inout C, _ given: Int, predicted: Bool) -> Int? {
        let kind = predicted ? 17 : 0
        var n = 0
        while n < 16 && coder.code(given > n, &length[kind + n], shift: 4) { n += 1 }
        if n == 16 { n += Int(coder.codeRaw(UInt32(truncatingIfNeeded: Swift.max(0, given - 16)), count: 20)) }
        return n <= Self.maxList ? n : nil
    }

    /// Codes `actual` (encoding) as one of the recent pages or as a signed number of pages from `predicted`;
    /// returns the page, or nil on a malformed payload.
    mutating func codePage<C: BitCoder>(_ coder: inout C, actual: UInt64, predicted: UInt64, hasKept: Bool,
                                        role: Int = -1, encoding: Bool) -> UInt64? {
        let roleContext = role + 1
        let index = encoding ? recent.firstIndex(of: actual) ?? -1 : -1
        lastSource = 2
        let kept = hasKept ? 1 : 0
        if role < 0 {
            // Model 1: one context.
            if coder.code(index >= 0, &recentHit[kept], shift: 4) {
                var node = 1
                for level in (0..<recentLevels).reversed() {
                    node = node * 2 + (coder.code((index >> level) & 1 == 1, &recentIndex[node], shift: 4) ? 1 : 0)
                }
                return recent[node - recentPages]
            }
        } else if recentMixer.code(&coder, index >= 0, in: &recentHit, roleContext * 2 + kept, kept, set: 0) {
            // Model 2: the role's context mixed with the one all roles share (role context 0, which model 2
            // does not otherwise use): a block whose roles vary does not pay for learning each.
            var node = 1
            for level in (0..<recentLevels).reversed() {
                let bit = recentMixer.code(&coder, (index >> level) & 1 == 1, in: &recentIndex,
                                           roleContext * recentPages + node, node, set: 1 + Swift.min(recentLevels - 1 - level, 2))
                node = node * 2 + (bit ? 1 : 0)
            }
            return recent[node - recentPages]
        }
        if keepsFarPages {
            lastSource = 3
            coder.enter(.far)
            var distance: UInt64 = .max
            if encoding {
                let place = farPlace[Self.farSlot(actual)]
                if place != .max && farCount - place <= UInt64(Self.farPages) && far[Int(place % UInt64(Self.farPages))] == actual {
                    distance = farCount - 1 - place
                }
            }
            if coder.code(distance != .max, &farHit[hasKept ? 1 : 0], shift: 4) {
                guard let coded = Self.codeNumber(&coder, distance &+ 1, &farBits), coded <= UInt64(Self.farPages),
                      coded <= farCount else { return nil }
                let page = far[Int((farCount - coded) % UInt64(Self.farPages))]
                return page
            }
        }
        lastSource = 4
        coder.enter(.delta)
        let delta = actual &- predicted
        var low: UInt64 = 0
        if !coder.code(delta & 0xFFF == 0, &aligned, shift: 5) {
            low = UInt64(coder.codeRaw(UInt32(truncatingIfNeeded: delta & 0xFFF), count: 12))
        }
        // Pages as a signed number of pages (zigzag), + 1 so that it is never 0.
        let pages = Int64(bitPattern: delta) >> 12
        let zigzag = UInt64(bitPattern: (pages << 1) ^ (pages >> 63))
        guard let coded = Self.codeNumber(&coder, zigzag &+ 1, &pageBits) else { return nil }
        let decodedPages = Int64(bitPattern: ((coded &- 1) >> 1)) ^ -Int64(bitPattern: (coded &- 1) & 1)
        return predicted &+ (UInt64(bitPattern: decodedPages) << 12 | low)
    }

    /// Codes loads and stores, each as "as predicted" (in `context`) or as Elias gamma of value + 1; nil on a
    /// malformed payload.
    mutating func codeCounts<C: BitCoder>(_ coder: inout C, actual: PageTouch, predicted: PageTouch,
                                          context: Int, own: Int = -1) -> (reads: UInt32, writes: UInt32)? {
        var reads = predicted.reads
        let readsAsPredicted = own < 0 ? coder.code(actual.reads == predicted.reads, &readHit[context], shift: 4)
            : countMixer.code(&coder, actual.reads == predicted.reads, &readHit[context], &ownReadHit[own], set: 0)
        if !readsAsPredicted {
            guard let coded = Self.codeNumber(&coder, UInt64(actual.reads) &+ 1, &readBits),
                  coded >= 1, coded <= UInt64(UInt32.max) + 1 else { return nil }
            reads = UInt32(coded - 1)
        }
        var writes = predicted.writes
        let writesAsPredicted = own < 0 ? coder.code(actual.writes == predicted.writes, &writeHit[context], shift: 4)
            : countMixer.code(&coder, actual.writes == predicted.writes, &writeHit[context], &ownWriteHit[own], set: 1)
        if !writesAsPredicted {
            guard let coded = Self.codeNumber(&coder, UInt64(actual.writes) &+ 1, &writeBits),
                  coded >= 1, coded <= UInt64(UInt32.max) + 1 else { return nil }
            writes = UInt32(coded - 1)
        }
        return (reads, writes)
    }

    /// Where `page` is among the recent pages (0 most recent), or `recentPages` when it is not.
    func recentPosition(of page: UInt64) -> Int {
        var i = 0
        while i < recentPages && recent[i] != page { i += 1 }
        return i
    }

    /// Moves the list's pages to the front of the recent pages, in list order (the last one first).
    mutating func noteRecent(_ list: ArraySlice<PageTouch>) {
        for touch in list {
            let page = touch.page
            let count = recentPages
            let evicted: UInt64 = recent.withUnsafeMutableBufferPointer { recent in
                if recent[0] == page { return .max }
                var i = 1
                while i < count - 1 && recent[i] != page { i += 1 }
                let evicted = recent[i] == page ? .max : recent[i]
                while i > 0 { recent[i] = recent[i - 1]; i -= 1 }
                recent[0] = page
                return evicted
            }
            if keepsFarPages && evicted != .max { pushFar(evicted) }
        }
        if let last = list.last { lastPage = last.page }
    }

    private static func farSlot(_ page: UInt64) -> Int {
        Int(truncatingIfNeeded: ((page >> 12) &* 0x9E37_79B9_7F4A_7C15) >> 52) & (farPlaces - 1)
    }

    /// Adds a page that fell out of the recent pages to the ring.
    private mutating func pushFar(_ page: UInt64) {
        far[Int(farCount % UInt64(Self.farPages))] = page
        farPlace[Self.farSlot(page)] = farCount
        farCount += 1
    }

    /// Codes `value` (>= 1) as Elias gamma: its bit length in unary, adaptive per length, then the bits below
    /// the leading one raw. Returns the value coded, or nil when a decoded length is impossible.
    static func codeNumber<C: BitCoder>(_ coder: inout C, _ value: UInt64, _ bits: inout [AdaptiveBit]) -> UInt64? {
        let length = 64 - value.leadingZeroBitCount
        var n = 1
        while n < 64 && coder.code(length > n, &bits[n], shift: 4) { n += 1 }
        var result: UInt64 = 1
        var left = n - 1
        while left > 0 {
            let piece = Swift.min(left, 16)
            left -= piece
            let raw = coder.codeRaw(UInt32(truncatingIfNeeded: (value >> UInt64(left)) & ((1 << UInt64(piece)) - 1)),
                                    count: piece)
            result = result << UInt64(piece) | UInt64(raw)
        }
        return result
    }
}
