import Foundation
import Recorder
import Replay
import Testing
import TraceModel
import TraceStore
import Workloads

/// The reference's worked example (docs/strategies.md section 6) recorded from assembly through qemu-user,
/// not written by hand: `WorkloadCatalog.crossPageCall` is assembled with gcc, run under QEMU with the
/// plugin, and the trace file is replayed under every strategy.
///
///     _start: mov $N, %ecx           B0 = [mov; call]
///     1:      call far_func          BL = [call]          (far_func alone on the next page)
///             dec %ecx               B1 = [dec; jnz]
///             jnz 1b
///             mov; xor; syscall      BE = [mov; xor; syscall]   (i386: mov $1,%eax; xor %ebx,%ebx; int $0x80)
///             jmp far_func           gas's padding up to .balign 4096 starts with this jmp (never executed)
///     far_func: ret                  F = [ret]
///
/// Executed: B0 F B1 (BL F B1)^(N-1) BE. Every expected number below is a formula in N.
struct RecordedLoop {
    let n: UInt64
    let arch: WorkloadArch
    let path: String
    let definitions: [BlockDefinition]

    /// Records the loop with `iterations` = n into a fresh directory (removed by `discard()`).
    static func record(n: Int, arch: WorkloadArch, dataPages: Bool, chunkBlocks: Int? = nil) throws -> RecordedLoop {
        let directory = NSTemporaryDirectory() + "plexlab-recorded-loop-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let command = try WorkloadCatalog.crossPageCall(iterations: n, arch: arch).prepare(in: directory + "/bin")
        let path = directory + "/loop.plextrace"
        _ = try Recorder.record(program: command.program, arguments: command.arguments,
                                options: RecordOptions(output: path, dataPages: dataPages, chunkBlocks: chunkBlocks))
        let definitions = try TraceReader(path: path).blockDefinitions()
        return RecordedLoop(n: UInt64(n), arch: arch, path: path, definitions: definitions)
    }

    func discard() { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }

    func replay(_ parameters: [String] = []) throws -> TraceResults {
        try ReplayEngine.run(tracePath: path, strategies: ["all"], parameters: ReplayParameters(arguments: parameters))
    }

    /// The block (first definition) ending in `kind`; B0 and BL both end in `call`, B0 is defined first.
    func block(_ kind: ExitKind, skipping: Int = 0) throws -> BlockDefinition {
        try #require(definitions.filter { $0.exitKind == kind }.dropFirst(skipping).first)
    }
}

@Suite(.serialized) struct RecordedWorkedExampleTests {
    static let cases: [(Int, WorkloadArch)] = [(7, .x86_64), (40, .x86_64), (7, .i386), (40, .i386)]

    /// The trace is the program the reference describes, block for block.
    @Test(arguments: cases)
    func theRecordingIsTheReferenceLoop(n: Int, arch: WorkloadArch) throws {
        let loop = try RecordedLoop.record(n: n, arch: arch, dataPages: false)
        defer { loop.discard() }
        let N = loop.n
        #expect(loop.definitions.map(\.exitKind) == [.call, .ret, .jcc, .call, .syscall])
        #expect(loop.definitions.map(\.instructionCount) == [2, 1, 2, 1, 3])
        let results = try loop.replay()
        #expect(results.summary.blocks == 3 * N + 1)
        // B0 2 + F 1 + B1 2 + (BL 1 + F 1 + B1 2)(N-1) + BE 3.
        #expect(results.summary.instructions == 8 + 4 * (N - 1))
        #expect(results.summary.distinctBlocks == 5)
        #expect(results.summary.codePages == 2)
        #expect(results.summary.threads == 1)
        #expect(results.summary.syscalls == 1)
        #expect(results.summary.codeWrites == 0 && results.summary.dataTouches == 0)
        #expect(results.metadata.complete && results.metadata.exitStatus == 0)
    }

    /// docs/strategies.md section 6, for every strategy; pagefault-legacy has no numbers without data touches.
    @Test(arguments: cases)
    func everyStrategyGivesTheReferenceCounts(n: Int, arch: WorkloadArch) throws {
        let loop = try RecordedLoop.record(n: n, arch: arch, dataPages: false)
        defer { loop.discard() }
        let results = try loop.replay()
        try expectReferenceCounts(results, n: loop.n)
        let legacy = try #require(results.strategy("pagefault-legacy"))
        #expect(legacy.unavailable == "needs --data-pages: the trace has no data-touch events")
        #expect(legacy.estimates.isEmpty)
    }

    /// Recorded with --data-pages: every call writes its return address to the stack page and every ret
    /// reads it (N writes + N reads, one touch each, on one page that never holds code). The other strategies
    /// do not look at data touches, so their counts are unchanged.
    @Test(arguments: cases)
    func pagefaultLegacyChargesTheStackAccesses(n: Int, arch: WorkloadArch) throws {
        let loop = try RecordedLoop.record(n: n, arch: arch, dataPages: true)
        defer { loop.discard() }
        let N = loop.n
        let notPresent = try loop.replay()
        #expect(notPresent.summary.dataTouches == 2 * N)
        try expectReferenceCounts(notPresent, n: N)

        // not-present: as pagefault-nx, plus every access to the untranslated stack page is emulated.
        let legacy = try #require(notPresent.strategy("pagefault-legacy"))
        #expect(legacy.unavailable == nil)
        #expect(legacy.nonzero == [.pfExec: 2, .syscall: 1, .pfData: 2 * N])
        #expect(legacy.traps == 2 * N + 3)
        #expect(legacy.scans == 2 && legacy.scanned == 9)
        #expect(legacy.parameters["legacy-policy"] == "not-present")

        // map-data: the stack page is mapped at its first touch (the first call) and never executed: no escapes.
        let mapped = try #require(try loop.replay(["legacy-policy=map-data"]).strategy("pagefault-legacy"))
        #expect(mapped.nonzero == [.pfExec: 2, .syscall: 1, .dataMap: 1])
        #expect(mapped.traps == 4)
        #expect(mapped[.escapes] == 0)
        #expect(mapped.parameters["legacy-policy"] == "map-data")
    }

    /// One block per chunk: every chunk ends on a block with side events (a stack touch, the syscall), which
    /// must land in that block's chunk; the replay, crossing 3N+1 chunks, gives the same counts.
    @Test(arguments: [(7, WorkloadArch.x86_64), (7, .i386)])
    func oneBlockChunksGiveTheSameCounts(n: Int, arch: WorkloadArch) throws {
        let loop = try RecordedLoop.record(n: n, arch: arch, dataPages: true, chunkBlocks: 1)
        defer { loop.discard() }
        let N = loop.n
        let results = try loop.replay()
        #expect(results.summary.chunks == 3 * N + 1)
        #expect(results.summary.dataTouches == 2 * N)
        try expectReferenceCounts(results, n: N)
        let legacy = try #require(results.strategy("pagefault-legacy"))
        #expect(legacy.nonzero == [.pfExec: 2, .syscall: 1, .pfData: 2 * N])
    }

    /// Trap sites are the recorded instructions: the one call instruction at label 1 (B0's last and BL),
    /// far_func's ret, and the final syscall (x86-64 `syscall`, i386 `int $0x80`, both 2 bytes).
    @Test(arguments: cases)
    func sitesAreTheRecordedInstructions(n: Int, arch: WorkloadArch) throws {
        let loop = try RecordedLoop.record(n: n, arch: arch, dataPages: false)
        defer { loop.discard() }
        let N = loop.n
        let b0 = try loop.block(.call), bl = try loop.block(.call, skipping: 1)
        let far = try loop.block(.ret), be = try loop.block(.syscall)
        let loopPage = b0.address & ~0xfff
        #expect(bl.address == b0.address + 5)
        #expect(far.address == loopPage + 0x1000)
        let results = try loop.replay()
        let sbe = try #require(results.strategy("sbe"))
        #expect(sbe.sites.count == 3)
        #expect(sbe.sites.first { $0.address == bl.address }?.counts == [.call: N])
        #expect(sbe.sites.first { $0.address == far.address }?.counts == [.ret: N])
        #expect(sbe.sites.first { $0.address == be.address + UInt64(be.length) - 2 }?.counts == [.syscall: 1])
        #expect(sbe.pages.map(\.page) == [loopPage, loopPage + 0x1000])
        let nx = try #require(results.strategy("pagefault-nx"))
        #expect(nx.sites.first { $0.address == b0.address }?.counts == [.pfExec: 1])
        #expect(nx.sites.first { $0.address == far.address }?.counts == [.pfExec: 1])
    }

    /// With 2 MiB pages both 4 KiB pages are one: the call no longer leaves its page.
    @Test(arguments: cases)
    func hugePagesPutBothPagesInOne(n: Int, arch: WorkloadArch) throws {
        let loop = try RecordedLoop.record(n: n, arch: arch, dataPages: false)
        defer { loop.discard() }
        let N = loop.n
        let results = try loop.replay(["page-size=2097152"])
        #expect(results.summary.codePages == 1)
        let sbe = try #require(results.strategy("sbe"))
        #expect(sbe.nonzero == [.ret: N, .syscall: 1])
        // One scan from _start follows the call into far_func: the same 9 instructions.
        #expect(sbe.scans == 1 && sbe.scanned == 9)
        let nx = try #require(results.strategy("pagefault-nx"))
        #expect(nx.nonzero == [.pfExec: 1, .syscall: 1])
        // dbt: the page size only decides what a store discards; there are no stores to code here.
        #expect(try #require(results.strategy("dbt-link")).traps == N + 6)
    }

    /// The counts docs/strategies.md section 6 works out, as formulas in N.
    private func expectReferenceCounts(_ results: TraceResults, n N: UInt64) throws {
        let native = try #require(results.strategy("native"))
        #expect(native.traps == 0 && native.nonzero.isEmpty)
        let hw = try #require(results.strategy("hw"))
        #expect(hw.traps == 0 && hw.nonzero.isEmpty)

        // N calls + N rets + 1 syscall; both pages scanned once each.
        let sbe = try #require(results.strategy("sbe"))
        #expect(sbe.nonzero == [.call: N, .ret: N, .syscall: 1])
        #expect(sbe.traps == 2 * N + 1)
        #expect(sbe.scans == 2)
        // Page A: mov call dec jnz mov xor syscall, then the padding's jmp to far_func (another page: the
        // scan stops there); page B: ret.
        #expect(sbe.scanned == 9)
        #expect(sbe.translated == 0 && sbe.translations == 0)

        // pf_exec for the loop's page at the start and far_func's page at the first call, + the syscall.
        let nx = try #require(results.strategy("pagefault-nx"))
        #expect(nx.nonzero == [.pfExec: 2, .syscall: 1])
        #expect(nx.traps == 3)
        #expect(nx.scans == 2 && nx.scanned == 9)

        // Every one of the 3N+1 blocks starts from the dispatcher: 1 entry + 3N exits, then the syscall.
        let nolink = try #require(results.strategy("dbt-nolink"))
        #expect(nolink.nonzero == [.dispatch: 3 * N + 1, .dispatchSyscall: 1])
        #expect(nolink.traps == 3 * N + 2)
        #expect(nolink.translations == 5)
        #expect(nolink.translated == 2 + 1 + 2 + 1 + 3)

        // 1 entry + 4 first uses of B0->F, B1->BL, BL->F, B1->BE + N rets, then the syscall.
        let link = try #require(results.strategy("dbt-link"))
        #expect(link.nonzero == [.dispatch: 1 + 4 + N, .link: 4, .dispatchSyscall: 1])
        #expect(link.traps == N + 6)
        #expect(link.translations == 5 && link.translated == 9)

        // The first ret dispatches (B1 not yet translated); the other N-1 hit the return stack.
        let ibtc = try #require(results.strategy("dbt-ibtc"))
        #expect(ibtc.nonzero == [.dispatch: 1 + 4 + 1, .link: 4, .rasHit: N - 1, .dispatchSyscall: 1])
        #expect(ibtc.traps == 7)
        #expect(ibtc.translations == 5 && ibtc.translated == 9)
    }
}
