/// Page number -> dense index (0, 1, 2, ... in order of insertion): open addressing with linear probing.
///
/// Code writes and data touches look their page up once per event; a `Dictionary<UInt64, _>` hashes
/// with SipHash, which costs more than the rest of the event's work. Page numbers are addresses shifted
/// right by at least 12, so `UInt64.max` never occurs and marks an empty slot.
struct PageNumberTable {
    private static let empty = UInt64.max
    private var keys: [UInt64]
    private var values: [Int32]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    @inline(__always)
    private static func slot(_ number: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (number &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// The index of `number`, or nil.
    @inline(__always)
    func index(of number: UInt64) -> Int? {
        var slot = Self.slot(number, mask)
        while true {
            let key = keys[slot]
            if key == number { return Int(values[slot]) }
            if key == Self.empty { return nil }
            slot = (slot + 1) & mask
        }
    }

    /// The index of `number`, inserting it with the next dense index when new.
    mutating func insert(_ number: UInt64) -> (index: Int, inserted: Bool) {
        precondition(number != Self.empty, "page number \(number) is reserved")
        if let known = index(of: number) { return (known, false) }
        if (count + 1) * 2 > keys.count { grow() }
        var slot = Self.slot(number, mask)
        while keys[slot] != Self.empty { slot = (slot + 1) & mask }
        keys[slot] = number
        values[slot] = Int32(count)
        count += 1
        return (count - 1, true)
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = [UInt64](repeating: Self.empty, count: oldKeys.count * 2)
        values = [Int32](repeating: -1, count: oldKeys.count * 2)
        mask = keys.count - 1
        for (key, value) in zip(oldKeys, oldValues) where key != Self.empty {
            var slot = Self.slot(key, mask)
            while keys[slot] != Self.empty { slot = (slot + 1) & mask }
            keys[slot] = key
            values[slot] = value
        }
    }
}

extension PageNumberTable {
    /// Every page number, at its index (for summaries, not hot paths).
    func keysByIndex() -> [UInt64] {
        var numbers = [UInt64](repeating: 0, count: count)
        for (key, value) in zip(keys, values) where key != Self.empty { numbers[Int(value)] = key }
        return numbers
    }
}
