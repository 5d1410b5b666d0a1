import TraceModel
import TraceStore
import X86Decode

/// Turns code bytes plus executed code ranges into PlexLab blocks on a `TraceWriter`: captures page
/// versions, decodes and splits code into blocks (at the first control transfer and at page ends),
/// and interns block definitions so ids come in first-execution order. Shared by the recorder and the importer.
public final class TraceBuilder {
    public init(writer: TraceWriter, arch: GuestArch) { fatalError("TraceBuilder: not implemented yet") }

    /// The bytes of a 4096-byte page as they are now; a new version if they differ from the latest.
    public func capturePage(address: UInt64, bytes: UnsafeRawBufferPointer) throws { fatalError("not implemented yet") }

    /// Block ids covering code executed from `start`: `length` bytes (a QEMU TB, split at page ends and
    /// control transfers), or, when nil, one block decoded from `start` to its first control transfer or page end.
    /// Decodes from the latest captured version of the pages involved; defines new blocks as needed.
    public func blocks(at start: UInt64, length: Int?) throws -> [BlockID] { fatalError("not implemented yet") }
}
