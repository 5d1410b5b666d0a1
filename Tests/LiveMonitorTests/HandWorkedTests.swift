import Foundation
import LiveMonitor
import Replay
import Testing
import Workloads

/// Exact live counts of assembly programs worked out by hand, in 64 and 32 bits.
@Suite(.serialized) struct HandWorkedTests {
    static let arches: [WorkloadArch] = [.x86_64, .i386]

    /// docs/strategies.md section 6: sbe call N + ret N + syscall 1 (2 scans, 9 instructions);
    /// pagefault-nx pf_exec 2 + syscall 1.
    @Test(arguments: arches)
    func workedExample(arch: WorkloadArch) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        for n: UInt64 in [3, 10] {
            let command = try WorkloadCatalog.crossPageCall(iterations: Int(n), arch: arch).prepare(in: scratch.path)
            let results = try live(command.program)
            #expect(results.is32Bit == (arch == .i386))
            #expect(results.nativeEnd == .exited(0))
            let sbe = try #require(results.strategy(.sbe))
            #expect(sbe.nonzero == [.call: n, .ret: n, .syscall: 1])
            #expect(sbe.traps == 2 * n + 1)
            #expect(sbe.scans == 2 && sbe.scanned == 9)
            #expect(sbe.end == .exited(0))
            let nx = try #require(results.strategy(.pagefaultNX))
            #expect(nx.nonzero == [.pfExec: 2, .syscall: 1])
            #expect(nx.scans == 2 && nx.scanned == 9)
            #expect(sbe.threads.count == 1 && nx.threads.count == 1)
        }
    }

    /// A jump table on a data page, N = 8 (ecx = 8..1, case = ecx & 3: 0 3 2 1 0 3 2 1). Cases 0 and 1
    /// follow the dispatcher on page A (not covered: the scan stops at jmp *), 2 and 3 sit on page B and
    /// jump back. sbe: jmp_ind 8, jmp 4 (B to A), syscall 1; scans: A from _start, A at case 0, B at
    /// case 3, B at case 2, A at case 1. pagefault-nx: pf_exec 2 (A, B at case 3), int3_fill 3 (case 0,
    /// case 2, case 1: first landings outside the coverage), syscall 1.
    static let jumpTable = """
            .globl _start
            .text
    _start: mov $8, %ecx
    loop:   mov %ecx, %eax
            and $3, %eax
            jmp *table(,RAX,W)
    case0:  add $1, %edx
            jmp next
    case1:  add $2, %edx
    next:   dec %ecx
            jnz loop
            EXIT0
            .balign 4096
    case2:  add $3, %edx
            jmp next
    case3:  add $4, %edx
            jmp next
            .data
            .balign 4096
    table:  PTR case0, case1, case2, case3

    """

    @Test(arguments: arches)
    func jumpTableOnADataPage(arch: WorkloadArch) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let program = try scratch.assemble("jumptable", HandWorkedTests.jumpTable, arch: arch)
        let results = try live(program)
        let sbe = try #require(results.strategy(.sbe))
        #expect(sbe.nonzero == [.jmpInd: 8, .jmp: 4, .syscall: 1])
        #expect(sbe.scans == 5)
        let nx = try #require(results.strategy(.pagefaultNX))
        #expect(nx.nonzero == [.pfExec: 2, .int3Fill: 3, .syscall: 1])
    }

    /// A self-modifying loop, N = 6: page A stores a new immediate into `patched` on page B (an "awx"
    /// section) and then calls it. The first store finds B unscanned; each later one hits B's scan.
    /// sbe: call 6, ret 6, pf_write 5, syscall 1 (B rescanned after each write: 1 + 6 scans).
    /// pagefault-nx: pf_exec 1 (A) + 6 (B: first call, then after each write), pf_write 5, syscall 1.
    static let selfModifyingLoop = """
            .globl _start
            .text
    _start: mov $6, %ecx
    loop:   mov %ecx, patched+1
            call patched
            dec %ecx
            jnz loop
            EXIT0
            .section .smc, "awx"
            .balign 4096
    patched: mov $0, %eax
            ret

    """

    @Test(arguments: arches)
    func selfModifyingLoop(arch: WorkloadArch) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let program = try scratch.assemble("smc", HandWorkedTests.selfModifyingLoop, arch: arch)
        let results = try live(program)
        let sbe = try #require(results.strategy(.sbe))
        #expect(sbe.nonzero == [.call: 6, .ret: 6, .pfWrite: 5, .syscall: 1])
        #expect(sbe.scans == 7)
        let nx = try #require(results.strategy(.pagefaultNX))
        #expect(nx.nonzero == [.pfExec: 7, .pfWrite: 5, .syscall: 1])
        #expect(nx.end == .exited(0) && sbe.end == .exited(0))
    }
}
