#if canImport(Glibc)
import Glibc
#endif
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
    private(set) var translations: UInt64 = 0
    /// Words of EVENTS records: executed TBs plus side-event words (a bound on executed TBs).
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
            guard length <= PluginWire.maxPayload, (PluginWire.hello...PluginWire.exit).contains(kind) else {
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

/// Drains the plugin's ring into a fast-form trace until the process is gone (end of file on its pipe) and
/// the ring is empty. Segments are compressed straight from the ring (no copy): one per `segmentBytes` of
/// stream (two where the ring wraps), or what has waited a quarter of a second, so that a slow guest's
/// stream is stored too (and seen by `plexlab info` on the live recording).
final class StreamSpool {
    private let ring: PluginRing
    private let pipe: Int32
    private let writer: FastFormWriter
    private let segmentBytes = 4 << 20
    /// Empty polls (1 ms each) after which a partial segment is stored.
    private let patience = 250
    private(set) var scan = StreamScan()
    private(set) var bytesRead: UInt64 = 0

    init(ring: PluginRing, pipe: Int32, writer: FastFormWriter) {
        self.ring = ring
        self.pipe = pipe
        self.writer = writer
    }

    /// Returns when the plugin's process is gone and everything it published is stored. `tick` is called
    /// after every stored segment (for a progress line).
    func run(tick: (StreamScan, UInt64) -> Void) throws {
        var ended = false
        var waited = 0
        while true {
            let available = ring.available
            if available >= segmentBytes || (available > 0 && (ended || waited >= patience)) {
                let drained = try ring.consume(limit: segmentBytes) { piece in
                    try scan.scan(piece)
                    try writer.append(piece)
                }
                bytesRead += UInt64(drained)
                waited = 0
                tick(scan, bytesRead)
                continue
            }
            if ended { break }
            ended = waitForData()
            waited += 1
        }
    }
    /// Sleeps up to a millisecond on the pipe; true once the process is gone (every write end closed).
    /// The plugin then never waits on the recorder: the empty ring costs the guest no system call.
    private func waitForData() -> Bool {
        var poller = pollfd(fd: pipe, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 1) > 0 else { return false }
        var scratch = [UInt8](repeating: 0, count: 512)
        let n = read(pipe, &scratch, scratch.count)
        return n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)
    }
}
