import TraceModel

/// Where a stream's coded size goes: the model's ideal cost (-log2 of each coded decision's probability)
/// by exit kind of the block whose successor was coded. A diagnostic for tuning and for the benchmark.
public struct BlockStreamCost: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// Transitions out of blocks of this kind.
        public var transitions: Int = 0
        /// Ideal coded size of those transitions, in bits.
        public var bits: Double = 0
        /// Transitions whose first prediction missed.
        public var misses: Int = 0
    }

    /// Indexed by `ExitKind.rawValue`, then the thread's first block (`firstIndex`), then the blocks
    /// copied in copy runs (`copyIndex`; its bits are the run lengths).
    public var byKind: [Entry] = Array(repeating: Entry(), count: ExitKind.allCases.count + 2)
    public static var firstIndex: Int { ExitKind.allCases.count }
    public static var copyIndex: Int { ExitKind.allCases.count + 1 }

    /// Runs the model over `blocks` (one thread's whole stream) without producing bytes.
    public init(blocks: UnsafeBufferPointer<BlockID>, definitions: [BlockDefinition],
                variant: BlockCodecVariant = .full) {
        switch variant {
        case .full:
            var model = SuccessorModel<FullShape>()
            defer { model.free() }
            measure(blocks, definitions, &model)
        case .fast:
            var model = SuccessorModel<FastShape>()
            defer { model.free() }
            measure(blocks, definitions, &model)
        }
    }

    private mutating func measure<S>(_ blocks: UnsafeBufferPointer<BlockID>, _ definitions: [BlockDefinition],
                                     _ model: inout SuccessorModel<S>) {
        var meter = CostMeter()
        definitions.withUnsafeBufferPointer { defs in
            guard let input = UnsafeMutablePointer(mutating: blocks.baseAddress) else { return }
            let n = blocks.count
            var i = 0
            while i < n {
                if model.copyReady {
                    meter.bits = 0
                    let r = model.codeRun(&meter, input + i, remaining: n - i, decoding: false)
                    byKind[Self.copyIndex].transitions += r
                    byKind[Self.copyIndex].bits += meter.bits
                    if r < n - i { byKind[Self.copyIndex].misses += 1 }
                    i += r
                    if i == n { break }
                }
                let kind = model.current == noBlock ? Self.firstIndex : Int(model.blocks[Int(model.current)].kind)
                meter.bits = 0
                meter.decisions = 0
                meter.firstMissed = false
                if model.step(&meter, actual: input[i], defs) == noBlock { return }
                byKind[kind].transitions += 1
                byKind[kind].bits += meter.bits
                if meter.firstMissed { byKind[kind].misses += 1 }
                i += 1
            }
        }
    }
}

/// A `BitCoder` that only adds up -log2(probability) of the decisions.
struct CostMeter: BitCoder {
    var bits: Double = 0
    var decisions = 0
    var firstMissed = false

    mutating func code(_ bit: Bool, _ probability: inout AdaptiveBit, shift: Int) -> Bool {
        let p1 = Double(probability.p) / 65536
        bits += -log2(bit ? p1 : 1 - p1)
        if decisions == 0 && !bit { firstMissed = true }
        decisions += 1
        probability.update(bit, shift: shift)
        return bit
    }

    mutating func code(_ bit: Bool, probability p: UInt32) -> Bool {
        let p1 = Double(p) / 65536
        bits += -log2(bit ? p1 : 1 - p1)
        if decisions == 0 && !bit { firstMissed = true }
        decisions += 1
        return bit
    }

    mutating func codeRaw(_ value: UInt32, count: Int) -> UInt32 {
        bits += Double(count)
        decisions += 1
        return value
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The parts of a touch model's decisions (`TouchStreamCost`).
public enum TouchCostPart: Int, CaseIterable, Sendable {
    /// Which kept list a block repeats: the decisions of blocks that repeated one, and of blocks that did not.
    case choiceRepeat, choiceNew
    /// A new list's length.
    case length
    /// Per page of a new list: "as in the last list".
    case pageHit
    /// "The page at this position of an older list".
    case older
    /// "One of the recent pages" and which one.
    case recent
    /// Model 2: "a page that fell out of the recent pages" and which one.
    case far
    /// A number of pages from the prediction.
    case delta
    /// Loads and stores.
    case counts
}

/// Where a touch stream's coded size goes: the model's ideal cost (-log2 of each decision's probability) by
/// part of the model, over one thread's blocks and touches. A diagnostic for tuning (codec-bench --touches
/// --breakdown).
public struct TouchStreamCost: Sendable {
    /// Per `TouchCostPart`: bits, and how many times the model entered that part.
    public var bits = [Double](repeating: 0, count: TouchCostPart.allCases.count)
    public var entries = [Int](repeating: 0, count: TouchCostPart.allCases.count)

    /// Runs touch model `model` over `blocks` (event indices from 0) and `touches` without producing bytes.
    public init(blocks: UnsafeBufferPointer<BlockID>, touches: ArraySlice<DataTouch>,
                model: TouchModelVersion = .current) {
        var meter = TouchCostMeter()
        switch model {
        case .lastList:
            var m = LastListTouchModel()
            m.encode(&meter, blocks: blocks, firstEventIndex: 0, touches: touches)
        case .listHistory:
            var m = ListHistoryTouchModel()
            m.encode(&meter, blocks: blocks, firstEventIndex: 0, touches: touches)
        }
        meter.enter(.choiceRepeat)
        bits = meter.bits
        entries = meter.entries
    }
}

/// A `BitCoder` that adds up -log2(probability) of the decisions per `TouchCostPart`.
struct TouchCostMeter: BitCoder {
    var bits = [Double](repeating: 0, count: TouchCostPart.allCases.count)
    var entries = [Int](repeating: 0, count: TouchCostPart.allCases.count)
    private var inner = CostMeter()
    private var part = TouchCostPart.choiceRepeat

    mutating func enter(_ next: TouchCostPart) {
        bits[part.rawValue] += inner.bits
        inner.bits = 0
        part = next
        entries[next.rawValue] += 1
    }

    /// Moves the bits since the last `enter` to `part` (the choice's outcome is known after its decisions).
    mutating func retag(_ next: TouchCostPart) {
        entries[part.rawValue] -= 1
        entries[next.rawValue] += 1
        part = next
    }

    mutating func code(_ bit: Bool, _ probability: inout AdaptiveBit, shift: Int) -> Bool {
        inner.code(bit, &probability, shift: shift)
    }
    mutating func code(_ bit: Bool, probability p: UInt32) -> Bool { inner.code(bit, probability: p) }
    mutating func codeRaw(_ value: UInt32, count: Int) -> UInt32 { inner.codeRaw(value, count: count) }
}
