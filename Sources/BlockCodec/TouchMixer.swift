/// Logistic mix of two adaptive probabilities of one decision (touch model 2's list choice: a sparse context
/// that knows the block, a dense one that learns fast), with learned weights per set (at most 4 sets); the
/// same mixing step as the jcc decision (`LogisticTables.codeMix`), so encoder and decoder agree on every machine.
struct TwoInputMixer {
    /// Per set, 4 lanes: the weights of the two inputs and of the bias (1.0 = 65536), and one unused lane
    /// (inline, so the hot path does no copy-on-write check).
    private var weights = SIMD16<Int32>(repeating: 0)
    static let rate = 24
    static let sets = 4

    /// stretch(p >> 4) and squash(x + 2047), x = -2047 ... 2047, computed once from `LogisticTables`.
    private static let tables: (stretch: [Int16], squash: [Int32]) = {
        let tables = LogisticTables()
        defer { tables.free() }
        return ((0..<4096).map { tables.stretch[$0] }, (-2047...2047).map { tables.squash($0) })
    }()

    private let stretch: [Int16]
    private let squash: [Int32]

    init() {
        stretch = Self.tables.stretch
        squash = Self.tables.squash
        for set in 0..<Self.sets {
            weights[set * 4] = 45000
            weights[set * 4 + 1] = 25000
        }
    }

    /// `code` with both inputs in one table (`first` != `second`).
    mutating func code<C: BitCoder>(_ coder: inout C, _ bit: Bool, in table: inout [AdaptiveBit], _ first: Int, _ second: Int,
                                    set: Int) -> Bool {
        var a = table[first], b = table[second]
        let decoded = code(&coder, bit, &a, &b, set: set)
        table[first] = a
        table[second] = b
        return decoded
    }

    /// Codes `bit` at the mix of `first` and `second` (weights `set`, below 4); both adapt to the outcome (at
    /// shifts 4 and 5), so do the weights.
    mutating func code<C: BitCoder>(_ coder: inout C, _ bit: Bool, _ first: inout AdaptiveBit, _ second: inout AdaptiveBit,
                                    set: Int) -> Bool {
        let s0 = Int(stretch[Int(first.p >> 4)])
        let s1 = Int(stretch[Int(second.p >> 4)])
        let w = set * 4
        let squash = squash
        return withUnsafeMutableBytes(of: &weights) { raw in
            let weights = raw.baseAddress!.assumingMemoryBound(to: Int32.self) + w
            let decoded = LogisticTables.codeMix(&coder, bit, s0, s1, weights: weights, rate: Self.rate) {
                squash[Swift.min(2047, Swift.max(-2047, $0)) + 2047]
            }
            first.update(decoded, shift: 4)
            second.update(decoded, shift: 5)
            return decoded
        }
    }
}
