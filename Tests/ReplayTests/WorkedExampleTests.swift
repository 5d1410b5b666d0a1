import Testing
import Replay
import TraceModel

/// The reference's cross-page call loop (docs/strategies.md, "Worked example").
///
///     0x400000 B0: mov $N,%ecx ; call far_func      0x40000A B1: dec %ecx ; jnz 1b
///     0x400005 BL: call far_func (label 1)           0x40000E BE: mov $60,%eax ; xor %edi,%edi ; syscall
///     0x401000 F:  ret (far_func, alone on the next page)
struct WorkedExample {
    static let b0: UInt64 = 0x400000, bl: UInt64 = 0x400005, b1: UInt64 = 0x40000A, be: UInt64 = 0x40000E
    static let far: UInt64 = 0x401000

    /// The script, with the blocks of `n` iterations executed. `edit` may add events after block `index`.
    static func script(n: Int, after: (inout TraceScript, Int) -> Void = { _, _ in }) -> TraceScript {
        var script = TraceScript()
        script.place(b0, [0xB9] + withUnsafeBytes(of: UInt32(n).littleEndian, Array.init) + call(bl, far) + decEcx + [0x75, 0xF7]
                     + [0xB8, 0x3C, 0, 0, 0] + [0x31, 0xFF] + syscall)
        script.place(far, ret)
        var order: [UInt64] = [b0, far, b1]
        for _ in 1..<n { order += [bl, far, b1] }
        order.append(be)
        for (index, address) in order.enumerated() {
            script.exec(address)
            after(&script, index)
        }
        return script
    }
}

@Suite struct WorkedExampleTests {
    @Test(arguments: [3, 10])
    func everyStrategyMatchesTheReference(n: Int) throws {
        let results = try WorkedExample.script(n: n).replay()
        let N = UInt64(n)
        #expect(results.summary.blocks == 3 * N + 1)
        #expect(results.summary.instructions == 8 + 4 * (N - 1))

        let native = try #require(results.strategy("native"))
        #expect(native.traps == 0 && native.nonzero.isEmpty)
        let hw = try #require(results.strategy("hw"))
        #expect(hw.traps == 0)

        let sbe = try #require(results.strategy("sbe"))
        #expect(sbe.nonzero == [.call: N, .ret: N, .syscall: 1])
        #expect(sbe.traps == 2 * N + 1)
        #expect(sbe.scans == 2)
        // Page A: mov call dec jnz mov xor syscall, then the hlt filler; page B: ret.
        #expect(sbe.scanned == 9)

        let nx = try #require(results.strategy("pagefault-nx"))
        #expect(nx.nonzero == [.pfExec: 2, .syscall: 1])
        #expect(nx.traps == 3)
        #expect(nx.scanned == 9)

        let nolink = try #require(results.strategy("dbt-nolink"))
        #expect(nolink.nonzero == [.dispatch: 3 * N + 1, .dispatchSyscall: 1])
        #expect(nolink.translations == 5)
        #expect(nolink.translated == 9)

        let link = try #require(results.strategy("dbt-link"))
        #expect(link.nonzero == [.dispatch: N + 5, .link: 4, .dispatchSyscall: 1])
        #expect(link.traps == N + 6)

        let ibtc = try #require(results.strategy("dbt-ibtc"))
        #expect(ibtc.nonzero == [.dispatch: 6, .dispatchSyscall: 1, .link: 4, .rasHit: N - 1])
        #expect(ibtc.traps == 7)

        let legacy = try #require(results.strategy("pagefault-legacy"))
        #expect(legacy.unavailable == "needs --data-pages: the trace has no data-touch events")
        #expect(legacy.estimates.isEmpty)
    }

    @Test func sitesAreTheTrappingInstructions() throws {
        let sbe = try #require(try WorkedExample.script(n: 3).replay(["sbe"]).strategy("sbe"))
        // B0 and BL end in the same call instruction at label 1.
        #expect(sbe.sites.first { $0.address == WorkedExample.bl }?.counts == [.call: 3])
        #expect(sbe.sites.first { $0.address == WorkedExample.far }?.counts == [.ret: 3])
        #expect(sbe.sites.first { $0.address == 0x400015 }?.counts == [.syscall: 1])
        #expect(sbe.sites.count == 3)
        #expect(sbe.pages.map(\.page) == [0x400000, 0x401000])
        let nx = try #require(try WorkedExample.script(n: 3).replay(["pagefault-nx"]).strategy("pagefault-nx"))
        #expect(nx.sites.first { $0.address == WorkedExample.far }?.counts == [.pfExec: 1])
        #expect(nx.sites.first { $0.address == WorkedExample.b0 }?.counts == [.pfExec: 1])
    }

    @Test func hugePagesPutBothPagesInOne() throws {
        let results = try WorkedExample.script(n: 3).replay(["sbe", "pagefault-nx", "dbt-link"], ["page-size=2097152"])
        let sbe = try #require(results.strategy("sbe"))
        // The call stays inside the 2 MiB page: only the rets and the syscall trap.
        #expect(sbe.nonzero == [.ret: 3, .syscall: 1])
        // One scan follows the call into far_func: 8 instructions on the first 4 KiB, 1 on the second.
        #expect(sbe.scans == 1 && sbe.scanned == 9)
        #expect(sbe.parameters == ["page-size": "2097152"])
        let nx = try #require(results.strategy("pagefault-nx"))
        #expect(nx.nonzero == [.pfExec: 1, .syscall: 1])
        let link = try #require(results.strategy("dbt-link"))
        #expect(link.traps == 9)
    }
}
