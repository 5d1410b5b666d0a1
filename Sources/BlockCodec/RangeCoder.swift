/// Binary range coder (LZMA-style carry propagation) with adaptive 16-bit probabilities.
///
/// The model codes every decision through `BitCoder.code(_:_:)`, which the encoder implements by writing
/// the given bit and the decoder by ignoring it and returning the bit it reads, so one model function
/// drives both directions and they cannot drift apart.

/// Adaptive probability that a decision is 1, in units of 1/65536.
///
/// It adapts at rate 1/(n+1.5) for its first updates (fast learning of a fresh context), then at the fixed
/// rate 2^-shift, which lets heavily skewed contexts (successor hits) reach a miss probability near
/// 2^-(16-shift) (about 0.0007 bits per hit at shift 5).
struct AdaptiveBit {
    var p: UInt16 = 32768
    var n: UInt16 = 0

    @inline(__always)
    mutating func update(_ bit: Bool, shift: Int) {
        let target: Int32 = bit ? 65535 : 0
        let diff = target - Int32(p)
        var q: Int32
        if Int(n) >= (1 << shift) - 2 {
            q = Int32(p) + (diff >> Int32(shift))
        } else {
            q = Int32(p) + (diff * 2) / (Int32(n) * 2 + 3)
            n &+= 1
        }
        q = Swift.min(Swift.max(q, 24), 65512)
        p = UInt16(truncatingIfNeeded: q)
    }
}

/// Something that codes one binary decision with an adaptive probability: the encoder or the decoder.
protocol BitCoder {
    /// Codes `bit` (the encoder) or decodes a bit (the decoder, which ignores the argument); returns the
    /// bit coded and adapts `probability` to it.
    mutating func code(_ bit: Bool, _ probability: inout AdaptiveBit, shift: Int) -> Bool
    /// Codes `bit` (or decodes one) at the fixed probability `p` (of 1, in 1/65536) without adapting it.
    mutating func code(_ bit: Bool, probability p: UInt32) -> Bool
    /// Codes `count` (<= 24) raw bits of `value` at probability 1/2, most significant first.
    mutating func codeRaw(_ value: UInt32, count: Int) -> UInt32
    /// Says which part of a model the following decisions belong to (`TouchStreamCost`); the coders ignore it.
    mutating func enter(_ part: TouchCostPart)
    /// Moves the decisions since the last `enter` to `part`; the coders ignore it.
    mutating func retag(_ part: TouchCostPart)
}

extension BitCoder {
    @inline(__always) mutating func enter(_ part: TouchCostPart) {}
    @inline(__always) mutating func retag(_ part: TouchCostPart) {}
}

struct RangeEncoder: BitCoder {
    private var low: UInt64 = 0
    private var range: UInt32 = 0xFFFF_FFFF
    private var cache: UInt8 = 0
    private var cacheSize: Int = 1
    /// The first byte LZMA-style coders emit is always 0; it is dropped.
    private var droppedFirst = false
    var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    @inline(__always)
    private mutating func emit(_ b: UInt8) {
        if droppedFirst { bytes.append(b) } else { droppedFirst = true }
    }

    @inline(__always)
    private mutating func shiftLow() {
        if low < 0xFF00_0000 || low >= 0x1_0000_0000 {
            let carry = UInt8(truncatingIfNeeded: low >> 32)
            emit(cache &+ carry)
            while cacheSize > 1 {
                emit(0xFF &+ carry)
                cacheSize -= 1
            }
            cacheSize = 0
            cache = UInt8(truncatingIfNeeded: low >> 24)
        }
        cacheSize += 1
        low = (low & 0x00FF_FFFF) << 8
    }

    @inline(__always)
    mutating func code(_ bit: Bool, _ probability: inout AdaptiveBit, shift: Int) -> Bool {
        _ = code(bit, probability: UInt32(probability.p))
        probability.update(bit, shift: shift)
        return bit
    }

    @inline(__always)
    mutating func code(_ bit: Bool, probability p: UInt32) -> Bool {
        let bound = (range >> 16) &* p
        if bit {
            range = bound
        } else {
            low &+= UInt64(bound)
            range &-= bound
        }
        while range < (1 << 24) {
            range <<= 8
            shiftLow()
        }
        return bit
    }

    mutating func codeRaw(_ value: UInt32, count: Int) -> UInt32 {
        var i = count
        while i > 0 {
            i -= 1
            range >>= 1
            if (value >> UInt32(i)) & 1 == 1 { low &+= UInt64(range) }
            while range < (1 << 24) {
                range <<= 8
                shiftLow()
            }
        }
        return value
    }

    /// Writes the final bytes; the encoder must not be used afterwards.
    mutating func finish() -> [UInt8] {
        for _ in 0..<5 { shiftLow() }
        return bytes
    }
}

struct RangeDecoder: BitCoder {
    private var code: UInt32 = 0
    private var range: UInt32 = 0xFFFF_FFFF
    private let base: UnsafePointer<UInt8>?
    private let end: Int
    /// Index of the next payload byte; it may pass `end`, in which case zeros are read and the caller
    /// reports a truncated payload.
    private(set) var position: Int = 0

    init(_ payload: UnsafeRawBufferPointer) {
        base = payload.baseAddress?.assumingMemoryBound(to: UInt8.self)
        end = payload.count
        for _ in 0..<4 { code = (code << 8) | UInt32(nextByte()) }
    }

    /// Bytes read beyond the payload (non-zero means it was truncated or malformed).
    var overrun: Int { Swift.max(0, position - end) }
    var consumed: Int { position }

    @inline(__always)
    private mutating func nextByte() -> UInt8 {
        let i = position
        position &+= 1
        if i < end, let base { return base[i] }
        return 0
    }

    @inline(__always)
    mutating func code(_ bit: Bool, _ probability: inout AdaptiveBit, shift: Int) -> Bool {
        let decoded = code(bit, probability: UInt32(probability.p))
        probability.update(decoded, shift: shift)
        return decoded
    }

    @inline(__always)
    mutating func code(_ bit: Bool, probability p: UInt32) -> Bool {
        let bound = (range >> 16) &* p
        let decoded: Bool
        if code < bound {
            range = bound
            decoded = true
        } else {
            code &-= bound
            range &-= bound
            decoded = false
        }
        while range < (1 << 24) {
            range <<= 8
            code = (code << 8) | UInt32(nextByte())
        }
        return decoded
    }

    mutating func codeRaw(_ value: UInt32, count: Int) -> UInt32 {
        var result: UInt32 = 0
        var i = count
        while i > 0 {
            i -= 1
            range >>= 1
            var bit: UInt32 = 0
            if code >= range {
                code &-= range
                bit = 1
            }
            result = (result << 1) | bit
            while range < (1 << 24) {
                range <<= 8
                code = (code << 8) | UInt32(nextByte())
            }
        }
        return result
    }
}
