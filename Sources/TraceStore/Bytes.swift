/// FNV-1a, 64 bits: the chunk checksum and the code-blob dedup key (a hit is confirmed by comparing bytes).
struct FNV1a64 {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var hash = value
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        value = hash
    }

    mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { add($0) }
    }

    mutating func add(_ word: UInt64) {
        var little = word.littleEndian
        withUnsafeBytes(of: &little) { add($0) }
    }

    static func hash(_ bytes: [UInt8]) -> UInt64 {
        var fnv = FNV1a64()
        fnv.add(bytes)
        return fnv.value
    }
}

/// Appends little-endian integers to a byte array (the side-event payload layout).
struct LittleEndianWriter {
    var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func put(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func put(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Reads little-endian integers from untrusted bytes; running off the end throws.
struct LittleEndianReader {
    struct OutOfBytes: Error {}

    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func u32() throws -> UInt32 {
        guard remaining >= 4 else { throw OutOfBytes() }
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return value
    }

    mutating func u64() throws -> UInt64 {
        guard remaining >= 8 else { throw OutOfBytes() }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return value
    }
}
