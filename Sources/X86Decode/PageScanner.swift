import CZydis
import TraceModel

/// The decoded instruction starts of one page (a scan's coverage): one bit per byte of the page.
public struct InstructionStarts: Sendable, Equatable {
    /// Page-aligned guest address of the page.
    public let pageBase: UInt64
    /// 4096, 2 MiB, ...: a multiple of 64.
    public let pageSize: Int
    @usableFromInline var words: [UInt64]

    public init(pageBase: UInt64, pageSize: Int) {
        precondition(pageSize > 0 && pageSize % 64 == 0, "page size must be a positive multiple of 64")
        self.pageBase = pageBase
        self.pageSize = pageSize
        words = [UInt64](repeating: 0, count: pageSize / 64)
    }

    /// Whether an instruction decoded by a scan starts at `address` (false outside the page).
    @inlinable
    public func contains(_ address: UInt64) -> Bool {
        let offset = address &- pageBase
        guard offset < UInt64(pageSize) else { return false }
        return words[Int(truncatingIfNeeded: offset >> 6)] & (1 &<< (offset & 63)) != 0
    }

    @inlinable
    public mutating func insert(_ address: UInt64) {
        let offset = address &- pageBase
        guard offset < UInt64(pageSize) else { return }
        words[Int(truncatingIfNeeded: offset >> 6)] |= 1 &<< (offset & 63)
    }

    /// Forgets every start (a write to the page discarded its scan); keeps the storage.
    public mutating func removeAll() {
        for index in words.indices { words[index] = 0 }
    }

    /// Number of instruction starts.
    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// Every start, ascending (for tests and reports, not hot paths).
    public var addresses: [UInt64] {
        var result: [UInt64] = []
        for (index, word) in words.enumerated() where word != 0 {
            for bit in 0..<64 where word & (1 << UInt64(bit)) != 0 {
                result.append(pageBase + UInt64(index * 64 + bit))
            }
        }
        return result
    }
}

/// The page scan of docs/strategies.md: recursive descent inside one page from an entry address.
///
/// Follows fall-through and direct jmp/jcc/call targets inside the page; after a call (direct or
/// indirect) and after int/syscall continues at the next instruction; stops at ret, indirect jmp, far
/// transfers, hlt, ud0/ud1/ud2, undecodable bytes, uncaptured bytes and the page end (an instruction
/// that does not fit in the page is not covered). Starts already in the coverage are not decoded again,
/// so a scan from a new entry costs only the instructions it adds.
/// Reuses its work stack: keep one scanner and call `scan` many times.
public struct PageScanner: Sendable {
    public let decoder: X86Decoder
    private var pending: [Int] = []

    public init(arch: GuestArch) {
        decoder = X86Decoder(arch: arch)
        pending.reserveCapacity(64)
    }

    /// Scans the page of `coverage` from `entry` and adds the instruction starts it decodes to `coverage`.
    /// - Parameters:
    ///   - code: the page's bytes, from `coverage.pageBase` (at most `coverage.pageSize` bytes; missing bytes stop the scan).
    ///   - isCaptured: whether the 4096-byte subpage at this (4096-aligned) address holds captured bytes;
    ///     answers are cached within a scan, so it is called about once per subpage, not per instruction.
    /// - Returns: the number of instructions newly decoded (the scan's cost).
    public mutating func scan(entry: UInt64, code: UnsafeRawBufferPointer, isCaptured: (UInt64) -> Bool,
                              coverage: inout InstructionStarts) -> Int {
        let pageBase = coverage.pageBase
        let pageSize = coverage.pageSize
        let entryOffset = entry &- pageBase
        guard entryOffset < UInt64(pageSize), let base = code.baseAddress else { return 0 }
        let limit = min(code.count, pageSize)
        let subpageShift = 12
        var decoder = self.decoder.decoder
        var instruction = ZydisDecodedInstruction()
        var context = ZydisDecoderContext()
        // Small caches of answers keep isCaptured off the per-instruction path: the last two subpages
        // found captured (a path and its look-ahead into the next subpage) and the last one found not.
        var capturedSubpage = -1
        var previousCapturedSubpage = -1
        var uncapturedSubpage = -1
        func subpageIsCaptured(_ subpage: Int) -> Bool {
            if subpage == capturedSubpage || subpage == previousCapturedSubpage { return true }
            if subpage == uncapturedSubpage { return false }
            guard isCaptured(pageBase &+ UInt64(subpage << subpageShift)) else {
                uncapturedSubpage = subpage
                return false
            }
            previousCapturedSubpage = capturedSubpage
            capturedSubpage = subpage
            return true
        }

        var decoded = 0
        pending.removeAll(keepingCapacity: true)
        pending.append(Int(entryOffset))
        while let start = pending.popLast() {
            var offset = start
            while offset < limit, !coverage.contains(pageBase &+ UInt64(offset)) {
                let subpage = offset >> subpageShift
                guard subpageIsCaptured(subpage) else { break }
                // Up to 15 bytes, cut at the page end and at an uncaptured next subpage.
                var available = min(limit - offset, 15)
                let subpageEnd = (subpage + 1) << subpageShift
                if offset + available > subpageEnd && !subpageIsCaptured(subpage + 1) {
                    available = subpageEnd - offset
                }
                let status = ZydisDecoderDecodeInstruction(&decoder, &context, base + offset, available, &instruction)
                guard Zydis.succeeded(status) else { break }
                let address = pageBase &+ UInt64(offset)
                coverage.insert(address)
                decoded += 1
                let kind = InstructionClass(instruction)
                let next = offset + Int(instruction.length)
                if kind.endsScan { break }
                if kind.isRelative {
                    let target = self.decoder.relativeTarget(instruction, at: address)
                    let targetOffset = target &- pageBase
                    let inPage = targetOffset < UInt64(pageSize)
                    if kind.exitKindRaw == ExitKindRaw.jmp {
                        guard inPage else { break }
                        offset = Int(targetOffset)
                        continue
                    }
                    // jcc and call: the target later, the fall-through (or return address) now.
                    if inPage { pending.append(Int(targetOffset)) }
                }
                offset = next
            }
        }
        return decoded
    }

    /// The work stack, emptied, for a scan in another file (given back with `returnPending`).
    mutating func takePending() -> [Int] {
        var stack: [Int] = []
        swap(&stack, &pending)
        stack.removeAll(keepingCapacity: true)
        return stack
    }

    mutating func returnPending(_ stack: [Int]) { pending = stack }

    /// `scan` for a page whose bytes are all captured.
    public mutating func scan(entry: UInt64, code: UnsafeRawBufferPointer, coverage: inout InstructionStarts) -> Int {
        scan(entry: entry, code: code, isCaptured: { _ in true }, coverage: &coverage)
    }
}
