import TraceModel

/// Why a block stream could not be encoded or decoded. The description is one line.
public enum BlockCodecError: Error, Equatable, CustomStringConvertible {
    /// Block `id` at `index` of chunk `chunk` has no definition (only `definitionCount` exist).
    case unknownBlock(chunk: Int, index: Int, id: UInt32, definitionCount: Int)
    /// The payload of chunk `chunk` ended before `count` blocks were decoded.
    case truncated(chunk: Int, payloadBytes: Int)
    /// The payload of chunk `chunk` has bytes after the last block.
    case trailingBytes(chunk: Int, used: Int, payloadBytes: Int)
    /// A decoded value makes no sense (garbage payload) at `index` of chunk `chunk`.
    case malformed(chunk: Int, index: Int)
    /// An earlier chunk failed, so this coder's state no longer matches its partner's.
    case failedEarlier(chunk: Int)

    public var description: String {
        switch self {
        case let .unknownBlock(chunk, index, id, definitionCount):
            "block stream chunk \(chunk), block \(index): id \(id) has no definition (\(definitionCount) defined)"
        case let .truncated(chunk, payloadBytes):
            "block stream chunk \(chunk): payload of \(payloadBytes) bytes is truncated"
        case let .trailingBytes(chunk, used, payloadBytes):
            "block stream chunk \(chunk): \(payloadBytes - used) unexpected bytes after the last block"
        case let .malformed(chunk, index):
            "block stream chunk \(chunk), block \(index): malformed payload"
        case let .failedEarlier(chunk):
            "block stream chunk \(chunk): an earlier chunk of this stream failed to decode"
        }
    }
}

/// Which predictor configuration a stream is coded with. Part of the format: a stream must be decoded
/// with the variant it was encoded with (TraceStore stores it as the chunk's codec id).
public enum BlockCodecVariant: Sendable, CaseIterable, CustomStringConvertible {
    /// Six TAGE tables and a logistic mixer for jcc directions, copy mode after 256 matched blocks.
    case full
    /// Three shorter TAGE tables, no mixer, cheaper bookkeeping, copy mode entered earlier: about twice
    /// as fast, slightly larger (docs/block-codec.md).
    case fast

    public var description: String {
        switch self {
        case .full: "full"
        case .fast: "fast"
        }
    }
}

/// One thread's predictor, in the configuration of its variant (specialised code for each).
enum VariantModel {
    case full(SuccessorModel<FullShape>)
    case fast(SuccessorModel<FastShape>)

    init(_ variant: BlockCodecVariant) {
        switch variant {
        case .full: self = .full(SuccessorModel())
        case .fast: self = .fast(SuccessorModel())
        }
    }

    func free() {
        switch self {
        case let .full(m): m.free()
        case let .fast(m): m.free()
        }
    }
}

/// Encodes one guest thread's stream of executed block ids, chunk after chunk.
///
/// The encoder's predictor state carries over from one chunk to the next of the same thread, so chunks
/// must be decoded in order by a `BlockStreamDecoder` of the same variant that saw the same earlier
/// chunks. Each chunk's payload is self-delimiting given its block count; an empty chunk encodes to zero
/// bytes. See docs/block-codec.md for the model and the format.
public final class BlockStreamEncoder {
    private var model: VariantModel
    private var chunk = 0
    public let variant: BlockCodecVariant

    public init(variant: BlockCodecVariant = .full) {
        self.variant = variant
        model = VariantModel(variant)
    }

    deinit { model.free() }

    /// Encodes the next chunk. `definitions[id]` must exist for every id in `blocks` (a precondition; use
    /// `encodeChecked` to get an error instead).
    public func encode(_ blocks: UnsafeBufferPointer<BlockID>, definitions: [BlockDefinition]) -> [UInt8] {
        do {
            return try encodeChecked(blocks, definitions: definitions)
        } catch {
            preconditionFailure(error.description)
        }
    }

    /// Encodes the next chunk, or throws `unknownBlock` (leaving the encoder's state untouched) when an id
    /// has no definition.
    public func encodeChecked(_ blocks: UnsafeBufferPointer<BlockID>,
                              definitions: [BlockDefinition]) throws(BlockCodecError) -> [UInt8] {
        let chunkIndex = chunk
        for (index, id) in blocks.enumerated() where Int(id) >= definitions.count {
            throw .unknownBlock(chunk: chunkIndex, index: index, id: id, definitionCount: definitions.count)
        }
        chunk += 1
        if blocks.isEmpty { return [] }
        switch model {
        case var .full(m):
            defer { model = .full(m) }
            return Self.encode(blocks, definitions, &m)
        case var .fast(m):
            defer { model = .fast(m) }
            return Self.encode(blocks, definitions, &m)
        }
    }

    private static func encode<S>(_ blocks: UnsafeBufferPointer<BlockID>, _ definitions: [BlockDefinition],
                                  _ m: inout SuccessorModel<S>) -> [UInt8] {
        var coder = RangeEncoder(capacity: blocks.count / 32 + 64)
        definitions.withUnsafeBufferPointer { defs in
            // Copy runs only read the blocks (`decoding: false`).
            let input = UnsafeMutablePointer(mutating: blocks.baseAddress!)
            let n = blocks.count
            var i = 0
            while i < n {
                if m.copyReady {
                    i += m.codeRun(&coder, input + i, remaining: n - i, decoding: false)
                    if i == n { break }
                }
                _ = m.step(&coder, actual: input[i], defs)
                i += 1
            }
        }
        return coder.finish()
    }
}

/// Decodes what `BlockStreamEncoder` of the same variant wrote, chunk after chunk, in the same order.
public final class BlockStreamDecoder {
    private var model: VariantModel
    private var chunk = 0
    private var failed = false
    public let variant: BlockCodecVariant

    public init(variant: BlockCodecVariant = .full) {
        self.variant = variant
        model = VariantModel(variant)
    }

    deinit { model.free() }

    /// Decodes exactly `count` block ids, appending them to `output`; throws `BlockCodecError` on malformed
    /// input (then `output` is unchanged and this decoder refuses further chunks).
    public func decode(_ payload: UnsafeRawBufferPointer, count: Int, definitions: [BlockDefinition],
                       into output: inout [BlockID]) throws {
        try decodeChecked(payload, count: count, definitions: definitions, into: &output)
    }

    /// `decode` with a typed error.
    public func decodeChecked(_ payload: UnsafeRawBufferPointer, count: Int, definitions: [BlockDefinition],
                              into output: inout [BlockID]) throws(BlockCodecError) {
        let chunkIndex = chunk
        chunk += 1
        if failed { throw .failedEarlier(chunk: chunkIndex) }
        guard count > 0 else {
            if payload.count != 0 { throw .trailingBytes(chunk: chunkIndex, used: 0, payloadBytes: payload.count) }
            return
        }
        // Decoded into fresh, untouched memory and appended when complete: a payload that fails early costs
        // what it decoded, not the `count` it declares (which a hostile file sets to the cap).
        let decoded = UnsafeMutablePointer<BlockID>.allocate(capacity: count)
        defer { decoded.deallocate() }
        let error: BlockCodecError?
        switch model {
        case var .full(m):
            error = Self.decode(payload, count, definitions, decoded, chunkIndex, &m)
            model = .full(m)
        case var .fast(m):
            error = Self.decode(payload, count, definitions, decoded, chunkIndex, &m)
            model = .fast(m)
        }
        if let error {
            failed = true
            throw error
        }
        output.append(contentsOf: UnsafeBufferPointer(start: decoded, count: count))
    }

    /// Decodes `count` ids into `base[0 ..< count]`; returns what went wrong, if anything.
    private static func decode<S>(_ payload: UnsafeRawBufferPointer, _ count: Int, _ definitions: [BlockDefinition],
                                  _ base: UnsafeMutablePointer<BlockID>, _ chunkIndex: Int,
                                  _ m: inout SuccessorModel<S>) -> BlockCodecError? {
        var coder = RangeDecoder(payload)
        var badIndex = -1
        var truncated = false
        definitions.withUnsafeBufferPointer { defs in
            var i = 0
            var nextCheck = 0
            while i < count {
                // Stop early on a payload that ran out long ago instead of decoding zeros for a while.
                if i >= nextCheck {
                    if coder.overrun > 8 {
                        truncated = true
                        return
                    }
                    nextCheck = i + 4096
                }
                if m.copyReady {
                    let r = m.codeRun(&coder, base + i, remaining: count - i, decoding: true)
                    if r < 0 {
                        badIndex = i
                        return
                    }
                    i += r
                    // A run's length read past the payload's end: stop before the next one.
                    if coder.overrun > 8 {
                        truncated = true
                        return
                    }
                    if i == count { break }
                }
                let s = m.step(&coder, actual: 0, defs)
                if s == noBlock {
                    badIndex = i
                    return
                }
                base[i] = s
                i += 1
            }
        }
        if truncated || coder.overrun > 0 {
            return .truncated(chunk: chunkIndex, payloadBytes: payload.count)
        } else if badIndex >= 0 {
            if m.failedID != noBlock {
                return .unknownBlock(chunk: chunkIndex, index: badIndex, id: m.failedID,
                                     definitionCount: definitions.count)
            }
            return .malformed(chunk: chunkIndex, index: badIndex)
        } else if coder.consumed != payload.count {
            return .trailingBytes(chunk: chunkIndex, used: coder.consumed, payloadBytes: payload.count)
        }
        return nil
    }
}
