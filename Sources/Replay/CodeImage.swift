import TraceModel

/// The trace's captured code pages (every version), for page scans.
public final class CodeImage: @unchecked Sendable {
    /// 4096-aligned page address -> version -> CodePage.size bytes.
    private let versions: [UInt64: [UInt32: [UInt8]]]

    public init(pages: [CodePage]) {
        var versions: [UInt64: [UInt32: [UInt8]]] = [:]
        for page in pages where page.bytes.count == CodePage.size {
            versions[page.address, default: [:]][page.version] = page.bytes
        }
        self.versions = versions
    }

    /// The bytes of one 4096-byte page version, or nil when the trace did not capture it.
    public func bytes(page: UInt64, version: UInt32) -> [UInt8]? { versions[page]?[version] }

    /// Whether the trace captured more than one version of a 4096-byte page.
    func hasSeveralVersions(page: UInt64) -> Bool { (versions[page]?.count ?? 0) > 1 }

    /// The versions captured for a 4096-byte page, or nil.
    public func capturedVersions(page: UInt64) -> [UInt32]? { versions[page].map { $0.keys.sorted() } }

    /// Fills `buffer` (pageSize bytes) with the bytes of the replay page at `pageBase`: each 4096-byte part
    /// in the version `version(partAddress)` chooses, or, when that is nil, the part's lowest captured
    /// version. Returns, per part, whether it was captured.
    func assemble(pageBase: UInt64, pageSize: Int, into buffer: inout [UInt8],
                  version: (UInt64) -> UInt32?) -> [Bool] {
        let parts = pageSize / CodePage.size
        var captured = [Bool](repeating: false, count: parts)
        if buffer.count != pageSize { buffer = [UInt8](repeating: 0, count: pageSize) }
        for part in 0..<parts {
            let address = pageBase &+ UInt64(part * CodePage.size)
            guard let byVersion = versions[address] else { continue }
            let chosen = version(address) ?? byVersion.keys.min()!
            guard let bytes = byVersion[chosen] ?? byVersion[byVersion.keys.min()!] else { continue }
            buffer.withUnsafeMutableBytes { target in
                bytes.withUnsafeBytes { source in
                    (target.baseAddress! + part * CodePage.size).copyMemory(from: source.baseAddress!, byteCount: CodePage.size)
                }
            }
            captured[part] = true
        }
        return captured
    }
}
