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
