import Synchronization
import TraceModel

/// Per-block facts precomputed once per replay so the per-block work of every strategy is array lookups.
/// Pages are numbered densely (`PageIndex`) in the replay's page size.
public struct BlockTable: Sendable {
    public typealias PageIndex = UInt32

    public let pageSize: UInt64
    public let pageShift: UInt64
    public let count: Int

    public let address: [UInt64]
    /// The address that places the block on its code page: its physical address in a system trace (the
    /// page a strategy scans, translates and protects is the guest physical page), else `address` (the
    /// same storage). In-page tests of branch targets use `address`. docs/strategies.md, "System traces".
    public let scanAddress: [UInt64]
    /// Address of the block's last instruction (the site of exit traps).
    public let lastInstruction: [UInt64]
    public let fallThrough: [UInt64]
    public let instructions: [UInt32]
    /// Version of the 4096-byte code page holding the block's first byte that the block decodes from.
    public let codeVersion: [UInt32]
    public let exitKind: [ExitKind]
    public let sensitive: [UInt16]
    public let cpuid: [UInt16]
    /// Dense index of the page holding the block's first byte.
    public let page: [PageIndex]
    /// Dense index of the page holding the block's last byte (differs from `page` when the last instruction straddles).
    public let lastPage: [PageIndex]
    /// The static target of a direct exit lies on another page than the block's start (true when unknown).
    public let targetLeavesPage: [Bool]
    /// The fall-through address lies on another page than the block's start.
    public let fallThroughLeavesPage: [Bool]

    /// Every block's exit site and entry site in address order, made on first use and shared by every
    /// strategy's summary (`SiteOrder`).
    let siteOrder = SiteOrder()

    /// Page number (address >> pageShift) of each dense page index.
    public let pageNumbers: [UInt64]
    /// Blocks whose bytes overlap each page.
    public let blocksOnPage: [[BlockID]]
    private let pageIndexByNumber: PageNumberTable

    /// `lastInstructionOffset(definition)` gives the byte offset of a block's last instruction.
    public init(definitions: [BlockDefinition], pageSize: UInt64,
                lastInstructionOffset: (BlockDefinition) -> UInt32) {
        self.pageSize = pageSize
        pageShift = UInt64(pageSize.trailingZeroBitCount)
        count = definitions.count
        var pageIndexByNumber = PageNumberTable()
        var pageNumbers: [UInt64] = []
        var blocksOnPage: [[BlockID]] = []
        func index(ofPage number: UInt64) -> PageIndex {
            let (index, inserted) = pageIndexByNumber.insert(number)
            if inserted {
                pageNumbers.append(number)
                blocksOnPage.append([])
            }
            return PageIndex(index)
        }
        var address: [UInt64] = [], scanAddress: [UInt64] = [], lastInstruction: [UInt64] = [], fallThrough: [UInt64] = []
        var instructions: [UInt32] = [], codeVersion: [UInt32] = [], exitKind: [ExitKind] = [], sensitive: [UInt16] = [], cpuid: [UInt16] = []
        var page: [PageIndex] = [], lastPage: [PageIndex] = []
        var targetLeavesPage: [Bool] = [], fallThroughLeavesPage: [Bool] = []
        address.reserveCapacity(count); lastInstruction.reserveCapacity(count); fallThrough.reserveCapacity(count)
        instructions.reserveCapacity(count); codeVersion.reserveCapacity(count); exitKind.reserveCapacity(count)
        sensitive.reserveCapacity(count); cpuid.reserveCapacity(count); page.reserveCapacity(count)
        lastPage.reserveCapacity(count); targetLeavesPage.reserveCapacity(count); fallThroughLeavesPage.reserveCapacity(count)
        let system = definitions.contains { $0.physicalAddress != nil }
        if system { scanAddress.reserveCapacity(count) }
        for (id, block) in definitions.enumerated() {
            let shift = pageShift
            let startNumber = block.address >> shift
            // The last byte's page, like the first's, in the address space pages are kept in: a block
            // straddling into the next virtual page is taken to continue on the next physical one.
            let placed = block.pageAddress
            let lastByte = placed &+ UInt64(max(block.length, 1) - 1)
            let first = index(ofPage: placed >> shift)
            let last = index(ofPage: lastByte >> shift)
            if system { scanAddress.append(placed) }
            blocksOnPage[Int(first)].append(BlockID(id))
            if last != first { blocksOnPage[Int(last)].append(BlockID(id)) }
            address.append(block.address)
            lastInstruction.append(block.address &+ UInt64(min(lastInstructionOffset(block), block.length)))
            fallThrough.append(block.fallThrough)
            instructions.append(block.instructionCount)
            codeVersion.append(block.codeVersion)
            exitKind.append(block.exitKind)
            sensitive.append(block.sensitiveCount)
            cpuid.append(block.cpuidCount)
            page.append(first)
            lastPage.append(last)
            targetLeavesPage.append(block.staticTarget.map { $0 >> shift != startNumber } ?? true)
            fallThroughLeavesPage.append(block.fallThrough >> shift != startNumber)
        }
        self.address = address
        self.scanAddress = system ? scanAddress : address
        self.lastInstruction = lastInstruction
        self.fallThrough = fallThrough
        self.instructions = instructions
        self.codeVersion = codeVersion
        self.exitKind = exitKind
        self.sensitive = sensitive
        self.cpuid = cpuid
        self.page = page
        self.lastPage = lastPage
        self.targetLeavesPage = targetLeavesPage
        self.fallThroughLeavesPage = fallThroughLeavesPage
        self.pageNumbers = pageNumbers
        self.blocksOnPage = blocksOnPage
        self.pageIndexByNumber = pageIndexByNumber
    }

    /// Dense index of the page holding `address`, or nil when no block lies on it.
    public func pageIndex(ofAddress address: UInt64) -> PageIndex? {
        pageIndexByNumber.index(of: address >> pageShift).map { PageIndex($0) }
    }

    public var pageCount: Int { pageNumbers.count }

    /// Page-aligned address of a dense page.
    public func pageBase(_ page: PageIndex) -> UInt64 { pageNumbers[Int(page)] << pageShift }
}

/// The sites of all blocks, sorted once by address: `block << 1` for a block's exit site (its last
/// instruction), `block << 1 | 1` for its entry site (its start); equal addresses keep that key order. Each
/// strategy's summary walks these lists instead of sorting its own sites.
final class SiteOrder: Sendable {
    struct Sites: Sendable {
        let keys: [UInt32]
        /// The address of each key, so a walk reads both lists in order.
        let addresses: [UInt64]
    }

    private let sorted = Mutex<Sites?>(nil)

    /// The sorted sites of `table`, computed on the first call.
    func sites(_ table: BlockTable) -> Sites {
        sorted.withLock { sorted in
            if let sorted { return sorted }
            let made = Self.sort(table)
            sorted = made
            return made
        }
    }

    /// A stable LSD radix sort on the address bits that differ between sites, 11 bits a pass: tens of
    /// thousands of sites sort several times faster than with a comparison sort.
    private static func sort(_ table: BlockTable) -> Sites {
        let count = 2 * table.count
        var keys = [UInt32](repeating: 0, count: count), addresses = [UInt64](repeating: 0, count: count)
        var varying: UInt64 = 0
        for block in 0..<table.count {
            keys[2 * block] = UInt32(block) << 1
            addresses[2 * block] = table.lastInstruction[block]
            keys[2 * block + 1] = UInt32(block) << 1 | 1
            addresses[2 * block + 1] = table.address[block]
            varying |= addresses[2 * block] ^ addresses[0]
            varying |= addresses[2 * block + 1] ^ addresses[0]
        }
        let digitBits = 11, buckets = 1 << digitBits
        var spareKeys = keys, spareAddresses = addresses
        let histogram = UnsafeMutablePointer<Int>.allocate(capacity: buckets)
        defer { histogram.deallocate() }
        var shift = 0
        while shift < 64 - varying.leadingZeroBitCount {
            histogram.initialize(repeating: 0, count: buckets)
            keys.withUnsafeBufferPointer { keys in
                addresses.withUnsafeBufferPointer { addresses in
                    spareKeys.withUnsafeMutableBufferPointer { spareKeys in
                        spareAddresses.withUnsafeMutableBufferPointer { spareAddresses in
                            for address in addresses { histogram[Int(truncatingIfNeeded: address >> UInt64(shift)) & (buckets - 1)] += 1 }
                            var start = 0
                            for bucket in 0..<buckets { (histogram[bucket], start) = (start, start + histogram[bucket]) }
                            for index in 0..<count {
                                let address = addresses[index]
                                let bucket = Int(truncatingIfNeeded: address >> UInt64(shift)) & (buckets - 1)
                                spareKeys[histogram[bucket]] = keys[index]
                                spareAddresses[histogram[bucket]] = address
                                histogram[bucket] += 1
                            }
                        }
                    }
                }
            }
            swap(&keys, &spareKeys)
            swap(&addresses, &spareAddresses)
            shift += digitBits
        }
        return Sites(keys: keys, addresses: addresses)
    }
}
