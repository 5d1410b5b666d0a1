import Foundation
import LiveMonitor
import Replay
import Testing
import Workloads

/// Threads are each monitored; their counts are kept per thread and summed.
@Suite(.serialized) struct ThreadTests {
    /// The main thread clones one thread (raw clone, CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM = 0x50f00),
    /// calls a function on the next page 5 times, and spins (in-page, no trap) until the thread has set
    /// `done`; the thread calls the same function 7 times, sets `done` and exits alone.
    /// sbe: main call 5, ret 5, syscall 2 (clone, exit_group); thread call 7, ret 7, syscall 1 (exit).
    /// pagefault-nx: pf_exec 2 (page A at the start, page B at the first call, by either thread), syscall 3.
    static let source = """
            .globl _start
            .text
    _start:
    #ifdef __x86_64__
            mov $56, %eax
            mov $0x50f00, %edi
            lea stack_top(%rip), %rsi
            xor %edx, %edx
            xor %r10d, %r10d
            xor %r8d, %r8d
            syscall
    #else
            mov $120, %eax
            mov $0x50f00, %ebx
            mov $stack_top, %ecx
            xor %edx, %edx
            xor %esi, %esi
            xor %edi, %edi
            int $0x80
    #endif
            test RAX, RAX
            jz child
            mov $5, %ecx
    1:      call far_func
            dec %ecx
            jnz 1b
    spin:   cmpl $0, done
            je spin
            EXIT0
    child:  mov $7, %ecx
    2:      call far_func
            dec %ecx
            jnz 2b
            movl $1, done
    #ifdef __x86_64__
            mov $60, %eax
            xor %edi, %edi
            syscall
    #else
            mov $1, %eax
            xor %ebx, %ebx
            int $0x80
    #endif
            .balign 4096
    far_func: ret
            .data
            .balign 4
    done:   .long 0
            .bss
            .balign 16
            .skip 16384
    stack_top:

    """

    @Test(arguments: [WorkloadArch.x86_64, .i386])
    func twoThreadsCountedApart(arch: WorkloadArch) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let program = try scratch.assemble("threads", ThreadTests.source, arch: arch)
        for _ in 0..<3 {
            let results = try live(program)
            let sbe = try #require(results.strategy(.sbe))
            #expect(sbe.end == .exited(0))
            #expect(sbe.nonzero == [.call: 12, .ret: 12, .syscall: 3])
            #expect(sbe.threads.count == 2)
            let perThread = Set(sbe.threads.map { $0.filter { $0.value != 0 } })
            #expect(perThread == [[.call: 5, .ret: 5, .syscall: 2], [.call: 7, .ret: 7, .syscall: 1]])
            let nx = try #require(results.strategy(.pagefaultNX))
            #expect(nx.end == .exited(0))
            #expect(nx.nonzero == [.pfExec: 2, .syscall: 3])
            #expect(nx.threads.count == 2)
        }
    }
}
