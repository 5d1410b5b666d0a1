/// Plain growable storage for the predictor. The predictor is a struct copied into a local variable for
/// the duration of a chunk, so its tables are raw pointers (no copy-on-write, no exclusivity checks in
/// the per-block loop); `BlockStreamEncoder`/`BlockStreamDecoder` free them in `deinit`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The match model's window: 2^maxWindowBits ids reserved once as untouched anonymous memory, which the
/// kernel maps as zero pages on first use. Each id is stored complemented, so a slot never written reads as
/// `noBlock`, as the model requires. Doubling the window is then only a wider mask (slot i holds position
/// i until the window stops growing): no copy, no fill, and a stream touches only the pages its positions
/// reach. Past the first 2 MiB the reservation asks for transparent huge pages: for a long stream a few
/// 2 MiB faults replace thousands of 4 KiB ones, while short streams (tests, fuzzing) stay on small pages.
struct MatchWindow {
    let base: UnsafeMutablePointer<UInt32>
    private let mapping: UnsafeMutableRawPointer
    private let mappingSize: Int

    init(entries: Int) {
        let hugePage = 2 << 20
        let bytes = entries * MemoryLayout<UInt32>.stride
        mappingSize = bytes + hugePage
        guard let mapped = mmap(nil, mappingSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapped != UnsafeMutableRawPointer(bitPattern: -1) else {
            fatalError("BlockCodec: cannot reserve \(mappingSize) bytes for the match window")
        }
        mapping = mapped
        // Aligned to 2 MiB so the part past the first 2 MiB can be backed by whole huge pages.
        let aligned = (Int(bitPattern: mapped) + hugePage - 1) & ~(hugePage - 1)
        let start = UnsafeMutableRawPointer(bitPattern: aligned)!
        #if os(Linux)
        if bytes > hugePage { _ = madvise(start + hugePage, bytes - hugePage, MADV_HUGEPAGE) }
        #endif
        base = start.bindMemory(to: UInt32.self, capacity: entries)
    }

    func free() { munmap(mapping, mappingSize) }

    @inline(__always) subscript(i: Int) -> UInt32 {
        get { ~base[i] }
        nonmutating set { base[i] = ~newValue }
    }
}

/// An array of `T` that only grows; new slots are filled with `fill`.
struct RawArray<T> {
    private(set) var base: UnsafeMutablePointer<T>
    private(set) var capacity: Int
    let fill: T

    init(capacity: Int, fill: T) {
        self.capacity = Swift.max(capacity, 1)
        self.fill = fill
        base = .allocate(capacity: self.capacity)
        base.initialize(repeating: fill, count: self.capacity)
    }

    /// Makes indices `0 ..< count` valid.
    mutating func ensure(_ count: Int) {
        guard count > capacity else { return }
        var newCapacity = capacity
        while newCapacity < count { newCapacity *= 2 }
        let grown = UnsafeMutablePointer<T>.allocate(capacity: newCapacity)
        grown.moveInitialize(from: base, count: capacity)
        (grown + capacity).initialize(repeating: fill, count: newCapacity - capacity)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    func free() {
        base.deinitialize(count: capacity)
        base.deallocate()
    }

    @inline(__always) subscript(i: Int) -> T {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
}

/// Open-addressing map from a block start address to the id of the latest block known at that address.
struct AddressMap {
    private var keys: RawArray<UInt64>
    private var values: RawArray<UInt32>
    private var mask: Int
    private var count = 0
    /// Address 0 marks an empty slot, so the (never executed) address 0 is stored as this key instead.
    private static var zeroKey: UInt64 { 0xFFFF_FFFF_FFFF_FFFF }

    init() {
        keys = RawArray(capacity: 1024, fill: 0)
        values = RawArray(capacity: 1024, fill: noBlock)
        mask = 1023
    }

    func free() {
        keys.free()
        values.free()
    }

    @inline(__always) private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
    }

    /// The latest block at `address`, or `noBlock`.
    @inline(__always) func lookup(_ address: UInt64) -> UInt32 {
        let key = address == 0 ? AddressMap.zeroKey : address
        var i = AddressMap.slot(key, mask)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == 0 { return noBlock }
            i = (i + 1) & mask
        }
    }

    mutating func insert(_ address: UInt64, _ id: UInt32) {
        if (count + 1) * 2 > mask + 1 { grow() }
        let key = address == 0 ? AddressMap.zeroKey : address
        var i = AddressMap.slot(key, mask)
        while true {
            let k = keys[i]
            if k == key {
                values[i] = id
                return
            }
            if k == 0 {
                keys[i] = key
                values[i] = id
                count += 1
                return
            }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values, oldSize = mask + 1
        let size = oldSize * 2
        keys = RawArray(capacity: size, fill: 0)
        values = RawArray(capacity: size, fill: noBlock)
        mask = size - 1
        for j in 0..<oldSize where oldKeys[j] != 0 {
            var i = AddressMap.slot(oldKeys[j], mask)
            while keys[i] != 0 { i = (i + 1) & mask }
            keys[i] = oldKeys[j]
            values[i] = oldValues[j]
        }
        oldKeys.free()
        oldValues.free()
    }
}
