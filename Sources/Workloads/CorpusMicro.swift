/// The micro workloads of the corpus: one behaviour a strategy is sensitive to each, built from one
/// assembly source for x86-64 and (gcc -m32) i386. `microPrelude` gives both modes the same spelling.
extension WorkloadCatalog {
    /// Every micro workload, 64-bit then 32-bit of each behaviour.
    public static var micro: [Workload] {
        microSources.flatMap { behaviour in
            WorkloadArch.allCases.map { arch in
                Workload(
                    name: "micro-\(behaviour.name)-\(arch == .x86_64 ? "64" : "32")",
                    summary: behaviour.summary, kind: .micro,
                    recipe: .assembly(source: microPrelude + behaviour.source, arch: arch),
                    dataPages: true, packages: ["gcc", "binutils"],
                    note: "assembled with gcc\(arch == .i386 ? " -m32" : "") -nostdlib -static at record time")
            }
        }
    }

    /// Macros that let one source build in both modes (the .S file goes through cpp).
    static let microPrelude = #"""
/* Shared by every corpus micro workload: one source builds for x86-64 and (with -m32) i386. */
#ifdef __x86_64__
#define EXIT0 mov $60, %eax; xor %edi, %edi; syscall
#define PTR .quad
#define W 8
#define RAX %rax
#define RBX %rbx
#define RCX %rcx
#define RDX %rdx
#define RSI %rsi
#define RDI %rdi
#define RBP %rbp
#define RSP %rsp
#else
#define EXIT0 mov $1, %eax; xor %ebx, %ebx; int $0x80
#define PTR .long
#define W 4
#define RAX %eax
#define RBX %ebx
#define RCX %ecx
#define RDX %edx
#define RSI %esi
#define RDI %edi
#define RBP %ebp
#define RSP %esp
#endif
"""#

    static let microSources: [(name: String, summary: String, source: String)] = [
        ("xpage-calls", "cross-page calls: a chain of functions each alone on its page, a cross-page tail jump, code running off a page end", #"""
/* Cross-page control flow: a loop calls a chain of functions, each alone on its own page, with a
   cross-page tail jump and a function that runs off the end of its page into the next. */
        .globl _start
        .text
_start: mov $10000, %ebp
loop:   call f1
        call f3
        call straddle
        dec %ebp
        jnz loop
        EXIT0
        .balign 4096
f1:     call f2
        add $1, %eax
        jmp t1                  /* tail jump to another page */
        .balign 4096
f2:     add $2, %eax
        ret
        .balign 4096
f3:     call f2
        call f1
        ret
        .balign 4096
t1:     xor $5, %eax
        ret
        .balign 4096
        .skip 4096 - 8
straddle:                       /* falls through from this page into the next */
        nop; nop; nop; nop; nop; nop; nop; nop
        nop; nop
        ret
"""#),
        ("xpage-bounce", "plex86's 2001 dynamic-translation testbed: a path weaving between two pages through static out-of-page jumps, 100,000 round trips", #"""
/* The shape of plex86's dynamic-translation testbed (K. Lawton, plex86 list, January 2001): "code which
   weaves a path branching back and forth between two arbitrary guest pages", repeated. Every hop is one
   static out-of-page jmp; a pass makes 8 round trips (a_i -> b_i -> a_i+1) and ends in one dec/jnz back
   to a0. 12,500 passes = 100,000 round trips. */
        .globl _start
        .text
_start: mov $12500, %ecx
        jmp a0
        .balign 4096
a0:     jmp b0
a1:     jmp b1
a2:     jmp b2
a3:     jmp b3
a4:     jmp b4
a5:     jmp b5
a6:     jmp b6
a7:     jmp b7
        .balign 4096
b0:     jmp a1
b1:     jmp a2
b2:     jmp a3
b3:     jmp a4
b4:     jmp a5
b5:     jmp a6
b6:     jmp a7
b7:     dec %ecx
        jnz a0
        EXIT0
"""#),
        ("jumptable", "switch dispatch through a jump table (jmp_ind), pseudo-random cases on two pages", #"""
/* Switch dispatch through a jump table: a pseudo-random case (LCG bits) each iteration; six cases
   share the dispatcher's page, two live on the next one. */
        .globl _start
        .text
_start: mov $30000, %ebp
        mov $12345, %ebx
loop:   imul $1103515245, %ebx, %ebx
        add $12345, %ebx
        mov %ebx, %eax
        shr $16, %eax
        and $7, %eax
        jmp *table(,RAX,W)
case0:  add $3, %esi
        jmp next
case1:  sub $7, %esi
        jmp next
case2:  xor %ebx, %esi
        jmp next
case3:  rol $3, %esi
        jmp next
case4:  lea 1(%esi,%esi,2), %esi
        jmp next
case5:  not %esi
        jmp next
next:   dec %ebp
        jnz loop
        EXIT0
        .balign 4096
case6:  add %ebx, %esi
        jmp next
case7:  imul $3, %esi, %esi
        jmp next
        .section .rodata
        .balign 8
table:  PTR case0, case1, case2, case3, case4, case5, case6, case7
"""#),
        ("vcall", "calls through virtual-call tables and function pointers (call_ind) to methods on three pages", #"""
/* Calls through function pointers and virtual-call tables: four objects of two classes, each call
   loads the object's vtable and calls a method through it; a function-pointer array is called
   through a register. Methods sit on three pages. */
        .globl _start
        .text
_start: mov $15000, %ebp
        xor %esi, %esi
loop:   mov %ebp, %eax
        and $3, %eax
        mov objects(,RAX,W), RBX     /* the object */
        mov (RBX), RAX               /* its vtable */
        call *(RAX)                  /* method 0 */
        mov (RBX), RAX
        call *W(RAX)                 /* method 1 */
        mov %ebp, %eax
        and $3, %eax
        mov handlers(,RAX,W), RAX
        call *RAX                    /* a function pointer */
        dec %ebp
        jnz loop
        EXIT0
        .balign 4096
a_area: add $1, %esi
        ret
a_name: xor $0x11, %esi
        ret
h0:     add $2, %esi
        ret
h1:     sub $1, %esi
        ret
        .balign 4096
b_area: lea 3(%esi), %esi
        ret
b_name: rol $1, %esi
        ret
        .balign 4096
h2:     not %esi
        ret
h3:     imul $3, %esi, %esi
        ret
        .section .rodata
        .balign 8
vtable_a: PTR a_area, a_name
vtable_b: PTR b_area, b_name
handlers: PTR h0, h1, h2, h3
        .data
        .balign 8
obj0:   PTR vtable_a
obj1:   PTR vtable_b
obj2:   PTR vtable_b
obj3:   PTR vtable_a
objects: PTR obj0, obj1, obj2, obj3
"""#),
        ("recursion", "deep recursion (1500 frames, ten times) and the bushy fib(17): returns beyond any return-address stack", #"""
/* Deep recursion: a linear recursion 1500 calls deep, ten times (returns far deeper than any
   return-address stack), then the doubly recursive fib(17) (5167 calls, shallow and bushy). */
        .globl _start
        .text
_start: mov $10, %ebp
again:  mov $1500, %ecx
        call down
        dec %ebp
        jnz again
        mov $17, %ecx
        call fib
        EXIT0
down:   test %ecx, %ecx
        jz 1f
        dec %ecx
        call down
        inc %eax
1:      ret
fib:    cmp $2, %ecx              /* eax = fib(ecx), clobbers ecx, edx */
        jae 1f
        mov %ecx, %eax
        ret
1:      push RCX
        dec %ecx
        call fib
        pop RCX
        push RAX
        sub $2, %ecx
        call fib
        pop RDX
        add %edx, %eax
        ret
"""#),
        ("jit", "JIT-like code: a function generated into an anonymous RWX page and rewritten 400 times", #"""
/* JIT-like code: maps an anonymous read-write-execute page, then 400 times writes a small function
   into it (a counted loop whose count and result change every round, at one of two offsets),
   calls it three times, and moves on: code generated and rewritten at run time. */
        .globl _start
        .text
_start:
#ifdef __x86_64__
        mov $9, %eax                 /* mmap(0, 4096, rwx, private|anonymous, -1, 0) */
        xor %edi, %edi
        mov $4096, %esi
        mov $7, %edx
        mov $0x22, %r10d
        mov $-1, %r8
        xor %r9d, %r9d
        syscall
#else
        push %ebp
        mov $192, %eax               /* mmap2(0, 4096, rwx, private|anonymous, -1, 0) */
        xor %ebx, %ebx
        mov $4096, %ecx
        mov $7, %edx
        mov $0x22, %esi
        mov $-1, %edi
        xor %ebp, %ebp
        int $0x80
        pop %ebp
#endif
        mov RAX, RBX                 /* the code page */
        mov $400, %ebp
round:  mov %ebp, %eax
        and $1, %eax
        shl $7, %eax                 /* offset 0 or 128 */
        lea (RBX,RAX), RDI
        /* emit: mov $count, %ecx (b9 imm32); 1: dec %ecx (ff c9 ... in 32-bit: 49); jnz 1b; mov $round, %eax; ret */
        movb $0xb9, (RDI)
        mov %ebp, %eax
        and $15, %eax
        add $4, %eax
        mov %eax, 1(RDI)             /* count 4..19 */
        movw $0xc9ff, 5(RDI)         /* dec %ecx (valid in both modes) */
        movw $0xfc75, 7(RDI)         /* jnz -4 */
        movb $0xb8, 9(RDI)
        mov %ebp, 10(RDI)            /* mov $round, %eax */
        movb $0xc3, 14(RDI)          /* ret */
        mov $3, %esi
call3:  call *RDI
        dec %esi
        jnz call3
        dec %ebp
        jnz round
        EXIT0
"""#),
        ("data-pages", "data-heavy loops over 1024 pages of a 4 MiB buffer", #"""
/* Data-heavy loops over many pages: a 4 MiB buffer (1024 pages) is written one word per page,
   then summed with a 64-byte stride over its first 256 KiB, eight passes each. */
        .globl _start
        .text
_start: mov $8, %ebp
pass:   mov $buffer, %edi
        mov $1024, %ecx
touch:  mov %ecx, (RDI)
        add $4096, RDI
        dec %ecx
        jnz touch
        mov $buffer, %esi
        mov $4096, %ecx
        xor %eax, %eax
sum:    add (RSI), %eax
        add $64, RSI
        dec %ecx
        jnz sum
        dec %ebp
        jnz pass
        EXIT0
        .bss
        .balign 4096
buffer: .skip 4 * 1024 * 1024
"""#),
        ("mixed-page", "code and data on one page: every iteration writes a counter next to the running loop", #"""
/* Mixed code and data on one page: the page holding the loop is made writable, and every iteration
   reads a table and updates a counter that sit on that same page, next to the code. */
        .globl _start
        .text
_start:
#ifdef __x86_64__
        mov $10, %eax                /* mprotect(mixed, 4096, rwx) */
        lea mixed(%rip), %rdi
        mov $4096, %esi
        mov $7, %edx
        syscall
#else
        mov $125, %eax
        mov $mixed, %ebx
        mov $4096, %ecx
        mov $7, %edx
        int $0x80
#endif
        jmp mixed
        .balign 4096
mixed:  mov $1000, %ebp
loop:   mov %ebp, %eax
        and $7, %eax
        mov table(,RAX,4), %eax      /* data read from the code page */
        add %eax, counter            /* data write to the code page */
        dec %ebp
        jnz loop
        EXIT0
        .balign 64
table:  .long 1, 2, 3, 5, 8, 13, 21, 34
counter: .long 0
"""#),
    ]
}
