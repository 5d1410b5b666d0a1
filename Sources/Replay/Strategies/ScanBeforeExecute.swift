import TraceModel

/// plex86 as it was: scan each page before its code runs and patch with INT3 every instruction whose
/// successor the scan cannot vouch for (docs/strategies.md, "sbe").
public final class ScanBeforeExecuteStrategy: ReplayStrategy {
    public static let name = "sbe"
    public static let summary = "plex86 scan-before-execute: INT3 on out-of-page, computed and sensitive instructions"
    public static var scansPages: Bool { true }

    private var core: Core
    public init(context: ReplayContext) { core = Core(context: context) }
    public func replay(_ chunk: StreamChunk, thread: Int) { core.replay(chunk) }
    public func finish() { core.finish() }
    public func counts() -> StrategyCounts { core.counts() }

    /// The trap an execution of the block's last instruction takes, if any (docs/strategies.md, sbe).
    static func exitCause(_ table: BlockTable, _ block: Int) -> TrapCause? {
        if table.lastPage[block] != table.page[block] { return .pageCross }
        switch table.exitKind[block] {
        case .split: return table.fallThroughLeavesPage[block] ? .pageCross : nil
        case .jcc: return table.targetLeavesPage[block] || table.fallThroughLeavesPage[block] ? .jcc : nil
        case .jmp: return table.targetLeavesPage[block] ? .jmp : nil
        case .call: return table.targetLeavesPage[block] ? .call : nil
        case .jmpInd: return .jmpInd
        case .callInd: return .callInd
        case .ret: return .ret
        case .syscall: return .syscall
        case .far: return .far
        }
    }

    /// The state, as a value so the per-block loop runs without class-property access checks.
    /// Exit traps and sensitive instructions cost the same on every execution of a block: they are
    /// counted from the engine's executions in `finish`. The per-block loop only follows coverage.
    private struct Core {
        private let table: BlockTable
        private let executions: StateArray<UInt64>
        private var pages: ScannedPages
        private var sites: SiteCounters
        /// Slot of the exit trap of each block, or -1 when its exit runs native.
        private let exitSlot: [Int8]
        private let sensitiveSlot: Int
        private let writeSlot: Int
        private let system: SystemCharges
        private var selfWrites: UInt64 = 0

        init(context: ReplayContext) {
            table = context.table
            executions = context.executions
            pages = ScannedPages(context: context)
            var causes: [TrapCause] = [.call, .jcc, .jmp, .ret, .jmpInd, .callInd, .syscall, .far, .sensitive,
                                       .pageCross, .pfWrite]
            if context.system != nil { causes += SystemCharges.causes(.softwareTrap) }
            sites = SiteCounters(causes: causes, blockCount: table.count)
            sensitiveSlot = sites.slot(.sensitive)
            writeSlot = sites.slot(.pfWrite)
            system = SystemCharges(.softwareTrap, system: context.system, sites: sites)
            var exitSlot = [Int8](repeating: -1, count: table.count)
            for block in 0..<table.count {
                if let cause = ScanBeforeExecuteStrategy.exitCause(table, block) {
                    exitSlot[block] = Int8(causes.firstIndex(of: SystemCharges.exitCause(cause, block, context.system))!)
                }
            }
            self.exitSlot = exitSlot
        }

        mutating func replay(_ chunk: StreamChunk) {
            system.replay(chunk, into: sites)
            chunk.blocks.withUnsafeBufferPointer { executed in
                // Runs of blocks between code writes: a block's stores happen after its entry and before
                // its final instruction traps.
                var next = 0
                for write in chunk.codeWrites {
                    let at = chunk.position(ofEvent: write.eventIndex)
                    guard at < executed.count else { break }
                    if at >= next {
                        enter(executed, next..<at + 1)
                        next = at + 1
                    }
                    codeWrite(write, by: executed[at])
                }
                enter(executed, next..<executed.count)
            }
        }

        /// Entering code the current scan does not cover: the trap that got here (or the thread's start,
        /// or a write fault on this page) already gave the monitor control, so this costs the scan only.
        @inline(__always)
        private mutating func enter(_ executed: UnsafeBufferPointer<BlockID>, _ range: Range<Int>) {
            let knownCovered = pages.knownCoveredFlags
            for index in range where !knownCovered[Int(executed[index])] {
                let b = Int(executed[index])
                if !pages.checkCovered(b) { pages.scan(from: b) }
            }
        }

        private mutating func codeWrite(_ write: CodeWrite, by block: BlockID) {
            forEachPage(of: write, table) { page in
                guard pages.valid[page] else { return }
                sites.add(block, writeSlot)
                if Int(table.page[Int(block)]) == page { selfWrites &+= 1 }
                pages.invalidate(page: page)
            }
        }

        mutating func finish() {
            sites.addExitAndSensitiveTraps(executions, exitSlot: exitSlot, sensitiveSlot: sensitiveSlot, table: table)
            system.finish(executions, into: sites)
        }

        func counts() -> StrategyCounts {
            var result = system.counts(sites, table: table)
            result.scanned = pages.scanned
            result.scans = pages.scans
            result.selfWrites = selfWrites
            return result
        }
    }
}

/// Calls `body` with the dense index of every replay page a code write touches that holds a block.
@inline(__always)
func forEachPage(of write: CodeWrite, _ table: BlockTable, _ body: (Int) -> Void) {
    let last = write.address &+ UInt64(max(write.size, 1) - 1)
    var number = write.address >> table.pageShift
    while number <= last >> table.pageShift {
        if let page = table.pageIndex(ofAddress: number << table.pageShift) { body(Int(page)) }
        number += 1
    }
}
