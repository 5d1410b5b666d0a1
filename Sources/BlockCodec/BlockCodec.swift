import TraceModel

/// Encodes one guest thread's stream of executed block ids, chunk after chunk.
///
/// The encoder's predictor state carries over from one chunk to the next of the same thread, so chunks
/// must be decoded in order by a `BlockStreamDecoder` that saw the same earlier chunks.
public final class BlockStreamEncoder {
    public init() {}

    /// Encodes the next chunk. `definitions[id]` must exist for every id in `blocks`.
    public func encode(_ blocks: UnsafeBufferPointer<BlockID>, definitions: [BlockDefinition]) -> [UInt8] {
        fatalError("BlockStreamEncoder.encode: not implemented yet")
    }
}

/// Decodes what `BlockStreamEncoder` wrote, chunk after chunk, in the same order.
public final class BlockStreamDecoder {
    public init() {}

    /// Decodes exactly `count` block ids, appending them to `output`; throws on malformed input.
    public func decode(_ payload: UnsafeRawBufferPointer, count: Int, definitions: [BlockDefinition],
                       into output: inout [BlockID]) throws {
        fatalError("BlockStreamDecoder.decode: not implemented yet")
    }
}
