import TraceModel

/// A chunk cut into consecutive chunks of at most `size` blocks, each with the side events of its blocks.
/// Strategies treat chunk boundaries as any other point of a thread's stream, so replaying the slices in
/// order is replaying the chunk.
struct ChunkSlices {
    private let chunk: StreamChunk
    private let size: Int
    private var start = 0
    private var write = 0, syscall = 0, touch = 0, system = 0

    init(_ chunk: StreamChunk, size: Int) {
        self.chunk = chunk
        self.size = max(size, 1)
    }

    mutating func next() -> StreamChunk? {
        guard start < chunk.blocks.count else { return nil }
        let end = min(start + size, chunk.blocks.count)
        // Events are sorted by event index; those of blocks before `end` belong to this slice (the last
        // slice takes any that lie past the chunk's blocks, as the whole chunk would).
        let last = end == chunk.blocks.count ? Int.max : end
        func take<E>(_ events: [E], _ cursor: inout Int, _ index: (E) -> UInt64) -> [E] {
            let first = cursor
            while cursor < events.count && chunk.position(ofEvent: index(events[cursor])) < last { cursor += 1 }
            return first == cursor ? [] : Array(events[first..<cursor])
        }
        let slice = StreamChunk(
            sequence: chunk.sequence, thread: chunk.thread, firstEventIndex: chunk.firstEventIndex &+ UInt64(start),
            blocks: Array(chunk.blocks[start..<end]),
            codeWrites: take(chunk.codeWrites, &write, \.eventIndex),
            syscalls: take(chunk.syscalls, &syscall, \.eventIndex),
            dataTouches: take(chunk.dataTouches, &touch, \.eventIndex),
            systemEvents: take(chunk.systemEvents, &system, \.eventIndex),
            endsThread: chunk.endsThread && end == chunk.blocks.count)
        start = end
        return slice
    }
}
