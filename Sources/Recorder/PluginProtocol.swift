#if canImport(Glibc)
import Glibc
#endif
import PlexLabWire
import TraceModel

/// The wire constants, from their one definition: plexlab_plugin.h (the PlexLabWire C module), which the
/// plugin compiles against too.
enum PluginWire {
    static let protocolVersion = UInt32(PLEXLAB_PROTOCOL_VERSION)
    /// Streams of protocol 3 (no RUN words) still read: fast forms recorded before RUN words.
    static let oldestProtocolVersion = UInt32(PLEXLAB_PROTOCOL_OLDEST)
    static let headerSize = 8
    /// Larger records are refused as corruption (the plugin's largest is a TB: under 70 KiB).
    static let maxPayload = Int(PLEXLAB_MAX_PAYLOAD)

    static let hello = PLEXLAB_REC_HELLO.rawValue
    static let translation = PLEXLAB_REC_TB.rawValue
    static let page = PLEXLAB_REC_PAGE.rawValue
    static let events = PLEXLAB_REC_EVENTS.rawValue
    static let module = PLEXLAB_REC_MODULE.rawValue
    static let threadEnd = PLEXLAB_REC_THREAD_END.rawValue
    static let end = PLEXLAB_REC_END.rawValue
    static let process = PLEXLAB_REC_PROCESS.rawValue
    static let fork = PLEXLAB_REC_FORK.rawValue
    static let exec = PLEXLAB_REC_EXEC.rawValue
    static let exit = PLEXLAB_REC_EXIT.rawValue
    static let reaped = PLEXLAB_REC_REAPED.rawValue
    static let execUnfollowed = PLEXLAB_REC_EXEC_UNFOLLOWED.rawValue
    static let systemTranslation = PLEXLAB_REC_SYSTEM_TB.rawValue

    static let flagDataPages = PLEXLAB_FLAG_DATA_PAGES.rawValue
    static let flagSystem = PLEXLAB_FLAG_SYSTEM.rawValue
    static let flagTouchCache = PLEXLAB_FLAG_TOUCH_CACHE.rawValue
    static let endMaxInstructions = PLEXLAB_END_MAX_INSNS.rawValue

    static let firstMarker: UInt32 = PLEXLAB_EV_FIRST_MARKER
    static let codeWrite: UInt32 = PLEXLAB_EV_CODE_WRITE
    static let syscall: UInt32 = PLEXLAB_EV_SYSCALL
    static let dataTouch: UInt32 = PLEXLAB_EV_DATA
    static let dataList: UInt32 = PLEXLAB_EV_DATA_LIST
    /// DATA_PAGES + n (n up to `touchPending`): a DATA_LIST's short form, 2 words a touch (protocol 6).
    static let dataPages: UInt32 = PLEXLAB_EV_DATA_PAGES
    static let dataPagesCountBits = UInt32(PLEXLAB_DATA_PAGES_COUNT_BITS)
    static let touchPending = UInt32(PLEXLAB_TOUCH_PENDING)
    /// The per-thread touch cache both sides keep (plexlab_plugin.h, DATA_LIST).
    static let touchCacheSlots = Int(PLEXLAB_TOUCH_CACHE_SLOTS)
    static let touchCachePages = Int(PLEXLAB_TOUCH_CACHE_PAGES)
    static let interrupt: UInt32 = PLEXLAB_EV_INTERRUPT
    static let exception: UInt32 = PLEXLAB_EV_EXCEPTION
    static let pageTableStore: UInt32 = PLEXLAB_EV_PT_STORE
    static let run: UInt32 = PLEXLAB_EV_RUN
}

/// One record from the plugin. Buffers borrow the reader's memory: valid only during the callback.
enum PluginRecord {
    struct Hello: Equatable {
        var version: UInt32
        var dataPages: Bool
        /// Data pages: a TB execution without a DATA_LIST repeats its cached touches (plexlab_plugin.h).
        var touchCache: Bool = false
        /// A whole-system stream (qemu-system): translations carry physical addresses, pages are physical.
        var system: Bool = false
        var maxInstructions: UInt64
        var skipInstructions: UInt64
        var target: String
    }

    struct Translation {
        var id: UInt32
        var address: UInt64
        /// One length per instruction.
        var instructionLengths: UnsafeRawBufferPointer
        var bytes: UnsafeRawBufferPointer
        /// System streams: the guest physical address of the first byte, and the physical page of the
        /// TB's second page when it spans two.
        var physicalAddress: UInt64? = nil
        var nextPhysicalPage: UInt64? = nil
    }

    struct End: Equatable {
        var stoppedAtMaxInstructions: Bool
        var threads: UInt32
        /// Counted only with --max-insns, --skip-insns or --data-pages (0 otherwise).
        var executedInstructions: UInt64
        var recordedInstructions: UInt64
    }

    /// Which process a stream is (its second record).
    struct Process: Equatable {
        var pid: Int32
        var parentPID: Int32
        var origin: TraceProcess.Origin
        /// Origin fork: the serial of the parent's FORK record.
        var forkSerial: UInt32
        /// Origin fork: TB ids below this were defined by the parent.
        var nextTB: UInt32
        /// QEMU's command line (qemu -plugin ... [-0 ARGV0] PROGRAM ARGS).
        var commandLine: [String]
    }

    case hello(Hello)
    case process(Process)
    /// The process is about to fork (`serial` counts its forks from 1); `thread` made the call.
    case fork(serial: UInt32, thread: UInt32)
    /// The process is about to execve a followed program.
    case exec
    /// The guest called exit_group or exit with this status.
    case exit(status: Int32)
    /// The guest reaped child `pid`, which ended with this wait status (exit code << 8, or the signal).
    case reaped(pid: Int32, waitStatus: Int32)
    /// The guest is about to execve a program the plugin cannot follow, for this reason.
    case execUnfollowed(reason: String)
    case translation(Translation)
    case page(address: UInt64, bytes: UnsafeRawBufferPointer)
    /// `words`: little-endian u32s, not necessarily aligned (read with `loadUnaligned`).
    case events(thread: UInt32, words: UnsafeRawBufferPointer)
    case module(ModuleMapping)
    case threadEnd(thread: UInt32)
    case end(End)
}

/// Splits the plugin's byte stream into records.
enum PluginProtocol {
    /// Parses every complete record at the start of `buffer`, calling `body` for each; returns the number
    /// of bytes consumed (a trailing partial record is left for the next call). `body` returns false to stop.
    static func parse(_ buffer: UnsafeRawBufferPointer, _ body: (PluginRecord) throws -> Bool) throws -> (consumed: Int, stopped: Bool) {
        var offset = 0
        while buffer.count - offset >= PluginWire.headerSize {
            let kind = buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            guard length <= PluginWire.maxPayload else {
                throw RecorderError.protocolError(detail: "record of kind \(kind) claims \(length) bytes")
            }
            guard buffer.count - offset - PluginWire.headerSize >= length else { break }
            let payload = UnsafeRawBufferPointer(rebasing: buffer[(offset + PluginWire.headerSize)..<(offset + PluginWire.headerSize + length)])
            let record = try decode(kind: kind, payload: payload)
            offset += PluginWire.headerSize + length
            if try !body(record) { return (offset, true) }
        }
        return (offset, false)
    }

    static func decode(kind: UInt32, payload p: UnsafeRawBufferPointer) throws -> PluginRecord {
        func need(_ count: Int, exact: Bool = false) throws {
            if p.count < count || (exact && p.count != count) {
                throw RecorderError.protocolError(detail: "record of kind \(kind) has \(p.count) bytes")
            }
        }
        func u32(_ at: Int) -> UInt32 { p.loadUnaligned(fromByteOffset: at, as: UInt32.self) }
        func u64(_ at: Int) -> UInt64 { p.loadUnaligned(fromByteOffset: at, as: UInt64.self) }
        func text(from start: Int) -> String { String(decoding: p[start...], as: UTF8.self) }

        switch kind {
        case PluginWire.hello:
            try need(24)
            return .hello(.init(version: u32(0), dataPages: u32(4) & PluginWire.flagDataPages != 0,
                                touchCache: u32(4) & PluginWire.flagTouchCache != 0,
                                system: u32(4) & PluginWire.flagSystem != 0, maxInstructions: u64(8), skipInstructions: u64(16), target: text(from: 24)))
        case PluginWire.translation, PluginWire.systemTranslation:
            // A system TB has two more u64s (physical address, next physical page) before the lengths.
            let header = kind == PluginWire.systemTranslation ? 36 : 20
            try need(header)
            let count = Int(u32(4)), byteCount = Int(u32(16))
            try need(header + count + byteCount, exact: true)
            guard count > 0, byteCount > 0 else {
                throw RecorderError.protocolError(detail: "empty translation block \(u32(0))")
            }
            let lengths = UnsafeRawBufferPointer(rebasing: p[header..<(header + count)])
            let bytes = UnsafeRawBufferPointer(rebasing: p[(header + count)...])
            guard lengths.reduce(0, { $0 + Int($1) }) == byteCount else {
                throw RecorderError.protocolError(detail: "translation block \(u32(0)): instruction lengths "
                                                  + "do not add up to \(byteCount) bytes")
            }
            var translation = PluginRecord.Translation(id: u32(0), address: u64(8), instructionLengths: lengths, bytes: bytes)
            if header == 36 {
                translation.physicalAddress = u64(20)
                translation.nextPhysicalPage = u64(28) == 0 ? nil : u64(28)
            }
            return .translation(translation)
        case PluginWire.page:
            try need(8 + CodePage.size, exact: true)
            return .page(address: u64(0), bytes: UnsafeRawBufferPointer(rebasing: p[8...]))
        case PluginWire.events:
            try need(8)
            guard (p.count - 8) % 4 == 0 else {
                throw RecorderError.protocolError(detail: "events record of \(p.count) bytes")
            }
            return .events(thread: u32(0), words: UnsafeRawBufferPointer(rebasing: p[8...]))
        case PluginWire.module:
            try need(24)
            return .module(ModuleMapping(start: u64(0), end: u64(8), fileOffset: u64(16), path: text(from: 24)))
        case PluginWire.threadEnd:
            try need(8, exact: true)
            return .threadEnd(thread: u32(0))
        case PluginWire.end:
            try need(24, exact: true)
            return .end(.init(stoppedAtMaxInstructions: u32(0) == PluginWire.endMaxInstructions, threads: u32(4),
                              executedInstructions: u64(8), recordedInstructions: u64(16)))
        case PluginWire.process:
            try need(24)
            let origin: TraceProcess.Origin
            switch u32(8) {
            case 0: origin = .start
            case 1: origin = .fork
            case 2: origin = .exec
            default: throw RecorderError.protocolError(detail: "process record with origin \(u32(8))")
            }
            var words = p[24...].split(separator: 0, omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self)
            }
            if words.last == "" { words.removeLast() }
            return .process(.init(pid: Int32(bitPattern: u32(0)), parentPID: Int32(bitPattern: u32(4)), origin: origin,
                                  forkSerial: u32(12), nextTB: u32(16), commandLine: words))
        case PluginWire.fork:
            try need(8, exact: true)
            return .fork(serial: u32(0), thread: u32(4))
        case PluginWire.exec:
            try need(8, exact: true)
            return .exec
        case PluginWire.exit:
            try need(8, exact: true)
            return .exit(status: Int32(bitPattern: u32(0)))
        case PluginWire.reaped:
            try need(8, exact: true)
            return .reaped(pid: Int32(bitPattern: u32(0)), waitStatus: Int32(bitPattern: u32(4)))
        case PluginWire.execUnfollowed:
            try need(8)
            return .execUnfollowed(reason: text(from: 8))
        default:
            throw RecorderError.protocolError(detail: "unknown record kind \(kind)")
        }
    }
}

/// Turns pieces of the plugin's stream, cut anywhere, into records (the pack reads the fast form's
/// segments through it).
final class PluginStreamParser {
    /// Larger than the largest record the protocol allows.
    private let capacity = PluginWire.maxPayload + (1 << 20)
    private let buffer: UnsafeMutableRawPointer
    private var filled = 0

    init() {
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Bytes of a record not complete yet (at the end of the stream: a truncated tail).
    var pending: Int { filled }

    /// Calls `body` for every record the bytes complete; returns true when `body` said stop. Throws on a
    /// malformed stream.
    func feed(_ bytes: UnsafeRawBufferPointer, _ body: (PluginRecord) throws -> Bool) throws -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = min(capacity - filled, bytes.count - offset)
            (buffer + filled).copyMemory(from: bytes.baseAddress! + offset, byteCount: n)
            filled += n
            offset += n
            let (consumed, stopped) = try PluginProtocol.parse(UnsafeRawBufferPointer(start: buffer, count: filled), body)
            if consumed > 0 {
                memmove(buffer, buffer + consumed, filled - consumed)
                filled -= consumed
            }
            if stopped { return true }
        }
        return false
    }
}
