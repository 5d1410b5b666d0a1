import TraceModel

/// A fixed-size heap array of plain values for per-block, per-page and per-thread replay state.
///
/// The per-block loops read and write these millions of times per second. A Swift `Array` stored in a
/// struct pays a uniqueness check on every write and a bounds check on every access; this type is a
/// reference to one allocation, so writes need no copy-on-write check, and indices are checked only
/// in debug builds (every index the strategies use comes from a validated block id or a dense page index).
final class StateArray<Element: BitwiseCopyable> {
    let count: Int
    private let base: UnsafeMutablePointer<Element>

    init(repeating value: Element, count: Int) {
        self.count = count
        base = .allocate(capacity: max(count, 1))
        base.initialize(repeating: value, count: max(count, 1))
    }

    /// A copy of `values`.
    init(_ values: [Element]) {
        count = values.count
        base = .allocate(capacity: max(count, 1))
        values.withUnsafeBufferPointer { source in
            if let start = source.baseAddress { base.initialize(from: start, count: count) }
        }
    }

    deinit { base.deallocate() }

    /// Reads and writes in place (a field of a struct element is updated without copying the element).
    @inline(__always)
    subscript(index: Int) -> Element {
        unsafeAddress {
            assert(index >= 0 && index < count, "state index \(index) out of 0..<\(count)")
            return UnsafePointer(base + index)
        }
        unsafeMutableAddress {
            assert(index >= 0 && index < count, "state index \(index) out of 0..<\(count)")
            return base + index
        }
    }

    /// The first element. The storage never moves, so a hot loop may keep this in a register while
    /// other code changes elements through the subscript.
    var pointer: UnsafeMutablePointer<Element> { base }
}

extension StreamChunk {
    /// The position in `blocks` of the block a side event belongs to (events are sorted by event index;
    /// one before the chunk's first block would belong to that block).
    @inline(__always)
    func position(ofEvent eventIndex: UInt64) -> Int {
        eventIndex <= firstEventIndex ? 0 : Int(clamping: eventIndex &- firstEventIndex)
    }
}
