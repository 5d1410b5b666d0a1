import TraceModel

/// Touch model 2 (docs/block-codec.md, "Data touches"): per block id, its last `listsPerBlock` distinct
/// touch lists, most recently used first. Per executed block: which of them it repeats, or a new list coded
/// against them. Both directions run `code`, so they cannot drift apart.
struct ListHistoryTouchModel: TouchListModel {
    typealias Touch = PageTouch

    static let listsPerBlock = 4
    static let pagesPerList = 8
    static let slotTouches = listsPerBlock * pagesPerList
    /// A kept list's length that marks it as not kept (it was longer than `pagesPerList`): it never matches.
    static let notKept: UInt8 = .max

    /// Per block id: id + 1 once it ran (0: never), its lists' lengths, its last two choices, the lists.
    private var keys: [UInt32] = []
    private var lengths: [UInt8] = []
    private var choices: [UInt8] = []
    /// Per block id and position below `pagesPerList`: where the page at that position was among the thread's
    /// recent pages the last time the block coded a new list (0..<recentPages; `notRecent`; `noRole`: no page
    /// there). A block that touches "the object the previous block just touched" keeps its role while the
    /// object changes. Noting roles on repeats too measured larger (and slower).
    private var roles: [UInt8] = []
    /// Per hash of a page: the page and the block count when the thread last touched it (a page whose slot
    /// another page took counts as never touched); a page touched in the last `freshAge` blocks is fresh.
    private var stampPages = [UInt64](repeating: .max, count: stampSlots)
    private var stamps = [UInt32](repeating: 0, count: stampSlots)
    private var clock: UInt32 = 0
    static let stampSlots = 4096
    static let freshAge: UInt32 = 32
    /// The roles of the run before (the same layout).
    private var olderRoles: [UInt8] = []
    static let recentPages = 32
    static let notRecent = UInt8(recentPages)
    static let noRole = notRecent + 1
    private var lists: [Touch] = []
    /// After `code`: where in `lists` the list just repeated starts, or -1.
    private(set) var repeated = -1
    func repeatedList(block: BlockID) -> ArraySlice<Touch> {
        lists[repeated..<(repeated + Int(lengths[Int(block) * Self.listsPerBlock]))]
    }
    /// Recent pages (32), the far ring, page numbers and counts.
    private var fields = TouchFields(recentPages: Self.recentPages, keepsFarPages: true)
    /// The thread's previous block's choice (0 repeat of its last list, 1-3 an older one, 4 new, 5 none yet).
    private var previousChoice = 5

    /// Choice: unary "is it list k" for k 0..<listsPerBlock, per (block id, its last two choices, the thread's
    /// previous block's choice, which kept lists hold the thread's 3 most recent pages, the role mask) hashed
    /// into a fixed table (so memory does not grow with the pairs seen), and k.
    private var choice = [AdaptiveBit](repeating: AdaptiveBit(), count: Self.choiceContexts << 2)
    static let choiceBits = 18
    /// The choice's dense context, mixed with the hashed one: per (k, the role mask, the thread's previous
    /// choice, the block's last two choices, the fresh mask); `choiceSignals` says what the masks are.
    private var denseChoice = [AdaptiveBit](repeating: AdaptiveBit(), count: denseChoiceContexts)
    static let denseChoiceContexts = listsPerBlock * 16 * 6 * 36 * 16
    private var choiceMixer = TwoInputMixer()
    static let choiceContexts = 1 << choiceBits
    /// Length: "same as the last list's" (when one is kept), else `TouchFields.codeLength`.
    private var sameLength = AdaptiveBit()
    /// `sameLength` per block id, hashed into 2^16 contexts, mixed with it (by `olderMixer` weight set 0, which
    /// the older lists, k >= 1, leave free).
    private var ownSameLength = [AdaptiveBit](repeating: AdaptiveBit(), count: 1 << 16)
    /// Per (last list has this position, position 0/1/2+) times (the position's role names no recent page, the
    /// predicted page, or another one) times (the predicted page is fresh): page as in the last list.
    private var pageHit = [AdaptiveBit](repeating: AdaptiveBit(), count: 18 * 2)
    /// The same decision per (block id, position), hashed into 2^16 contexts, mixed with `pageHit`: some
    /// blocks' positions hold one object, others' change every time.
    private var blockPageHit = [AdaptiveBit](repeating: AdaptiveBit(), count: 1 << 16)
    private var pageMixer = TwoInputMixer()
    /// `olderHit` per (block id, position, k), hashed into 2^16 contexts, mixed with it.
    private var blockOlderHit = [AdaptiveBit](repeating: AdaptiveBit(), count: 1 << 16)
    private var olderMixer = TwoInputMixer()
    /// A page that is not the last list's: "the page at this position of older list k" (k 1..<listsPerBlock).
    /// Per (k, the role names no recent page / the candidate / another page, the candidate is fresh).
    private var olderHit = [AdaptiveBit](repeating: AdaptiveBit(), count: listsPerBlock * 3 * 2)

    mutating func code<C: BitCoder>(_ coder: inout C, block: BlockID, list: inout [Touch], encoding: Bool) -> Bool {
        repeated = -1
        let slot = Int(block)
        if slot >= keys.count { grow(to: slot + 1) }
        let seen = keys[slot] == block &+ 1
        let base = slot * Self.slotTouches
        let lengthBase = slot * Self.listsPerBlock
        var picked = Self.listsPerBlock
        if seen {
            var match = -1
            if encoding {
                for k in 0..<Self.listsPerBlock where lengths[lengthBase + k] != Self.notKept
                    && Int(lengths[lengthBase + k]) == list.count {
                    let start = base + k * Self.pagesPerList
                    var equal = true
                    var i = 0
                    while equal && i < list.count { equal = list[i] == lists[start + i]; i += 1 }
                    if equal { match = k; break }
                }
            }
            picked = 0
            coder.enter(.choiceRepeat)
            let (holders, holder, fresh) = choiceSignals(slot: slot)
            let hash = UInt32(block) &* 0x9E37_79B1 ^ UInt32(choices[slot]) &* 0x85EB_CA6B ^ UInt32(previousChoice) &* 0xC2B2_AE35
                ^ UInt32(holders) &* 0x27D4_EB2F
                ^ UInt32(holder) &* 0x1656_67B1
            let context = Int(hash >> UInt32(32 - Self.choiceBits)) * Self.listsPerBlock
            let dense = (((fresh * 36 + Int(choices[slot])) * 6 + previousChoice) * 16 + holder) * Self.listsPerBlock
            while picked < Self.listsPerBlock
                && !choiceMixer.code(&coder, match == picked, &choice[context + picked], &denseChoice[dense + picked],
                                     set: picked) {
                picked += 1
            }
            if picked == Self.listsPerBlock { coder.retag(.choiceNew) }
            if picked < Self.listsPerBlock {
                guard lengths[lengthBase + picked] != Self.notKept else { return false }
                moveToFront(slot: slot, picked)
                repeated = base
                note(slot: slot, choice: picked)
                noteRoles(slot: slot, lists[base..<(base + Int(lengths[lengthBase]))], roles: false)
                fields.noteRecent(lists[base..<(base + Int(lengths[lengthBase]))])
                return true
            }
        }
        let last = seen && lengths[lengthBase] != Self.notKept ? Int(lengths[lengthBase]) : -1
        let cachedCount = Swift.max(last, 0)
        // The length: the last list's again, else unary up to 16 in the context of whether one is kept, then 20 raw bits.
        let given = encoding ? list.count : 0
        coder.enter(.length)
        let n: Int
        if last >= 0 && olderMixer.code(&coder, given == last, &sameLength,
                                        &ownSameLength[Int((UInt32(block) &* 0x9E37_79B1) >> 16)], set: 0) {
            n = last
        } else {
            guard let coded = fields.codeLength(&coder, given, predicted: last >= 0) else { return false }
            n = coded
        }
        if !encoding { list = [Touch](repeating: Touch(page: 0, reads: 0, writes: 0), count: n) }
        for j in 0..<n {
            let predicted = j < cachedCount ? lists[base + j]
                : Touch(page: j > 0 ? list[j - 1].page : fields.lastPage, reads: 1, writes: 0)
            let context = (j < cachedCount ? 3 : 0) + Swift.min(j, 2)
            let actual = encoding ? list[j] : predicted
            var page = predicted.page
            // Loads and stores as the list the page came from had them.
            var countsFrom = predicted
            var source = 0
            let hasCached = j < cachedCount ? 1 : 0
            coder.enter(.pageHit)
            let role = role(slot: slot, seen: seen, j)
            let roleAgrees = role >= Int(Self.notRecent) ? 0 : fields.recentPage(role) == predicted.page ? 1 : 2
            let blockPage = Int((UInt32(block) &* 0x9E37_79B1 ^ UInt32(j) &* 0x85EB_CA6B) >> 16)
            if !pageMixer.code(&coder, actual.page == predicted.page,
                               &pageHit[(roleAgrees * 6 + context) * 2 + (isFresh(predicted.page) ? 1 : 0)],
                               &blockPageHit[blockPage], set: Swift.min(j, 3)) {
                coder.enter(.older)
                // The page at this position of an older list (objects a block cycles through), else one of
                // the thread's recent pages, else a number of pages from the prediction.
                var found = false
                if seen {
                    for k in 1..<Self.listsPerBlock where lengths[lengthBase + k] != Self.notKept
                        && j < Int(lengths[lengthBase + k]) {
                        let candidate = lists[base + k * Self.pagesPerList + j].page
                        if candidate == predicted.page { continue }
                        let shared = (k * 3 + (roleAgrees == 0 ? 0 : fields.recentPage(role) == candidate ? 1 : 2)) * 2
                            + (isFresh(candidate) ? 1 : 0)
                        let own = Int((UInt32(block) &* 0x9E37_79B1 ^ UInt32(j) &* 0x85EB_CA6B ^ UInt32(k) &* 0xC2B2_AE35) >> 16)
                        if olderMixer.code(&coder, encoding && actual.page == candidate, &olderHit[shared],
                                           &blockOlderHit[own], set: k) {
                            page = candidate
                            countsFrom = lists[base + k * Self.pagesPerList + j]
                            source = 1
                            found = true
                            break
                        }
                    }
                }
                if !found {
                    coder.enter(.recent)
                    guard let coded = fields.codePage(&coder, actual: actual.page, predicted: predicted.page,
                                                      hasKept: hasCached == 1,
                                                      role: role * Int(Self.noRole + 1) + olderRole(slot: slot, seen: seen, j),
                                                      encoding: encoding) else { return false }
                    page = coded
                    source = fields.lastSource
                }
            }
            coder.enter(.counts)
            guard let (reads, writes) = fields.codeCounts(&coder, actual: actual, predicted: countsFrom,
                                                          context: source * 6 + context,
                                                          own: blockPage) else { return false }
            list[j] = Touch(page: page, reads: reads, writes: writes)
        }
        noteRoles(slot: slot, list[...], roles: true)
        fields.noteRecent(list[...])
        // The new list becomes the most recent one; the oldest goes.
        if !seen {
            keys[slot] = block &+ 1
            for k in 0..<Self.listsPerBlock { lengths[lengthBase + k] = Self.notKept }
            choices[slot] = 35
        }
        moveToFront(slot: slot, Self.listsPerBlock - 1)
        if n <= Self.pagesPerList {
            lengths[lengthBase] = UInt8(n)
            for j in 0..<n { lists[base + j] = list[j] }
        } else {
            lengths[lengthBase] = Self.notKept
        }
        note(slot: slot, choice: Self.listsPerBlock)
        return true
    }


    /// The role of the block's page at position `j` (`noRole` when unknown).
    private func role(slot: Int, seen: Bool, _ j: Int) -> Int {
        seen && j < Self.pagesPerList ? Int(roles[slot * Self.pagesPerList + j]) : Int(Self.noRole)
    }

    private static func stampSlot(_ page: UInt64) -> Int {
        Int(truncatingIfNeeded: ((page >> 12) &* 0x9E37_79B9_7F4A_7C15) >> 52) & (stampSlots - 1)
    }

    /// What the list choice's contexts know of the block's kept lists, in one pass over them:
    /// - `holders`: for each of the thread's 3 most recently touched pages, the first kept list that holds it
    ///   (listsPerBlock: none), as one number below 125 (the lists the objects just touched are in);
    /// - `roleMask`: the lists whose pages are the recent pages the block's roles name (at least one position
    ///   with a role among the recent pages, all such positions matching);
    /// - `freshMask`: the lists whose pages the thread all touched in its last `freshAge` blocks.
    private func choiceSignals(slot: Int) -> (holders: Int, roleMask: Int, freshMask: Int) {
        let base = slot * Self.slotTouches
        let lengthBase = slot * Self.listsPerBlock
        let roleBase = slot * Self.pagesPerList
        let p0 = fields.recentPage(0), p1 = fields.recentPage(1), p2 = fields.recentPage(2)
        var h0 = Self.listsPerBlock, h1 = Self.listsPerBlock, h2 = Self.listsPerBlock
        var roleMask = 0, freshMask = 0
        for k in 0..<Self.listsPerBlock where lengths[lengthBase + k] != Self.notKept {
            let start = base + k * Self.pagesPerList
            var named = 0
            var agree = true
            var fresh = true
            for j in 0..<Int(lengths[lengthBase + k]) {
                let page = lists[start + j].page
                if page == p0 { if h0 == Self.listsPerBlock { h0 = k } }
                else if page == p1 { if h1 == Self.listsPerBlock { h1 = k } }
                else if page == p2 { if h2 == Self.listsPerBlock { h2 = k } }
                let r = roles[roleBase + j]
                if r < Self.notRecent {
                    named += 1
                    if page != fields.recentPage(Int(r)) { agree = false }
                }
                if fresh && !isFresh(page) { fresh = false }
            }
            if agree && named > 0 { roleMask |= 1 << k }
            if fresh { freshMask |= 1 << k }
        }
        return (h0 + 5 * h1 + 25 * h2, roleMask, freshMask)
    }

    /// Whether the thread touched `page` in its last `freshAge` blocks.
    private func isFresh(_ page: UInt64) -> Bool {
        let h = Self.stampSlot(page)
        return stampPages[h] == page && clock &- stamps[h] <= Self.freshAge
    }


    /// The role of the block's page at position `j` the run before (`noRole` when unknown).
    private func olderRole(slot: Int, seen: Bool, _ j: Int) -> Int {
        seen && j < Self.pagesPerList ? Int(olderRoles[slot * Self.pagesPerList + j]) : Int(Self.noRole)
    }

    /// Notes where `list`'s pages are among the thread's recent pages, before they move to the front.
    private mutating func noteRoles(slot: Int, _ list: ArraySlice<Touch>, roles noting: Bool) {
        let base = slot * Self.pagesPerList
        clock &+= 1
        for touch in list {
            let h = Self.stampSlot(touch.page)
            stampPages[h] = touch.page
            stamps[h] = clock
        }
        guard noting else { return }
        var j = 0
        for touch in list.prefix(Self.pagesPerList) {
            olderRoles[base + j] = roles[base + j]
            roles[base + j] = UInt8(fields.recentPosition(of: touch.page))
            j += 1
        }
        while j < Self.pagesPerList { olderRoles[base + j] = roles[base + j]; roles[base + j] = Self.noRole; j += 1 }
    }


    /// Records the block's choice (0..<listsPerBlock a kept list, listsPerBlock a new one) in its history and
    /// as the thread's previous one.
    private mutating func note(slot: Int, choice: Int) {
        choices[slot] = UInt8((Int(choices[slot]) % 6) * 6 + choice)
        previousChoice = choice
    }

    /// Moves the block's list `k` to the front, the ones before it one place back.
    private mutating func moveToFront(slot: Int, _ k: Int) {
        guard k > 0 else { return }
        let base = slot * Self.slotTouches
        let lengthBase = slot * Self.listsPerBlock
        let length = lengths[lengthBase + k]
        let count = length == Self.notKept ? 0 : Int(length)
        var saved = (Touch(page: 0, reads: 0, writes: 0), Touch(page: 0, reads: 0, writes: 0),
                     Touch(page: 0, reads: 0, writes: 0), Touch(page: 0, reads: 0, writes: 0),
                     Touch(page: 0, reads: 0, writes: 0), Touch(page: 0, reads: 0, writes: 0),
                     Touch(page: 0, reads: 0, writes: 0), Touch(page: 0, reads: 0, writes: 0))
        withUnsafeMutableBytes(of: &saved) { raw in
            let buffer = raw.bindMemory(to: Touch.self)
            for i in 0..<count { buffer[i] = lists[base + k * Self.pagesPerList + i] }
            var m = k
            while m > 0 {
                let from = base + (m - 1) * Self.pagesPerList
                let to = base + m * Self.pagesPerList
                let c = lengths[lengthBase + m - 1] == Self.notKept ? 0 : Int(lengths[lengthBase + m - 1])
                for i in 0..<c { lists[to + i] = lists[from + i] }
                lengths[lengthBase + m] = lengths[lengthBase + m - 1]
                m -= 1
            }
            for i in 0..<count { lists[base + i] = buffer[i] }
            lengths[lengthBase] = length
        }
    }

    private mutating func grow(to count: Int) {
        let size = Swift.max(count, keys.count * 2, 1024)
        keys += [UInt32](repeating: 0, count: size - keys.count)
        choices += [UInt8](repeating: 0, count: size - choices.count)
        roles += [UInt8](repeating: Self.noRole, count: size * Self.pagesPerList - roles.count)
        olderRoles += [UInt8](repeating: Self.noRole, count: size * Self.pagesPerList - olderRoles.count)
        lengths += [UInt8](repeating: Self.notKept, count: size * Self.listsPerBlock - lengths.count)
        lists += [Touch](repeating: Touch(page: 0, reads: 0, writes: 0), count: size * Self.slotTouches - lists.count)
    }
}
