#if canImport(Glibc)
import Glibc
#endif
import PlexLabWire
import TraceStore

/// The recorder's work while the guest runs (docs/recorder.md, "Record, then pack"): it takes the
/// plugin's stream as it comes and stores it in the trace's fast form, walking only the records' framing
/// (kind and length) to learn what the run did. Decoding blocks and the dense codec wait for the pack,
/// so the recorder keeps pace with the guest at a few nanoseconds per executed block.
struct StreamScan {
    private var header: UInt64 = 0
    private var headerBytes = 0
    private var remaining = 0
    private(set) var sawHello = false
    /// Records whose header was read.
    private(set) var records = 0
    private(set) var translations: UInt64 = 0
    /// Words of EVENTS records: TB ids, RUN words and side events (with RUN words far fewer than the TBs
    /// executed; 0 means that no guest code ran).
    private(set) var eventWords: UInt64 = 0

    /// Whether the stream so far ends on a record boundary.
    var atBoundary: Bool { headerBytes == 0 && remaining == 0 }

    /// Walks the framing of the next bytes of the stream; throws on a record no plugin sends.
    mutating func scan(_ bytes: UnsafeRawBufferPointer) throws {
        var i = 0
        let count = bytes.count
        while i < count {
            if remaining > 0 {
                let n = min(remaining, count - i)
                i += n
                remaining -= n
                continue
            }
            header |= UInt64(bytes[i]) << UInt64(8 * headerBytes)
            headerBytes += 1
            i += 1
            guard headerBytes == PluginWire.headerSize else { continue }
            let kind = UInt32(truncatingIfNeeded: header), length = Int(header >> 32)
            header = 0
            headerBytes = 0
            records += 1
            guard length <= PluginWire.maxPayload, (PluginWire.hello...PluginWire.execUnfollowed).contains(kind) else {
                throw RecorderError.protocolError(detail: "record of kind \(kind) claiming \(length) bytes")
            }
            guard sawHello || kind == PluginWire.hello else {
                throw RecorderError.protocolError(detail: "the stream starts with a record of kind \(kind), not HELLO")
            }
            switch kind {
            case PluginWire.hello: sawHello = true
            case PluginWire.translation: translations += 1
            case PluginWire.events: eventWords += UInt64(max(0, length - 8) / 4)
            default: break
            }
            remaining = length
        }
    }
}

/// Drains the plugins' rings into a fast-form trace until every process is gone and every ring is empty.
/// One source per process image: the first process's ring and pipe, then (process trees) a ring and a
/// connection per forked child or exec'd program, handed over the recorder's socket (plexlab_plugin.h).
/// Segments are compressed straight from a ring (no copy): one per `segmentBytes` of a stream (two where
/// the ring wraps), or what has waited a quarter of a second, so that a slow guest's stream is stored too
/// (and seen by `plexlab info` on the live recording). In a tree's fast form each segment names its
/// stream, and a stream's end is stored when its process image is gone and its ring is empty.
final class StreamSpool {
    /// One process image's channel: its ring, and the descriptor whose end of file says it is gone.
    private final class Source {
        let id: Int
        var ring: PluginRing?
        let fd: Int32
        let ownsDescriptor: Bool
        let pid: pid_t
        var scan = StreamScan()
        /// End of file on `fd`: the process image is gone; what is left in the ring is all there is.
        var gone = false

        init(id: Int, ring: PluginRing, fd: Int32, ownsDescriptor: Bool, pid: pid_t) {
            (self.id, self.ring, self.fd, self.ownsDescriptor, self.pid) = (id, ring, fd, ownsDescriptor, pid)
        }

        deinit { if ownsDescriptor && fd >= 0 { close(fd) } }
    }

    private let writer: FastFormWriter
    private let listener: Int32?
    private let maxProcesses: Int
    private var sources: [Source] = []
    private let segmentBytes = 4 << 20
    /// A stream's bytes wait at most this long before they are stored.
    private let patience = Duration.milliseconds(250)
    private(set) var bytesRead: UInt64 = 0
    /// Set once a process beyond `maxProcesses` connected: every recorded process was killed.
    private(set) var stoppedAtLimit = false

    /// `ring` and `pipe` are the first process's (pid `pid`); `listener` the socket the others connect to.
    init(ring: PluginRing, pipe: Int32, pid: pid_t, writer: FastFormWriter, listener: Int32? = nil,
         maxProcesses: Int = 1) {
        self.writer = writer
        self.listener = listener
        self.maxProcesses = maxProcesses
        sources = [Source(id: 0, ring: ring, fd: pipe, ownsDescriptor: false, pid: pid)]
    }

    /// The first stream's scan (the process the recorder started, its first image).
    var scan: StreamScan { sources[0].scan }
    /// Translations of every stream.
    var translations: UInt64 { sources.reduce(0) { $0 + $1.scan.translations } }
    /// Event words of every stream.
    var eventWords: UInt64 { sources.reduce(0) { $0 + $1.scan.eventWords } }
    /// Process images that connected (the first included).
    var streams: Int { sources.count }

    /// Returns when every process image is gone, everything it published is stored, and `rootExited()` says
    /// the recorded program has ended. `tick` is called after every stored segment (for a progress line).
    func run(rootExited: () -> Bool, tick: (_ eventWords: UInt64, _ bytes: UInt64) -> Void) throws {
        let clock = ContinuousClock()
        var lastStore = clock.now
        var fds: [pollfd] = []
        var waiting: [Source] = []
        while true {
            let late = clock.now - lastStore >= patience
            var stored = false
            for source in sources {
                guard let ring = source.ring else { continue }
                let available = ring.available
                if available >= segmentBytes || (available > 0 && (source.gone || late)) {
                    try store(source)
                    stored = true
                } else if available == 0 && source.gone {
                    try end(source)
                }
            }
            if stored || late { lastStore = clock.now }
            if stored {
                tick(eventWords, bytesRead)
                continue
            }
            waiting.removeAll(keepingCapacity: true)
            for source in sources where source.ring != nil && !source.gone { waiting.append(source) }
            if waiting.isEmpty && sources.allSatisfy({ $0.ring == nil }) && rootExited() {
                // A program exec'd by an orphan may still connect: one last look at the socket.
                if let listener, try accept(listener) { continue }
                break
            }
            fds.removeAll(keepingCapacity: true)
            for source in waiting { fds.append(pollfd(fd: source.fd, events: Int16(POLLIN), revents: 0)) }
            if let listener { fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
            // At most a millisecond: the plugin never wakes the recorder, so an empty ring costs the guest nothing.
            let ready = poll(&fds, nfds_t(fds.count), 1)
            guard ready > 0 else { continue }
            for (i, source) in waiting.enumerated() where fds[i].revents != 0 {
                source.gone = Self.ended(source.fd)
            }
            if let listener, fds.last!.revents != 0 { _ = try accept(listener) }
        }
    }

    /// Kills every process image recorded (and not gone yet).
    func killAll() {
        for source in sources where !source.gone { _ = kill(source.pid, SIGKILL) }
    }

    /// Stores what `source`'s ring holds, up to a segment.
    private func store(_ source: Source) throws {
        guard let ring = source.ring else { return }
        let drained = try ring.consume(limit: segmentBytes) { piece in
            try source.scan.scan(piece)
            try writer.append(piece, stream: source.id)
        }
        bytesRead += UInt64(drained)
    }

    /// `source`'s process image is gone and its ring empty: its stream ends.
    private func end(_ source: Source) throws {
        source.ring = nil
        if writer.tree { try writer.endStream(source.id) }
    }

    /// Accepts waiting connections, each a process image with its ring; true if there was one.
    private func accept(_ listener: Int32) throws -> Bool {
        var any = false
        while true {
            // The listener is non-blocking (ProcessSocket); accepted sockets are blocking on Linux.
            let fd = Glibc.accept(listener, nil, nil)
            if fd < 0 { return any }
            any = true
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            // The parent's FORK (or the old image's EXEC) was published before this process connected: storing
            // every ring first puts it ahead of this stream, so the pack reads them in that order.
            for source in sources { while (source.ring?.available ?? 0) > 0 { try store(source) } }
            let pid = pid_t(plexlab_peer_pid(fd))
            let ringFD = plexlab_receive_ring(fd, 5000)
            guard ringFD >= 0, let ring = PluginRing(adopting: ringFD) else {
                close(fd) // gone before it handed over a ring: nothing of it was recorded
                continue
            }
            if sources.count >= maxProcesses {
                // --max-processes: the tree is killed, the processes recorded so far stay whole.
                stoppedAtLimit = true
                killAll()
                if pid > 0 { _ = kill(pid, SIGKILL) }
                close(fd)
                continue
            }
            let source = Source(id: sources.count, ring: ring, fd: fd, ownsDescriptor: true, pid: pid)
            sources.append(source)
            try storeIdentity(source)
        }
    }

    /// Stores a new stream's HELLO and PROCESS at once, so that the processes of the trace come in the order
    /// they connected.
    private func storeIdentity(_ source: Source) throws {
        let clock = ContinuousClock()
        let started = clock.now
        while source.scan.records < 2 && !source.gone && clock.now - started < .seconds(2) {
            if (source.ring?.available ?? 0) > 0 {
                try store(source)
                continue
            }
            var poller = pollfd(fd: source.fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 1) > 0 { source.gone = Self.ended(source.fd) }
        }
    }

    /// Reads what came on a pipe or connection (nothing is expected); true at its end.
    private static func ended(_ fd: Int32) -> Bool {
        var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let n = withUnsafeMutableBytes(of: &scratch) { read(fd, $0.baseAddress, $0.count) }
        return n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)
    }
}
