/// Logistic mixing of two probabilities for the jcc "prediction is right" decision: the context
/// probability (TAGE provider, counter, ...) and the branch's own hit rate, weighted by learned weights.
/// Everything is integer arithmetic on fixed tables, so encoder and decoder agree on every machine.
///
/// Probabilities are 16-bit (of the decision being "yes"); the logistic domain ("stretch") is in units
/// of 1/256, clamped to +-2047 (+-8.0).
struct LogisticTables {
    /// stretch(p) for p >> 4 (4096 entries), the inverse of `squash`.
    let stretch: RawArray<Int16>

    /// 65536 / (1 + exp(-x / 2)) at x = -16 ... 16 (from a one-off computation; part of the format).
    private static let knots: [Int32] = [
        22, 36, 60, 98, 162, 267, 439, 720, 1179, 1921, 3108, 4971, 7812, 11955, 17625, 24743, 32768,
        40793, 47911, 53581, 57724, 60565, 62428, 63615, 64357, 64816, 65097, 65269, 65374, 65438, 65476,
        65500, 65514,
    ]
    private let knotTable: RawArray<Int32>

    init() {
        knotTable = RawArray(capacity: 33, fill: 0)
        for (i, k) in LogisticTables.knots.enumerated() { knotTable[i] = k }
        stretch = RawArray(capacity: 4096, fill: 2047)
        var next = 0
        for x in -2047...2047 {
            let v = Int(LogisticTables.squash(x, knotTable)) >> 4
            while next <= v && next < 4096 {
                stretch[next] = Int16(x)
                next += 1
            }
        }
    }

    func free() {
        stretch.free()
        knotTable.free()
    }

    @inline(__always)
    private static func squash(_ x: Int, _ knots: RawArray<Int32>) -> Int32 {
        let d = Swift.min(2047, Swift.max(-2047, x)) + 2048
        let i = d >> 7, w = Int32(d & 127)
        return (knots[i] * (128 - w) + knots[i + 1] * w) >> 7
    }

    /// 1 / (1 + exp(-x)) as a 16-bit probability, kept within [24, 65512].
    @inline(__always) func squash(_ x: Int) -> Int32 {
        Swift.min(65512, Swift.max(24, LogisticTables.squash(x, knotTable)))
    }

    /// Codes `bit` at the logistic mix of two stretched probabilities `s0` and `s1` with the weights at `w`
    /// (the two inputs' and the bias's, 1.0 = 65536; `squash` of the mix is the probability), then moves the
    /// weights toward the outcome at `rate`. The one mixing step of the jcc decision and of touch model 2.
    @inline(__always)
    static func codeMix<C: BitCoder>(_ coder: inout C, _ bit: Bool, _ s0: Int, _ s1: Int,
                                     weights w: UnsafeMutablePointer<Int32>, rate: Int,
                                     squash: (Int) -> Int32) -> Bool {
        let dot = (Int(w[0]) &* s0 &+ Int(w[1]) &* s1 &+ Int(w[2]) &* 256) >> 16
        let p = squash(dot)
        let decoded = coder.code(bit, probability: UInt32(p))
        let error = ((decoded ? 65536 : 0) - Int(p)) >> 4
        w[0] &+= Int32(truncatingIfNeeded: (s0 &* error &* rate) >> 16)
        w[1] &+= Int32(truncatingIfNeeded: (s1 &* error &* rate) >> 16)
        w[2] &+= Int32(truncatingIfNeeded: (256 &* error &* rate) >> 16)
        return decoded
    }
}
