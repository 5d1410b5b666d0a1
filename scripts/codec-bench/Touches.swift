// codec-bench's touch mode: the touch model (docs/block-codec.md, "Data touches") on one thread's recorded
// data touches, from a packed `--data-pages` trace or from a .tch file saved from one.
import BlockCodec
import Foundation
import TraceModel

/// One thread's executed blocks and its data touches (event indices from 0).
struct TouchFile {
    var ids: [BlockID]
    var touches: [DataTouch]

    static let magic: UInt32 = 0x4843_5450  // "PTCH"

    /// .tch: u32 magic, u32 version 1, u64 blocks, u64 touches, the ids as u32, then per touch u64 event index,
    /// u64 page, u32 loads, u32 stores (little-endian).
    func save(_ path: String) throws {
        var out = Data()
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(Self.magic); put(UInt32(1)); put(UInt64(ids.count)); put(UInt64(touches.count))
        ids.withUnsafeBytes { out.append(contentsOf: $0) }
        out.reserveCapacity(out.count + touches.count * 24)
        for t in touches { put(t.eventIndex); put(t.page); put(t.reads); put(t.writes) }
        // Written in pieces: Data.write(to:) was seen to garble a 4.8 GB dump past its first 2 GiB (one write(2)
        // moves at most that much on Linux), with the file's size right.
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw TouchBenchError("cannot create \(path)") }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var offset = 0
        while offset < out.count {
            let end = min(out.count, offset + (1 << 28))
            try handle.write(contentsOf: out[offset..<end])
            offset = end
        }
    }

    static func load(_ path: String) throws -> TouchFile {
        // Read in pieces, like `save` writes (one read(2) moves at most 2 GiB on Linux).
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var data = Data()
        while let piece = try handle.read(upToCount: 1 << 28), !piece.isEmpty { data.append(piece) }
        return try data.withUnsafeBytes { raw -> TouchFile in
            guard raw.count >= 24, raw.loadUnaligned(as: UInt32.self) == magic else { throw TouchBenchError("\(path): not a .tch file") }
            let n = Int(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            let m = Int(raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            guard raw.count == 24 + 4 * n + 24 * m else { throw TouchBenchError("\(path): bad size") }
            var ids = [BlockID](repeating: 0, count: n)
            ids.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[24..<(24 + 4 * n)])) }
            var touches: [DataTouch] = []
            touches.reserveCapacity(m)
            var o = 24 + 4 * n
            for _ in 0..<m {
                touches.append(DataTouch(eventIndex: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self),
                                         page: raw.loadUnaligned(fromByteOffset: o + 8, as: UInt64.self),
                                         reads: raw.loadUnaligned(fromByteOffset: o + 16, as: UInt32.self),
                                         writes: raw.loadUnaligned(fromByteOffset: o + 20, as: UInt32.self)))
                o += 24
            }
            return TouchFile(ids: ids, touches: touches)
        }
    }
}

struct TouchBenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Codes `file` in chunks of `chunkSize` blocks with the touch model, decodes it back and checks the round
/// trip. Returns the tab-separated line: name, blocks, touches, bytes, bits/block, encode s, decode s.
func measureTouches(_ file: TouchFile, name: String, chunkSize: Int, clock: () -> Double) throws -> String {
    let n = file.ids.count
    let encoder = TouchStreamEncoder()
    var payloads: [[UInt8]] = []
    var t0 = clock()
    var next = 0
    file.ids.withUnsafeBufferPointer { all in
        var i = 0
        while i < n {
            let end = min(n, i + chunkSize)
            let start = next
            while next < file.touches.count && file.touches[next].eventIndex < UInt64(end) { next += 1 }
            payloads.append(encoder.encode(blocks: UnsafeBufferPointer(rebasing: all[i..<end]), firstEventIndex: UInt64(i),
                                           touches: file.touches[start..<next]))
            i = end
        }
    }
    let encode = clock() - t0
    t0 = clock()
    let decoder = TouchStreamDecoder()
    var i = 0
    next = 0
    for payload in payloads {
        let end = min(n, i + chunkSize)
        let start = next
        while next < file.touches.count && file.touches[next].eventIndex < UInt64(end) { next += 1 }
        let decoded = try payload.withUnsafeBytes {
            try decoder.decode($0, blocks: Array(file.ids[i..<end]), firstEventIndex: UInt64(i), count: next - start)
        }
        guard decoded[...] == file.touches[start..<next] else { throw TouchBenchError("\(name): touch round trip mismatch at block \(i)") }
        i = end
    }
    let decode = clock() - t0
    let bytes = payloads.reduce(0) { $0 + $1.count }
    return [name, "\(n)", "\(file.touches.count)", "\(bytes)", String(format: "%.4f", Double(bytes * 8) / Double(max(n, 1))),
            String(format: "%.2f", encode), String(format: "%.2f", decode)].joined(separator: "\t")
}
