import TraceModel
import TraceStore

/// Executed blocks of one thread gathered for one `TraceWriter.append(thread:blocks:)` call, in a reusable
/// buffer: the per-block path is a store and an increment, the writer is called once per batch.
/// Single-threaded. Flush before anything that must see the blocks in the writer (side events, ends).
final class BlockBatch {
    private let base: UnsafeMutablePointer<BlockID>
    private let capacity: Int
    private var count = 0
    private var thread: UInt32 = 0

    init(capacity: Int = 1 << 16) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    @inline(__always)
    func add(_ id: BlockID, thread: UInt32, to writer: TraceWriter) throws {
        if count == capacity || (thread != self.thread && count > 0) { try flush(to: writer) }
        self.thread = thread
        base[count] = id
        count &+= 1
    }

    /// Free space for `thread`'s next blocks (flushing first when the batch holds another thread's blocks or
    /// is full): write up to `room` ids at `start`, then call `commit(_:)` with how many were written.
    @inline(__always)
    func space(thread: UInt32, to writer: TraceWriter) throws -> (start: UnsafeMutablePointer<BlockID>, room: Int) {
        if count == capacity || (thread != self.thread && count > 0) { try flush(to: writer) }
        self.thread = thread
        return (base + count, capacity - count)
    }

    @inline(__always)
    func commit(_ written: Int) { count &+= written }

    func flush(to writer: TraceWriter) throws {
        guard count > 0 else { return }
        let n = count
        count = 0
        try writer.append(thread: thread, blocks: UnsafeBufferPointer(start: base, count: n))
    }
}
