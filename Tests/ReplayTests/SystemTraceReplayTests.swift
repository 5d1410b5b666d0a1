import Foundation
import Testing
import Replay
import TraceImport
import TraceModel

/// A hand-worked system trace (docs/strategies.md, "System traces"), written in the import format, stored,
/// replayed from disk; every strategy's counts by cause are worked out below.
///
/// Pages: the kernel page 0xffffffff81000000 is physical 0x1000000; the user page 0x401000 is physical
/// 0x77000 (process A), then 0x99000 (process B: the same code, so new blocks on a new physical page).
///
///     KS 0xffffffff81000000: swapgs | mov cr3, rax | cli | sti | sysretq     privileged 4, cr3 1, exit far
///     KI 0xffffffff81000010: in al, 0x60 | out 0x80, al | pushfq | popfq | iretq
///                                                  privileged 2 (in, out), io 2, sensitive 2, exit far
///     KP 0xffffffff81000020: invlpg [rax] | wrmsr | hlt | iretq
///                                                  privileged 3, invlpg 1, msr 1, hlt 1, exit far
///     U0 0x401000: mov eax, 110 | syscall                                     exit syscall (a guest syscall)
///     U1 0x401007: mov [rbx], eax | ret                                       exit ret
///
/// Executed (ids in first-execution order): U0a(0) KS(1) U1a(2) KP(3) U1a(2) KI(4) U0b(5) KS(1) U1b(6):
/// 9 blocks, 29 instructions (kernel: KS twice, KP, KI = 4 blocks, 19 instructions). Events: syscall 110 at
/// U0a (0) and U0b (6), a page-table store at KS (1), a #PF at U1a (2), an interrupt after U1a (4), a #GP
/// (vector 13) at U1b (8).
@Suite struct SystemTraceReplayTests {
    static let jsonl = """
    {"type":"meta","arch":"x86_64","program":"getppid","guest_mode":"system","recorder":"hand"}
    {"type":"map","virtual":"0xffffffff81000000","physical":"0x1000000"}
    {"type":"map","virtual":"0x401000","physical":"0x77000"}
    {"type":"code","address":"0xffffffff81000000","bytes":"0f01f8 0f22d8 fa fb 480f07"}
    {"type":"code","address":"0xffffffff81000010","bytes":"e460 e680 9c 9d 48cf"}
    {"type":"code","address":"0xffffffff81000020","bytes":"0f0138 0f30 f4 48cf"}
    {"type":"code","address":"0x401000","bytes":"b86e000000 0f05 8903 c3"}
    {"type":"exec","thread":0,"blocks":["0x401000"]}
    {"type":"syscall","thread":0,"number":110}
    {"type":"exec","thread":0,"privilege":0,"blocks":["0xffffffff81000000"]}
    {"type":"pt_store","thread":0,"address":"0x2345008"}
    {"type":"exec","thread":0,"blocks":["0x401007"]}
    {"type":"exception","thread":0,"vector":14,"address":"0x402000"}
    {"type":"exec","thread":0,"privilege":0,"blocks":["0xffffffff81000020"]}
    {"type":"exec","thread":0,"blocks":["0x401007"]}
    {"type":"interrupt","thread":0,"vector":236}
    {"type":"exec","thread":0,"privilege":0,"blocks":["0xffffffff81000010"]}
    {"type":"map","virtual":"0x401000","physical":"0x99000"}
    {"type":"code","address":"0x401000","bytes":"b86e000000 0f05 8903 c3"}
    {"type":"exec","thread":0,"blocks":["0x401000"]}
    {"type":"syscall","thread":0,"number":110}
    {"type":"exec","thread":0,"privilege":0,"blocks":["0xffffffff81000000"]}
    {"type":"exec","thread":0,"blocks":["0x401007"]}
    {"type":"exception","thread":0,"vector":13}

    """

    static func importTrace() throws -> String { try ImportedTraceTests.importTrace(jsonl, name: "system") }

    @Test func everyStrategyCountsTheHandWorkedCauses() throws {
        let results = try ReplayEngine.run(tracePath: try Self.importTrace(), strategies: ["all"])
        #expect(results.summary.blocks == 9 && results.summary.instructions == 29)
        // Three physical code pages: 0x77000, 0x99000, 0x1000000.
        #expect(results.summary.codePages == 3)
        var split = SystemSummary()
        split.kernelBlocks = 4
        split.kernelInstructions = 19
        split.interrupts = 1
        split.exceptions = 1
        split.pageFaults = 1
        split.pageTableStores = 1
        #expect(results.summary.system == split)

        #expect(results.strategy("native")?.nonzero == [:])
        // hw sees no system events: no cpuid, no exits.
        #expect(results.strategy("hw")?.nonzero == [:])
        // hw-shadow: CR3 writes by KS twice; invlpg, wrmsr, hlt by KP; in and out by KI; the interrupt, the
        // #PF and the page-table store exit; the #GP does not (the exception bitmap leaves it to the guest).
        let shadow = try #require(results.strategy("hw-shadow"))
        #expect(shadow.nonzero == [.vmexitCR3: 2, .vmexitInvlpg: 1, .vmexitMSR: 1, .vmexitHLT: 1, .vmexitIO: 2,
                                   .vmexitInterrupt: 1, .vmexitPF: 1, .vmexitPTStore: 1])
        #expect(shadow.traps == 10)
        #expect(shadow.kernelCounts == [.vmexitCR3: 2, .vmexitInvlpg: 1, .vmexitMSR: 1, .vmexitHLT: 1, .vmexitIO: 2,
                                        .vmexitPTStore: 1])
        // hw-ept: no exits for the #PF, CR3, invlpg or the page-table store; the #PF's walk is not an exit.
        let ept = try #require(results.strategy("hw-ept"))
        #expect(ept.nonzero == [.vmexitMSR: 1, .vmexitHLT: 1, .vmexitIO: 2, .vmexitInterrupt: 1, .eptWalk: 1])
        #expect(ept.traps == 5)

        // sbe: exits far (KS twice, KP, KI) 4; ret (U1a twice, U1b) 3; the user syscall exits are guest
        // syscalls, reflected (U0a, U0b) 2; privileged instructions of kernel blocks 4 + 4 + 3 + 2 = 13;
        // KI's pushfq and popfq 2; one reflection per event: 28 traps.
        let software: [TrapCause: UInt64] = [.far: 4, .ret: 3, .reflectSyscall: 2, .privileged: 13, .sensitive: 2,
                                             .reflectInterrupt: 1, .reflectException: 1, .shadowPF: 1, .ptStore: 1]
        let sbe = try #require(results.strategy("sbe"))
        #expect(sbe.nonzero == software)
        #expect(sbe.traps == 28)
        #expect(sbe.kernelCounts == [.far: 4, .privileged: 13, .sensitive: 2, .ptStore: 1])
        // Scans of the physical pages: 0x77000 from U0a (mov, syscall, then past it mov, ret: 4); the kernel
        // page from KS (5, to sysretq), extended from KP (invlpg, wrmsr, hlt: 3) and KI (5, to iretq);
        // 0x99000 from U0b (4): 5 scans, 21 instructions.
        #expect(sbe.scans == 5 && sbe.scanned == 21)
        // pagefault-nx: pf_exec on entering each page (0x77000, the kernel page, 0x99000), int3_fill at KP and
        // KI (their page is translated but they are not covered); no ret traps: 30 traps.
        let nx = try #require(results.strategy("pagefault-nx"))
        var nxCounts = software
        nxCounts[.ret] = nil
        nxCounts[.pfExec] = 3
        nxCounts[.int3Fill] = 2
        #expect(nx.nonzero == nxCounts)
        #expect(nx.traps == 30 && nx.scanned == 21)
        #expect(results.strategy("pagefault-legacy")?.unavailable != nil)

        // dbt-*: 7 translations of 22 instructions; the first block's dispatch, the ret exits of U1a (twice,
        // to KP and KI, neither translated yet, so no IBTC, RAS or TB-lookup hit); U1b's ret is the trace's
        // last exit (not charged); the syscall exits 2, far exits 4; 13 privileged instructions as callouts.
        for name in ["dbt-nolink", "dbt-link", "dbt-ibtc", "dbt-qemu"] {
            let dbt = try #require(results.strategy(name))
            #expect(dbt.nonzero == [.dispatch: 3, .dispatchSyscall: 2, .dispatchFar: 4, .privCallout: 13,
                                    .reflectInterrupt: 1, .reflectException: 1, .shadowPF: 1, .ptStore: 1], "\(name)")
            #expect(dbt.traps == 13, "\(name)")
            #expect(dbt.translations == 7 && dbt.translated == 22, "\(name)")
        }
        // Sites are virtual addresses: the #PF's at U1's start, the privileged callouts' at the kernel blocks.
        let sites = try #require(results.strategy("dbt-link")).sites
        #expect(sites.first { $0.address == 0x401007 }?.counts[.shadowPF] == 1)
        #expect(sites.first { $0.address == 0xffff_ffff_8100_0000 }?.counts[.privCallout] == 8)
    }

    /// The same user-mode trace replays alike whatever the new strategies: hw-shadow and hw-ept count what hw counts.
    @Test func userTracesGiveTheHardwareStrategiesHwsCounts() throws {
        let results = try ReplayEngine.run(tracePath: try ImportedTraceTests.importTrace(), strategies: ["all"])
        #expect(results.summary.system == nil)
        let hw = try #require(results.strategy("hw"))
        for name in ["hw-shadow", "hw-ept"] {
            #expect(results.strategy(name)?.counts == hw.counts, "\(name)")
            #expect(results.strategy(name)?.kernelCounts == [:], "\(name)")
        }
    }
}
