import Replay
import TraceModel
import X86Decode

/// Builds small in-memory traces from real x86-64 bytes: place code, then list executed block starts
/// and side events in order. Block definitions come from decoding the bytes, as the recorder does.
/// Bytes never placed read as hlt (F4), which ends a scan after one decoded instruction.
struct TraceScript {
    private var memory: [UInt64: [UInt8]] = [:]
    private var versions: [UInt64: UInt32] = [:]
    private var captured: [CodePage] = []
    private var definitions: [BlockDefinition] = []
    private var ids: [String: BlockID] = [:]
    private var chunks: [StreamChunk] = []
    private var nextIndex: [UInt32: UInt64] = [:]
    var hasDataTouches = false
    private let decoder = X86Decoder(arch: .x86_64)

    static let filler: UInt8 = 0xF4

    /// Writes code bytes (pages are captured at first execution).
    mutating func place(_ address: UInt64, _ bytes: [UInt8]) {
        for (offset, byte) in bytes.enumerated() {
            let at = address + UInt64(offset)
            let page = at & ~0xFFF
            if memory[page] == nil { memory[page] = [UInt8](repeating: Self.filler, count: 4096) }
            memory[page]![Int(at & 0xFFF)] = byte
        }
    }

    private mutating func capture(_ page: UInt64) {
        let version = versions[page] ?? 0
        if !captured.contains(where: { $0.address == page && $0.version == version }) {
            if memory[page] == nil { memory[page] = [UInt8](repeating: Self.filler, count: 4096) }
            captured.append(CodePage(address: page, version: version, bytes: memory[page]!))
        }
    }

    /// Executes the block starting at `address` on `thread`.
    mutating func exec(_ address: UInt64, thread: UInt32 = 0) {
        let page = address & ~0xFFF
        capture(page)
        let version = versions[page] ?? 0
        let key = "\(address)/\(version)"
        let id: BlockID
        if let known = ids[key] { id = known } else {
            var bytes = Array(memory[page]![Int(address & 0xFFF)...])
            if let next = memory[page + 0x1000] { bytes += next.prefix(16) }
            let shape = bytes.withUnsafeBytes { decoder.decodeBlock($0, at: address) }!
            if address & 0xFFF + UInt64(shape.length) > 0x1000 { capture(page + 0x1000) }
            id = BlockID(definitions.count)
            definitions.append(BlockDefinition(
                address: address, length: UInt32(shape.length), instructionCount: UInt32(shape.instructionCount),
                codeVersion: version, exitKind: shape.exitKind, staticTarget: shape.staticTarget,
                sensitiveCount: UInt16(shape.sensitiveCount), cpuidCount: UInt16(shape.cpuidCount),
                bytes: Array(bytes.prefix(shape.length))))
            ids[key] = id
        }
        let index = nextIndex[thread] ?? 0
        nextIndex[thread] = index + 1
        if chunks.last?.thread != thread {
            chunks.append(StreamChunk(sequence: UInt64(chunks.count), thread: thread, firstEventIndex: index, blocks: []))
        }
        chunks[chunks.count - 1].blocks.append(id)
    }

    /// Executes several blocks in order.
    mutating func exec(_ addresses: [UInt64], thread: UInt32 = 0) {
        for address in addresses { exec(address, thread: thread) }
    }

    /// A store by the thread's last executed block to a page holding code; `bytes` (if any) are written
    /// and the page gets a new version.
    mutating func codeWrite(_ address: UInt64, size: UInt32 = 1, bytes: [UInt8]? = nil, thread: UInt32 = 0) {
        let index = nextIndex[thread]! - 1
        chunks[chunks.count - 1].codeWrites.append(CodeWrite(eventIndex: index, address: address, size: size))
        if let bytes {
            place(address, bytes)
            let page = address & ~0xFFF
            versions[page] = (versions[page] ?? 0) + 1
            capture(page)
        }
    }

    /// Data accesses by the thread's last executed block.
    mutating func dataTouch(_ page: UInt64, reads: UInt32, writes: UInt32, thread: UInt32 = 0) {
        hasDataTouches = true
        let index = nextIndex[thread]! - 1
        chunks[chunks.count - 1].dataTouches.append(DataTouch(eventIndex: index, page: page, reads: reads, writes: writes))
    }

    var trace: InMemoryTrace {
        InMemoryTrace(
            metadata: TraceMetadata(program: "script", argv: [], arch: .x86_64, recorder: "test",
                                    recorderVersion: "1", host: "test", date: "2000-01-01T00:00:00Z",
                                    complete: true, hasDataTouches: hasDataTouches),
            definitions: definitions, pages: captured, chunks: chunks)
    }

    func replay(_ strategies: [String] = ["all"], _ parameters: [String] = []) throws -> TraceResults {
        try ReplayEngine.run(source: trace, path: "script", strategies: strategies,
                             parameters: ReplayParameters(arguments: parameters))
    }
}

/// Little-endian bytes of a 32-bit displacement from the end of an instruction at `at` of `length` bytes.
func rel32(from at: UInt64, length: UInt64, to target: UInt64) -> [UInt8] {
    let value = UInt32(truncatingIfNeeded: Int64(bitPattern: target &- (at + length)))
    return [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)]
}

func call(_ at: UInt64, _ target: UInt64) -> [UInt8] { [0xE8] + rel32(from: at, length: 5, to: target) }
func jmp(_ at: UInt64, _ target: UInt64) -> [UInt8] { [0xE9] + rel32(from: at, length: 5, to: target) }
let ret: [UInt8] = [0xC3]
let syscall: [UInt8] = [0x0F, 0x05]
let nop: [UInt8] = [0x90]
let jmpRax: [UInt8] = [0xFF, 0xE0]
let decEcx: [UInt8] = [0xFF, 0xC9]

extension StrategyResult {
    /// Nonzero counts only, for readable expectations.
    var nonzero: [TrapCause: UInt64] { counts.filter { $0.value != 0 } }
}
