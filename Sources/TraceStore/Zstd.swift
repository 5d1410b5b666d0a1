import CZstd

/// Why a capped decompression failed; the caller names the record.
enum InflateFailure: Error, CustomStringConvertible {
    case declaredTooLarge(Int, cap: Int)
    case inflatesPastDeclared(declared: Int)
    case shorterThanDeclared(got: Int, declared: Int)
    case corrupt(String)

    var description: String {
        switch self {
        case let .declaredTooLarge(size, cap): "declares \(size) bytes, over the \(cap)-byte cap"
        case let .inflatesPastDeclared(declared): "inflates past its declared \(declared) bytes"
        case let .shorterThanDeclared(got, declared): "inflates to \(got) bytes, not the declared \(declared)"
        case let .corrupt(reason): "does not decompress (zstd: \(reason))"
        }
    }
}

/// A zstd compression context (reused: creating one per chunk costs more than compressing small chunks).
final class ZstdCompressor {
    private let context: OpaquePointer
    let level: Int32

    init(level: Int32 = 3) {
        // ZSTD_createCCtx only fails when out of memory.
        context = ZSTD_createCCtx()!
        self.level = level
    }

    deinit { ZSTD_freeCCtx(context) }

    func compress(_ source: UnsafeRawBufferPointer) -> [UInt8] {
        let bound = ZSTD_compressBound(source.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compressCCtx(context, out.baseAddress, bound, source.baseAddress, source.count, level)
        }
        // Compression into a compressBound-sized buffer cannot fail except on allocation failure.
        precondition(ZSTD_isError(written) == 0, "zstd compression failed")
        output.removeLast(bound - written)
        return output
    }

    func compress(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { compress($0) }
    }
}

/// A zstd decompression context that never produces more than a declared, capped size.
final class ZstdInflater {
    /// No stored payload may declare more than this (256 MiB), whatever the file says.
    static let absoluteCap = 256 << 20

    // zstd.h spells these as macros Swift cannot import; their values are part of zstd's stable ABI.
    private static let contentSizeUnknown = UInt64.max
    private static let contentSizeError = UInt64.max - 1
    /// ZSTD_error_dstSize_tooSmall (zstd_errors.h); error results are the negated code.
    private static let errorDstSizeTooSmall = 70

    private let context: OpaquePointer

    init() {
        context = ZSTD_createDCtx()!
        // A window larger than 2^27 is never written by PlexLab; refusing it bounds decoder memory.
        _ = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, 27)
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Decompresses `source` into exactly `declared` bytes; anything else is an `InflateFailure`.
    func inflate(_ source: UnsafeRawBufferPointer, declared: Int, cap: Int = ZstdInflater.absoluteCap) throws -> [UInt8] {
        // The storage is not zeroed first: zstd writes what it returns; only those bytes are kept.
        try [UInt8](unsafeUninitializedCapacity: try Self.room(declared, cap: cap)) { buffer, initialized in
            initialized = 0
            initialized = try inflate(source, declared: declared, into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// `inflate` into `scratch` (grown when too small, reused otherwise: no fresh pages per chunk); the
    /// `declared` bytes are its first ones.
    func inflate(_ source: UnsafeRawBufferPointer, declared: Int, cap: Int = ZstdInflater.absoluteCap,
                 scratch: inout [UInt8]) throws {
        let room = try Self.room(declared, cap: cap)
        if scratch.count < room { scratch = [UInt8](repeating: 0, count: room) }
        _ = try scratch.withUnsafeMutableBytes { try inflate(source, declared: declared, into: $0) }
    }

    /// The output room `declared` needs: one spare byte, which output that fills it proves the payload is
    /// longer than declared.
    private static func room(_ declared: Int, cap: Int) throws -> Int {
        guard declared >= 0, declared <= cap else { throw InflateFailure.declaredTooLarge(declared, cap: cap) }
        return declared + 1
    }

    /// Decompresses into `output` (at least `room(declared)` bytes); returns `declared`.
    private func inflate(_ source: UnsafeRawBufferPointer, declared: Int,
                         into output: UnsafeMutableRawBufferPointer) throws -> Int {
        if declared == 0 && source.isEmpty { return 0 }
        guard let base = source.baseAddress else { throw InflateFailure.corrupt("empty input") }
        let frameSize = ZSTD_getFrameContentSize(base, source.count)
        if frameSize == Self.contentSizeError { throw InflateFailure.corrupt("not a zstd frame") }
        if frameSize != Self.contentSizeUnknown && frameSize > UInt64(declared) {
            throw InflateFailure.inflatesPastDeclared(declared: declared)
        }
        let written = ZSTD_decompressDCtx(context, output.baseAddress, declared + 1, base, source.count)
        if ZSTD_isError(written) != 0 {
            if 0 &- written == Self.errorDstSizeTooSmall { throw InflateFailure.inflatesPastDeclared(declared: declared) }
            throw InflateFailure.corrupt(String(cString: ZSTD_getErrorName(written)))
        }
        if written > declared { throw InflateFailure.inflatesPastDeclared(declared: declared) }
        if written < declared { throw InflateFailure.shorterThanDeclared(got: written, declared: declared) }
        return declared
    }
}
