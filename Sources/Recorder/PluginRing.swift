#if canImport(Glibc)
import Glibc
#endif
import PlexLabWire

/// The shared-memory ring the plugin writes its stream into (layout and protocol: plexlab_plugin.h). One
/// per recorded process: the recorder creates it, hands its descriptor to that process's plugin as
/// `ring=FD`, and consumes it; nothing in it is global.
final class PluginRing {
    /// The ring's descriptor, to pass to the child (closed by `closeDescriptor` once it has it).
    private(set) var descriptor: Int32
    let capacity: Int
    private let mapping: UnsafeMutableRawPointer
    private let header: UnsafeMutablePointer<plexlab_ring_header>
    private let data: UnsafeMutableRawPointer
    private var tail: UInt64 = 0

    /// 32 MiB: about 8 M executed blocks, tens of milliseconds of the fastest guest, so the recorder's
    /// pauses (a segment's compression and commit) never stop the guest; memory stays bounded.
    static let defaultCapacity = Int(PLEXLAB_RING_CAPACITY)

    /// Creates the ring in an unlinked file under /dev/shm (or $TMPDIR, /tmp).
    init(capacity: Int = PluginRing.defaultCapacity) throws {
        precondition(capacity >= 4096 && capacity & (capacity - 1) == 0, "ring capacity must be a power of two")
        self.capacity = capacity
        var fd: Int32 = -1
        var reasons: [String] = []
        for directory in ["/dev/shm", "/tmp"] {
            var template = Array("\(directory)/plexlab-ring-XXXXXX".utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            if fd >= 0 {
                template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
                break
            }
            reasons.append("\(directory): \(String(cString: strerror(errno)))")
        }
        guard fd >= 0 else { throw RecorderError.spawnFailed(detail: "cannot create the plugin's ring (\(reasons.joined(separator: "; ")))") }
        // Above the descriptors the child gets (3, 4, 5), so that no dup2 into them overwrites it first.
        let high = fcntl(fd, F_DUPFD_CLOEXEC, 10)
        close(fd)
        guard high >= 0 else { throw RecorderError.spawnFailed(detail: "cannot create the plugin's ring: \(String(cString: strerror(errno)))") }
        fd = high
        let size = Int(PLEXLAB_RING_HEADER_SIZE) + capacity
        guard ftruncate(fd, off_t(size)) == 0, let map = Self.map(fd, size: size) else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw RecorderError.spawnFailed(detail: "cannot map the plugin's ring: \(reason)")
        }
        descriptor = fd
        mapping = map
        header = map.bindMemory(to: plexlab_ring_header.self, capacity: 1)
        data = map + Int(PLEXLAB_RING_HEADER_SIZE)
        header.pointee.magic = PLEXLAB_RING_MAGIC
        header.pointee.version = PLEXLAB_RING_VERSION
        header.pointee.capacity = UInt64(capacity)
    }

    /// Maps a ring a plugin made itself (process trees: a forked child's or an exec'd program's, handed over
    /// its connection); nil when `fd` does not hold a PlexLab ring. `fd` is closed either way.
    init?(adopting fd: Int32) {
        defer { close(fd) }
        var info = stat()
        var found = plexlab_ring_header()
        guard fstat(fd, &info) == 0, info.st_size >= off_t(PLEXLAB_RING_HEADER_SIZE),
              pread(fd, &found, MemoryLayout<plexlab_ring_header>.size, 0) == MemoryLayout<plexlab_ring_header>.size,
              found.magic == PLEXLAB_RING_MAGIC, found.version == PLEXLAB_RING_VERSION,
              found.capacity >= 4096, found.capacity & (found.capacity - 1) == 0, found.capacity <= 1 << 30,
              info.st_size == off_t(PLEXLAB_RING_HEADER_SIZE) + off_t(found.capacity),
              let map = Self.map(fd, size: Int(info.st_size)) else { return nil }
        descriptor = -1
        capacity = Int(found.capacity)
        mapping = map
        header = map.bindMemory(to: plexlab_ring_header.self, capacity: 1)
        data = map + Int(PLEXLAB_RING_HEADER_SIZE)
        tail = plexlab_ring_load_tail(header)
    }

    private static func map(_ fd: Int32, size: Int) -> UnsafeMutableRawPointer? {
        guard let map = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), map != MAP_FAILED else { return nil }
        return map
    }

    deinit {
        closeDescriptor()
        munmap(mapping, Int(PLEXLAB_RING_HEADER_SIZE) + capacity)
    }

    func closeDescriptor() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    /// Bytes published and not consumed yet.
    var available: Int { Int(plexlab_ring_load_head(header) &- tail) }

    /// Hands `body` the published bytes (in at most two pieces, where the ring wraps), at most `limit`,
    /// then gives their room back to the plugin. Returns the bytes consumed.
    func consume(limit: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows -> Int {
        let count = min(available, limit)
        var done = 0
        while done < count {
            let at = Int(tail & UInt64(capacity - 1))
            let piece = min(count - done, capacity - at)
            try body(UnsafeRawBufferPointer(start: data + at, count: piece))
            done += piece
            tail &+= UInt64(piece)
        }
        if count > 0 { plexlab_ring_store_tail(header, tail) }
        return count
    }
}
