import TraceModel
import TraceStore
import X86Decode

/// What `TraceBuilder` hands on: the part of `TraceWriter` it uses (a seam for tests).
protocol BlockSink: AnyObject {
    func define(_ block: BlockDefinition) throws -> BlockID
    func addCodePage(_ page: CodePage) throws
}

extension TraceWriter: BlockSink {}

/// Turns code bytes plus executed code ranges into PlexLab blocks on a `TraceWriter`: captures page
/// versions, decodes and splits code into blocks (at the first control transfer and at page ends),
/// and interns block definitions so ids come in first-execution order. Shared by the recorder and the importer.
///
/// A block is interned by (address, length, version of its start page): the same bytes executed again
/// get the same id, and code rewritten in place gets a new one. Single-threaded.
///
/// Processes of a recorded tree each see their own pages: an address space (`useSpace`) is the latest
/// version of each page as that process captured it; a forked child starts from a copy of its parent's
/// (`copySpace`). Versions are numbered per address across all spaces, so a page with the same bytes
/// in two processes (a shared library) is one version and its blocks are one set of definitions.
///
/// A system trace (`GuestMode.system`, docs/trace-format.md "System traces") captures pages by guest
/// PHYSICAL address, and blocks are given by virtual address: the caller tells the builder which physical
/// page each virtual page maps to (`map`), and each block records its physical address and privilege level.
public final class TraceBuilder {
    private struct CapturedPage {
        var version: UInt32
        var bytes: [UInt8]
    }

    private struct DefinitionKey: Hashable {
        var address: UInt64
        var length: UInt32
        var codeVersion: UInt32
        var privilege: UInt8
        /// The physical address (system traces), else the virtual one again.
        var pageAddress: UInt64
    }

    private struct RangeKey: Hashable {
        var start: UInt64
        /// -1 for "one block, length decided by decoding".
        var length: Int
        var privilege: UInt8
        /// The captured page holding `start` (its physical page in a system trace).
        var startPage: UInt64
    }

    /// Ids of a decoded range, valid while the pages it was decoded from keep these versions (and, in a
    /// system trace, while its virtual pages map to the same physical pages).
    private struct CachedRange {
        var ids: [BlockID]
        var firstPage: UInt64
        var pageKeys: [UInt64]
        var pageVersions: [UInt32]
    }

    private static let pageSize = CodePage.size
    private static let pageMask = UInt64(CodePage.size - 1)

    private let sink: any BlockSink
    private let decoder: X86Decoder
    /// User-mode traces key pages by virtual address; system traces by physical address through `physicalPages`.
    public let mode: GuestMode
    /// System traces: the physical page each virtual page maps to now.
    private var physicalPages: [UInt64: UInt64] = [:]
    /// The current address space's pages.
    private var pages: [UInt64: CapturedPage] = [:]
    private var currentSpace = 0
    /// The other address spaces' pages.
    private var spaces: [Int: [UInt64: CapturedPage]] = [:]
    /// Every version of every page, in version order (all spaces).
    private var versions: [UInt64: [CapturedPage]] = [:]
    private var definitionIDs: [DefinitionKey: BlockID] = [:]
    private var cache: [RangeKey: CachedRange] = [:]
    private var definitionList: [BlockDefinition] = []
    /// The rest of a start page plus up to 15 bytes of the next one: what one block can span.
    private var scratch = [UInt8](repeating: 0, count: CodePage.size + 15)

    public init(writer: TraceWriter, arch: GuestArch, mode: GuestMode = .user) {
        sink = writer
        decoder = X86Decoder(arch: arch)
        self.mode = mode
    }

    init(sink: any BlockSink, arch: GuestArch, mode: GuestMode = .user) {
        self.sink = sink
        decoder = X86Decoder(arch: arch)
        self.mode = mode
    }

    /// System traces: from now on the virtual page `virtualPage` maps to the physical page `physicalPage`
    /// (both page-aligned). A later call for the same virtual page replaces the mapping.
    public func map(virtualPage: UInt64, toPhysicalPage physicalPage: UInt64) {
        physicalPages[virtualPage & ~TraceBuilder.pageMask] = physicalPage & ~TraceBuilder.pageMask
    }

    /// The captured page that holds the virtual page `virtualPage`: the page itself in a user-mode trace,
    /// its mapped physical page in a system trace (nil when unmapped).
    @inline(__always)
    public func pageKey(ofVirtualPage virtualPage: UInt64) -> UInt64? {
        mode == .user ? virtualPage : physicalPages[virtualPage]
    }

    /// Block definitions interned so far; index = BlockID.
    public var definitions: [BlockDefinition] { definitionList }

    /// The latest captured version of the 4096-byte page at `address` (page-aligned), nil if never captured.
    public func latestPage(at address: UInt64) -> CodePage? {
        guard let page = pages[address & ~TraceBuilder.pageMask] else { return nil }
        return CodePage(address: address & ~TraceBuilder.pageMask, version: page.version, bytes: page.bytes)
    }

    /// Makes `space` (a process) the address space that captures and decodes refer to; a new one is empty.
    public func useSpace(_ space: Int) {
        guard space != currentSpace else { return }
        spaces[currentSpace] = pages
        pages = spaces.removeValue(forKey: space) ?? [:]
        currentSpace = space
    }

    /// Gives `space` a copy of `source`'s pages as they are now (a fork).
    public func copySpace(from source: Int, to space: Int) {
        let copy = source == currentSpace ? pages : spaces[source] ?? [:]
        if space == currentSpace { pages = copy } else { spaces[space] = copy }
    }

    /// The bytes of a 4096-byte page as they are now; a new version if they differ from the latest.
    public func capturePage(address: UInt64, bytes: UnsafeRawBufferPointer) throws {
        guard address & TraceBuilder.pageMask == 0 else { throw TraceBuilderError.unalignedPage(address: address) }
        guard bytes.count == TraceBuilder.pageSize else {
            throw TraceBuilderError.wrongPageSize(address: address, count: bytes.count)
        }
        if let existing = pages[address] {
            if existing.bytes.elementsEqual(bytes) { return }
        } else if let same = versions[address]?.first(where: { $0.bytes.elementsEqual(bytes) }) {
            // First capture in this space of bytes another process captured: the same version.
            pages[address] = same
            return
        }
        let version = UInt32(versions[address]?.count ?? 0)
        let page = CapturedPage(version: version, bytes: [UInt8](bytes))
        pages[address] = page
        versions[address, default: []].append(page)
        try sink.addCodePage(CodePage(address: address, version: version, bytes: page.bytes))
    }

    /// Block ids covering code executed from `start`: `length` bytes (a QEMU TB, split at page ends and
    /// control transfers), or, when nil, one block decoded from `start` to its first control transfer or page end.
    /// Decodes from the latest captured version of the pages involved; defines new blocks as needed.
    /// `privilege` is the CPL the code ran at (3 in user-mode traces). In a system trace `start` is virtual
    /// and its pages must be mapped (`map`).
    public func blocks(at start: UInt64, length: Int?, privilege: UInt8 = 3) throws -> [BlockID] {
        guard let startPage = pageKey(ofVirtualPage: start & ~TraceBuilder.pageMask) else {
            throw TraceBuilderError.notMapped(address: start)
        }
        let key = RangeKey(start: start, length: length ?? -1, privilege: privilege, startPage: startPage)
        if let cached = cache[key], isCurrent(cached) { return cached.ids }
        if let length, length <= 0 { throw TraceBuilderError.emptyRange(address: start, length: length) }

        var ids: [BlockID] = []
        var cursor = start
        var remaining = length
        repeat {
            let id = try defineBlock(at: cursor, maxLength: remaining, rangeStart: start, rangeLength: length,
                                     privilege: privilege)
            ids.append(id)
            let blockLength = Int(definitionList[Int(id)].length)
            cursor &+= UInt64(blockLength)
            remaining = remaining.map { $0 - blockLength }
        } while (remaining ?? 0) > 0

        let firstPage = start & ~TraceBuilder.pageMask
        let lastPage = (cursor &- 1) & ~TraceBuilder.pageMask
        var versions: [UInt32] = [], keys: [UInt64] = []
        var page = firstPage
        while true {
            let pageKey = self.pageKey(ofVirtualPage: page) ?? UInt64.max
            keys.append(pageKey)
            versions.append(pages[pageKey]?.version ?? UInt32.max)
            if page == lastPage { break }
            page &+= UInt64(TraceBuilder.pageSize)
        }
        cache[key] = CachedRange(ids: ids, firstPage: firstPage, pageKeys: keys, pageVersions: versions)
        return ids
    }

    private func isCurrent(_ range: CachedRange) -> Bool {
        var page = range.firstPage
        for (pageKey, version) in zip(range.pageKeys, range.pageVersions) {
            guard self.pageKey(ofVirtualPage: page) == pageKey, pages[pageKey]?.version == version else { return false }
            page &+= UInt64(TraceBuilder.pageSize)
        }
        return true
    }

    /// Decodes one block at `address` from the latest bytes and interns it.
    private func defineBlock(at address: UInt64, maxLength: Int?, rangeStart: UInt64, rangeLength: Int?,
                             privilege: UInt8) throws -> BlockID {
        let pageBase = address & ~TraceBuilder.pageMask
        guard let pageKey = pageKey(ofVirtualPage: pageBase) else { throw TraceBuilderError.notMapped(address: address) }
        guard let page = pages[pageKey] else { throw TraceBuilderError.notCaptured(address: address) }
        let offset = Int(address - pageBase)
        let inPage = TraceBuilder.pageSize - offset
        let nextPage = self.pageKey(ofVirtualPage: pageBase &+ UInt64(TraceBuilder.pageSize)).flatMap { pages[$0] }
        let available = inPage + (nextPage == nil ? 0 : 15)
        scratch.withUnsafeMutableBufferPointer { buffer in
            page.bytes.withUnsafeBufferPointer { source in
                buffer.baseAddress!.update(from: source.baseAddress! + offset, count: inPage)
            }
            if let nextPage {
                nextPage.bytes.withUnsafeBufferPointer { source in
                    (buffer.baseAddress! + inPage).update(from: source.baseAddress!, count: 15)
                }
            }
        }
        let decoded = scratch.withUnsafeBytes { bytes in
            decoder.decodeBlock(UnsafeRawBufferPointer(rebasing: bytes[..<available]), at: address, maxLength: maxLength)
        }
        guard let shape = decoded else {
            throw diagnose(at: address, available: available, rangeStart: rangeStart, rangeLength: rangeLength)
        }
        switch shape.end {
        case .outOfBytes:
            throw TraceBuilderError.notCaptured(address: pageBase &+ UInt64(TraceBuilder.pageSize))
        case .undecodable where maxLength != nil && shape.length < maxLength!:
            throw TraceBuilderError.undecodable(address: address &+ UInt64(shape.length))
        default:
            break
        }

        let physical = mode == .system ? pageKey | UInt64(offset) : nil
        let key = DefinitionKey(address: address, length: UInt32(shape.length), codeVersion: page.version,
                                privilege: privilege, pageAddress: physical ?? address)
        if let id = definitionIDs[key] { return id }
        let definition = BlockDefinition(
            address: address, length: UInt32(shape.length), instructionCount: UInt32(shape.instructionCount),
            codeVersion: page.version, exitKind: shape.exitKind, staticTarget: shape.staticTarget,
            sensitiveCount: UInt16(clamping: shape.sensitiveCount), cpuidCount: UInt16(clamping: shape.cpuidCount),
            bytes: Array(scratch[..<shape.length]), lastInstructionOffset: UInt32(shape.lastInstructionOffset),
            privilege: privilege, physicalAddress: physical)
        let id = try sink.define(definition)
        guard id == BlockID(definitionList.count) else {
            throw TraceBuilderError.idOutOfOrder(expected: BlockID(definitionList.count), got: id)
        }
        definitionList.append(definition)
        definitionIDs[key] = id
        return id
    }

    /// Why not even one instruction could be decoded at `address` (the scratch holds its bytes).
    private func diagnose(at address: UInt64, available: Int, rangeStart: UInt64, rangeLength: Int?) -> TraceBuilderError {
        // With zero padding, a truncated instruction decodes: then its bytes ran into an uncaptured page.
        var padded = Array(scratch[..<available])
        padded += [UInt8](repeating: 0, count: 15)
        let instruction = padded.withUnsafeBytes { decoder.decode($0, at: address) }
        guard let instruction else { return .undecodable(address: address) }
        if instruction.length > available {
            return .notCaptured(address: (address & ~TraceBuilder.pageMask) &+ UInt64(TraceBuilder.pageSize))
        }
        return .notOnInstructionBoundary(start: rangeStart, length: rangeLength ?? 0, instruction: address)
    }
}

/// A one-line description of why code could not be turned into blocks.
public enum TraceBuilderError: Error, CustomStringConvertible, Equatable {
    case notCaptured(address: UInt64)
    /// System traces: the virtual page holding `address` has no physical page (`TraceBuilder.map`).
    case notMapped(address: UInt64)
    case undecodable(address: UInt64)
    case notOnInstructionBoundary(start: UInt64, length: Int, instruction: UInt64)
    case emptyRange(address: UInt64, length: Int)
    case unalignedPage(address: UInt64)
    case wrongPageSize(address: UInt64, count: Int)
    case idOutOfOrder(expected: BlockID, got: BlockID)

    public var description: String {
        switch self {
        case .notCaptured(let address):
            "code bytes at \(hex(address)) are not captured"
        case .notMapped(let address):
            "virtual address \(hex(address)) is not mapped to a physical page"
        case .undecodable(let address):
            "undecodable instruction at \(hex(address))"
        case .notOnInstructionBoundary(let start, let length, let instruction):
            "code range \(hex(start)) of \(length) bytes ends inside the instruction at \(hex(instruction))"
        case .emptyRange(let address, let length):
            "code range at \(hex(address)) has length \(length)"
        case .unalignedPage(let address):
            "code page address \(hex(address)) is not 4096-aligned"
        case .wrongPageSize(let address, let count):
            "code page \(hex(address)) has \(count) bytes, not 4096"
        case .idOutOfOrder(let expected, let got):
            "trace writer returned block id \(got), expected \(expected)"
        }
    }
}

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
