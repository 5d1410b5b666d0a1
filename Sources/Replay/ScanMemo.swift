import X86Decode

/// The page scans of one replay, shared by every scanning strategy (sbe, pagefault-nx, pagefault-legacy).
///
/// A scan's result depends only on the coverage it extends, its entry address and the bytes it reads, so
/// a strategy that repeats a scan another one already made (they usually scan the same pages from the
/// same entries in the same order) takes the result instead of decoding the page again. A coverage is
/// named by the scans that built it from empty: node `parent` extended from `entry` with the bytes of
/// `version` is one child node. Only 4 KiB replay pages are memoized: a 2 MiB page's bytes also depend on
/// the versions last seen on its other parts, which each strategy tracks itself.
///
/// A scan the memo does not hold, on a 4 KiB page captured in several versions (code written while it
/// runs), decodes through the page's `PageDecodeTable`: an instruction decoded for an earlier version is
/// not decoded again unless one of the bytes it read changed. The scan's coverage and its count of decoded
/// instructions (what it costs the strategy) are those of a scan decoding every instruction afresh.
final class ScanMemo {
    /// Node number of the empty coverage (a page's first scan, or its first after a discard).
    static let empty: Int32 = -1

    struct Key: Hashable {
        var page: UInt32
        var parent: Int32
        var entry: UInt64
        var version: UInt32
    }

    struct Node {
        var coverage: InstructionStarts
        /// Instructions the scan decoded (what it costs the strategy).
        var decoded: Int
    }

    private var children: [Key: Int32] = [:]
    private(set) var nodes: [Node] = []
    /// Decode tables of the 4 KiB pages captured in several versions, at the version last scanned.
    private var decodeTables: [UInt64: PageDecodeTable] = [:]

    /// The decode table of the page at `page` (4096-aligned), switched to `bytes`: the decodes of an earlier
    /// version are kept where the bytes they read did not change.
    func decodeTable(page: UInt64, bytes: [UInt8]) -> PageDecodeTable {
        if let table = decodeTables[page] {
            table.update(to: bytes)
            return table
        }
        let table = PageDecodeTable(pageBase: page, bytes: bytes)
        decodeTables[page] = table
        return table
    }

    /// The node of a scan already made, or nil.
    func child(_ key: Key) -> Int32? { children[key] }

    /// Records a scan's result; returns its node number.
    func add(_ key: Key, coverage: InstructionStarts, decoded: Int) -> Int32 {
        let node = Int32(nodes.count)
        nodes.append(Node(coverage: coverage, decoded: decoded))
        children[key] = node
        return node
    }
}
