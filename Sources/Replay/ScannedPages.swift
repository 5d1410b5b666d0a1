import TraceModel
import X86Decode

/// Scan state of every page for the scanning strategies (sbe, pagefault-*): whether the page holds a
/// valid scan, its coverage, and per block whether its start is known covered by the current scan.
///
/// `knownCovered[b]` means "b's start was found covered since its page's scan was last discarded":
/// the one-load fast path. Discarding a page's scan clears it for the blocks that start there.
struct ScannedPages {
    let table: BlockTable
    let code: CodeImage
    private var scanner: PageScanner
    /// Whether each page (dense index) holds a valid scan.
    let valid: StateArray<Bool>
    private var coverage: [InstructionStarts?]
    /// Per page, the shared scan node its coverage is (4 KiB pages; `ScanMemo.empty` before a scan).
    private var node: [Int32]
    private let memo: ScanMemo
    private let knownCovered: StateArray<Bool>
    /// Per page, the blocks starting on it whose `knownCovered` is set (what a discard has to clear).
    private var knownCoveredOnPage: [[BlockID]]
    /// Version of each 4096-byte page last seen executing (selects the bytes of parts of 2 MiB pages).
    private var latestVersion: [UInt64: UInt32] = [:]
    private var buffer: [UInt8] = []
    private(set) var scanned: UInt64 = 0
    private(set) var scans: UInt64 = 0

    init(context: ReplayContext) {
        table = context.table
        code = context.code
        scanner = PageScanner(arch: context.arch)
        valid = StateArray(repeating: false, count: table.pageCount)
        coverage = [InstructionStarts?](repeating: nil, count: table.pageCount)
        node = [Int32](repeating: ScanMemo.empty, count: table.pageCount)
        memo = context.shared { ScanMemo() }
        knownCovered = StateArray(repeating: false, count: table.count)
        knownCoveredOnPage = [[BlockID]](repeating: [], count: table.pageCount)
    }

    /// Fast path, per block: its start is covered by its page's current valid scan. The storage never
    /// moves, so per-block loops keep this pointer in a register: the check is one load.
    var knownCoveredFlags: UnsafePointer<Bool> { UnsafePointer(knownCovered.pointer) }

    /// Slow path: checks the coverage bitset and remembers a positive answer. A block made of one
    /// instruction straddling the page end can never be covered (the scan does not decode it); it counts
    /// as covered once its page is valid, because its `page_cross` exit trap is the trap for it.
    mutating func checkCovered(_ block: Int) -> Bool {
        let page = Int(table.page[block])
        guard valid[page] else { return false }
        let covered = coverage[page]?.contains(table.scanAddress[block]) == true
            || (table.lastPage[block] != table.page[block] && table.instructions[block] == 1)
        if covered && !knownCovered[block] {
            knownCovered[block] = true
            knownCoveredOnPage[page].append(BlockID(block))
        }
        return covered
    }

    /// Scans (or extends the scan of) `block`'s page from the block's start; the page becomes valid.
    mutating func scan(from block: Int) {
        let page = Int(table.page[block])
        let pageBase = table.pageBase(BlockTable.PageIndex(page))
        let pageSize = Int(table.pageSize)
        // The page's own address space: physical in a system trace (docs/strategies.md, "System traces").
        let address = table.scanAddress[block]
        let entryPart = address & ~UInt64(CodePage.size - 1)
        latestVersion[entryPart] = table.codeVersion[block]
        if pageSize == CodePage.size {
            // A scan extends the current coverage of a valid page, else starts from empty.
            let key = ScanMemo.Key(page: UInt32(page), parent: valid[page] ? node[page] : ScanMemo.empty,
                                   entry: address, version: table.codeVersion[block])
            let child: Int32
            if let known = memo.child(key) { child = known } else {
                var starts = key.parent == ScanMemo.empty
                    ? InstructionStarts(pageBase: pageBase, pageSize: pageSize) : memo.nodes[Int(key.parent)].coverage
                let bytes = code.bytes(page: entryPart, version: key.version) ?? []
                let decoded: Int
                if bytes.count == CodePage.size && code.hasSeveralVersions(page: entryPart) {
                    // Rewritten code: each version is decoded only where its bytes changed.
                    decoded = scanner.scan(entry: address, table: memo.decodeTable(page: entryPart, bytes: bytes),
                                           coverage: &starts)
                } else {
                    decoded = bytes.withUnsafeBytes { scanner.scan(entry: address, code: $0, coverage: &starts) }
                }
                child = memo.add(key, coverage: starts, decoded: decoded)
            }
            node[page] = child
            coverage[page] = memo.nodes[Int(child)].coverage
            valid[page] = true
            scanned &+= UInt64(memo.nodes[Int(child)].decoded)
            scans &+= 1
            _ = checkCovered(block)
            return
        }
        if coverage[page] == nil || !valid[page] {
            if coverage[page] == nil { coverage[page] = InstructionStarts(pageBase: pageBase, pageSize: pageSize) }
            else { coverage[page]!.removeAll() }
        }
        var starts = coverage[page]!
        coverage[page] = nil  // keep `starts` uniquely referenced while the scan mutates it
        let versions = latestVersion
        let captured = code.assemble(pageBase: pageBase, pageSize: pageSize, into: &buffer) { versions[$0] }
        let decoded = buffer.withUnsafeBytes { raw in
            scanner.scan(entry: address, code: raw, isCaptured: { part in
                captured[Int((part &- pageBase) >> 12)]
            }, coverage: &starts)
        }
        coverage[page] = starts
        valid[page] = true
        scanned &+= UInt64(decoded)
        scans &+= 1
        _ = checkCovered(block)
    }

    /// Discards the page's scan (a store hit it).
    mutating func invalidate(page: Int) {
        guard valid[page] else { return }
        valid[page] = false
        for block in knownCoveredOnPage[page] { knownCovered[Int(block)] = false }
        knownCoveredOnPage[page].removeAll(keepingCapacity: true)
    }

    /// Marks a page valid with an empty coverage (re-translated by a fault whose scan is deferred).
    mutating func revalidateEmpty(page: Int) {
        coverage[page]?.removeAll()
        node[page] = ScanMemo.empty
        valid[page] = true
    }
}
