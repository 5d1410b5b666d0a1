import PlexLabWire

/// The reader's copy of one plugin thread's successor table (plexlab_plugin.h, RUN; docs/recorder.md,
/// "Runs"): every executed TB id of the thread is noted as the plugin notes it, so the ids a RUN stands for
/// are the table's predictions, one after another. Unmanaged storage: the per-block path does no reference
/// counting or exclusivity check. A new thread (and the one thread of a forked child) starts with a new table.
final class SuccessorTable {
    static let slots = Int(PLEXLAB_SUCCESSOR_SLOTS)
    static let mask = UInt32(PLEXLAB_SUCCESSOR_SLOTS - 1)

    /// `next[prev & mask]`: the TB that followed the last TB with those low bits, last time.
    let next: UnsafeMutablePointer<UInt32>
    /// The TB executed last (0 before the first).
    var prev: UInt32 = 0

    init() {
        next = .allocate(capacity: Self.slots)
        next.initialize(repeating: 0, count: Self.slots)
    }

    deinit { next.deallocate() }

    /// The id the plugin predicts after `prev`.
    var predicted: UInt32 { next[Int(prev & Self.mask)] }

    /// TB `id` executed (a word of the stream, or one of a RUN).
    @inline(__always)
    func note(_ id: UInt32) {
        next[Int(prev & Self.mask)] = id
        prev = id
    }

    /// The `count` ids a RUN stands for, into `out` (capacity at least `count`), without noting them: the
    /// table does not change during a run (each id noted is the one already in its slot), only `prev` moves,
    /// and noting the ids as they are handled does that.
    func predict(_ count: Int, into out: UnsafeMutablePointer<UInt32>) {
        var at = prev
        for i in 0..<count {
            at = next[Int(at & Self.mask)]
            out[i] = at
        }
    }
}
