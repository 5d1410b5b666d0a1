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

    /// Indexed by `ExitKind.rawValue`; the last entry is the thread's first block.
    public var byKind: [Entry] = Array(repeating: Entry(), count: ExitKind.allCases.count + 1)

    /// Runs the model over `blocks` (one thread's whole stream) without producing bytes.
    public init(blocks: UnsafeBufferPointer<BlockID>, definitions: [BlockDefinition]) {
        var model = SuccessorModel()
        defer { model.free() }
        var meter = CostMeter()
        definitions.withUnsafeBufferPointer { defs in
            for id in blocks {
                let kind = model.current == noBlock ? ExitKind.allCases.count : Int(model.blocks[Int(model.current)].kind)
                meter.bits = 0
                meter.decisions = 0
                meter.firstMissed = false
                if model.step(&meter, actual: id, defs) == noBlock { return }
                byKind[kind].transitions += 1
                byKind[kind].bits += meter.bits
                if meter.firstMissed { byKind[kind].misses += 1 }
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
