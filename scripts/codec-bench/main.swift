// codec-bench: measures BlockCodec on block stream files written by scripts/qemu-log-to-blocks.py.
//
//   codec-bench FILE.blk|FILE.plextrace [--chunk N] [--refs DIR] [--repeat N] [--digest] [--encode-only] [--fast]
//
// A .plextrace file gives its first thread's recorded block stream and the trace's block definitions.
// --fast uses BlockCodecVariant.fast (codec 2) instead of .full (codec 1).
// --limit N uses only the first N blocks; --save-blk OUT writes the (limited) stream as a .blk file and exits
// (.blk files load without decoding a trace: for instruction counts under valgrind).
// --encode-only prints name, blocks, bytes, bits/block and encode ns/block only.
// --touches codes the data touches of the first thread of a packed `--data-pages` trace (or of a .tch file) with
// the touch model, checks the round trip and prints name, blocks, touches, bytes, bits/block, encode s, decode s;
// --touches --breakdown prints the model's ideal cost per part (TouchStreamCost), bits per block, instead;
// --save-touches OUT writes that thread's blocks and touches as a .tch file (Touches.swift) and exits.
// --digest prints an FNV-1a hash of the encoded payload on stderr (payload bytes compared across builds).
// Prints one tab-separated line per file: name, blocks, distinct blocks, chunks, codec bytes, bits/block,
// encode blocks/s, decode blocks/s, zstd -3 decompression blocks/s of the u32 ids (in-process libzstd).
// With --refs DIR it also writes DIR/NAME.u32 (the ids as u32) and DIR/NAME.miss (the last-successor miss
// stream: per block, u32 0 when the block is the one that followed its predecessor last time, else id+1)
// for the reference compressors the shell script runs.
import BlockCodec
import CZstd
import Foundation
import TraceModel
import TraceStore

struct BlockFile {
    var definitions: [BlockDefinition]
    var ids: [BlockID]
}

enum BenchError: Error, CustomStringConvertible {
    case bad(String)
    var description: String { if case let .bad(s) = self { s } else { "" } }
}

func load(_ path: String) throws -> BlockFile {
    if path.hasSuffix(".plextrace") {
        let reader = try TraceReader(path: path)
        var ids: [BlockID] = []
        var thread: UInt32?
        try reader.forEachChunk { chunk in
            if thread == nil { thread = chunk.thread }
            if chunk.thread == thread { ids.append(contentsOf: chunk.blocks) }
        }
        return BlockFile(definitions: try reader.blockDefinitions(), ids: ids)
    }
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try data.withUnsafeBytes { raw -> BlockFile in
        guard raw.count >= 20, raw.loadUnaligned(as: UInt32.self) == 0x5342_5850 else { throw BenchError.bad("\(path): not a PXBS file") }
        let defCount = Int(raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let blockCount = Int(raw.loadUnaligned(fromByteOffset: 12, as: UInt64.self))
        var offset = 20
        guard raw.count == offset + defCount * 22 + blockCount * 4 else { throw BenchError.bad("\(path): bad size") }
        var defs: [BlockDefinition] = []
        defs.reserveCapacity(defCount)
        for _ in 0..<defCount {
            let address = raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            let length = raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            let kind = ExitKind(rawValue: raw[offset + 12]) ?? .split
            let hasTarget = raw[offset + 13] != 0
            let target = raw.loadUnaligned(fromByteOffset: offset + 14, as: UInt64.self)
            defs.append(BlockDefinition(address: address, length: length, instructionCount: 1, codeVersion: 0,
                                        exitKind: kind, staticTarget: hasTarget ? target : nil,
                                        sensitiveCount: 0, cpuidCount: 0, bytes: []))
            offset += 22
        }
        var ids = [BlockID](repeating: 0, count: blockCount)
        ids.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset...])) }
        return BlockFile(definitions: defs, ids: ids)
    }
}

/// The first thread's blocks and data touches of a trace, event indices counted from the thread's first block.
func loadTouches(_ path: String) throws -> TouchFile {
    let reader = try TraceReader(path: path)
    var file = TouchFile(ids: [], touches: [])
    var thread: UInt32?
    try reader.forEachChunk { chunk in
        if thread == nil { thread = chunk.thread }
        guard chunk.thread == thread else { return }
        file.ids.append(contentsOf: chunk.blocks)
        file.touches.append(contentsOf: chunk.dataTouches)
    }
    return file
}

/// Thread CPU time: the machine is shared, so wall time would measure the neighbours too.
func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

var files: [String] = []
var chunkSize = 1 << 20
var refsDir: String?
var repeats = 3
var breakdown = false
var digest = false
var encodeOnly = false
var variant = BlockCodecVariant.full
var limit = Int.max
var saveBlk: String?
var touchMode = false
var saveTouches: String?
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--chunk": chunkSize = Int(args.popFirst() ?? "") ?? chunkSize
    case "--refs": refsDir = args.popFirst()
    case "--repeat": repeats = Int(args.popFirst() ?? "") ?? repeats
    case "--breakdown": breakdown = true
    case "--digest": digest = true
    case "--encode-only": encodeOnly = true
    case "--fast": variant = .fast
    case "--limit": limit = Int(args.popFirst() ?? "") ?? limit
    case "--save-blk": saveBlk = args.popFirst()
    case "--touches": touchMode = true
    case "--save-touches": saveTouches = args.popFirst()
    default: files.append(a)
    }
}

do {
    for path in files {
        if touchMode || saveTouches != nil {
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            let file = path.hasSuffix(".tch") ? try TouchFile.load(path) : try loadTouches(path)
            if let saveTouches { try file.save(saveTouches); continue }
            if breakdown {
                let cost = file.ids.withUnsafeBufferPointer { TouchStreamCost(blocks: $0, touches: file.touches[...]) }
                let n = Double(max(file.ids.count, 1))
                for part in TouchCostPart.allCases {
                    print(name, part, cost.entries[part.rawValue], String(format: "%.4f", cost.bits[part.rawValue] / n),
                          separator: "\t")
                }
                print(name, "total", "", String(format: "%.4f", cost.bits.reduce(0, +) / n), separator: "\t")
                continue
            }
            print(try measureTouches(file, name: name, chunkSize: chunkSize, clock: now))
            continue
        }
        let file = try load(path)
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let ids = Array(file.ids.prefix(limit))
        let n = ids.count
        if let saveBlk {
            var out = Data()
            func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
            put(UInt32(0x5342_5850)); put(UInt32(1)); put(UInt32(file.definitions.count)); put(UInt64(n))
            for d in file.definitions {
                put(d.address); put(d.length); out.append(d.exitKind.rawValue)
                out.append(d.staticTarget == nil ? 0 : 1); put(d.staticTarget ?? 0)
            }
            ids.withUnsafeBytes { out.append(contentsOf: $0) }
            try out.write(to: URL(fileURLWithPath: saveBlk))
            continue
        }
        if breakdown {
            let cost = ids.withUnsafeBufferPointer { BlockStreamCost(blocks: $0, definitions: file.definitions, variant: variant) }
            for (kind, entry) in cost.byKind.enumerated() where entry.transitions > 0 {
                let label = kind < ExitKind.allCases.count ? ExitKind.allCases[kind].description
                    : kind == BlockStreamCost.firstIndex ? "first" : "copy"
                print(String(format: "  %-9@ %6.2f%% of blocks  miss %7.4f%%  %8.4f bits/transition  %7.4f bits/block",
                             label, 100 * Double(entry.transitions) / Double(n),
                             100 * Double(entry.misses) / Double(entry.transitions),
                             entry.bits / Double(entry.transitions), entry.bits / Double(n)))
            }
        }
        var chunks: [[UInt8]] = []
        var bestEncode = Double.infinity
        for _ in 0..<repeats {
            let encoder = BlockStreamEncoder(variant: variant)
            var out: [[UInt8]] = []
            let t0 = now()
            try ids.withUnsafeBufferPointer { all in
                var i = 0
                while i < n {
                    let end = min(n, i + chunkSize)
                    out.append(try encoder.encodeChecked(UnsafeBufferPointer(rebasing: all[i..<end]),
                                                         definitions: file.definitions))
                    i = end
                }
            }
            bestEncode = min(bestEncode, now() - t0)
            chunks = out
        }
        let bytes = chunks.reduce(0) { $0 + $1.count }
        if digest {
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for chunk in chunks { for byte in chunk { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 } }
            FileHandle.standardError.write("\(name): payload digest \(String(hash, radix: 16))\n".data(using: .utf8)!)
        }
        if encodeOnly {
            print("\(name)\t\(n)\t\(bytes)\t" + String(format: "%.4f\t%.1f ns/block", Double(bytes * 8) / Double(max(n, 1)),
                                                        bestEncode / Double(max(n, 1)) * 1e9))
            continue
        }
        var bestDecode = Double.infinity
        var decoded: [BlockID] = []
        for _ in 0..<repeats {
            let decoder = BlockStreamDecoder(variant: variant)
            decoded = []
            decoded.reserveCapacity(n)
            let t0 = now()
            var i = 0
            for chunk in chunks {
                let count = min(chunkSize, n - i)
                try chunk.withUnsafeBytes { try decoder.decode($0, count: count, definitions: file.definitions, into: &decoded) }
                i += count
            }
            bestDecode = min(bestDecode, now() - t0)
        }
        guard decoded == ids else { throw BenchError.bad("\(name): round trip mismatch") }

        // The floor: zstd -3 decompression of the same ids as u32, in process.
        let raw = ids.withUnsafeBytes { Array($0) }
        var compressed = [UInt8](repeating: 0, count: ZSTD_compressBound(raw.count))
        let csize = compressed.withUnsafeMutableBytes { c in raw.withUnsafeBytes { r in
            ZSTD_compress(c.baseAddress, c.count, r.baseAddress, r.count, 3) } }
        var restored = [UInt8](repeating: 0, count: raw.count)
        var bestZstd = Double.infinity
        for _ in 0..<repeats {
            let t0 = now()
            _ = restored.withUnsafeMutableBytes { o in compressed.withUnsafeBytes { c in
                ZSTD_decompress(o.baseAddress, o.count, c.baseAddress, csize) } }
            bestZstd = min(bestZstd, now() - t0)
        }
        guard restored == raw else { throw BenchError.bad("\(name): zstd round trip mismatch") }

        if let refsDir {
            try Data(raw).write(to: URL(fileURLWithPath: "\(refsDir)/\(name).u32"))
            var last = [UInt32](repeating: .max, count: file.definitions.count)
            var miss = [UInt32](repeating: 0, count: n)
            var previous = UInt32.max
            for (i, id) in ids.enumerated() {
                if previous == .max || last[Int(previous)] != id { miss[i] = id &+ 1 }
                if previous != .max { last[Int(previous)] = id }
                previous = id
            }
            try miss.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: "\(refsDir)/\(name).miss")) }
        }
        let distinct = Set(ids).count
        let fields: [String] = [name, "\(n)", "\(distinct)", "\(chunks.count)", "\(bytes)",
                                String(format: "%.4f", Double(bytes * 8) / Double(max(n, 1))),
                                String(format: "%.1f", Double(n) / bestEncode / 1e6),
                                String(format: "%.1f", Double(n) / bestDecode / 1e6),
                                String(format: "%.1f", Double(n) / bestZstd / 1e6)]
        print(fields.joined(separator: "\t"))
    }
} catch {
    FileHandle.standardError.write("codec-bench: error: \(error)\n".data(using: .utf8)!)
    exit(2)
}
