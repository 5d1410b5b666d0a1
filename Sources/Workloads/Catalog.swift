/// Every named workload: the committed corpus (`corpus`) and the examples the tests record (`examples`).
public enum WorkloadCatalog {
    /// The corpus, then the examples.
    public static var all: [Workload] { corpus + examples }

    /// Workloads the tests record (the worked example with default parameters, ...), not in the corpus.
    public static let examples: [Workload] = [
        crossPageCall(iterations: 1000, arch: .x86_64),
        crossPageCall(iterations: 1000, arch: .i386),
        selfModifying(arch: .x86_64),
        selfModifying(arch: .i386),
        Workload(name: "python3-print", summary: "python3 starts and prints one line",
                 recipe: .installed(program: "/usr/bin/python3"), arguments: ["-c", "print(42)"]),
    ]

    public static func named(_ name: String) throws -> Workload {
        guard let workload = all.first(where: { $0.name == name }) else {
            throw WorkloadError.unknown(name: name, known: all.map(\.name))
        }
        return workload
    }

    /// The worked example of docs/strategies.md: a loop on one page calls a function alone on the next
    /// page `iterations` times, then exits with status 0.
    /// Blocks: B0 = [mov; call], F = [ret], B1 = [dec; jnz], BL = [call], BE = [mov; xor; syscall];
    /// executed B0 F B1 (BL F B1)^(N-1) BE: 3N+1 blocks, 5 distinct.
    public static func crossPageCall(iterations: Int, arch: WorkloadArch) -> Workload {
        let name = arch == .x86_64 ? "crosspage-call" : "crosspage-call-i386"
        let exit = arch == .x86_64
            ? "mov $60, %eax\n        xor %edi, %edi\n        syscall"
            : "mov $1, %eax\n        xor %ebx, %ebx\n        int $0x80"
        let source = """
                .globl _start
                .text
        _start: mov $\(iterations), %ecx
        1:      call far_func           # far_func sits alone on the next page
                dec %ecx
                jnz 1b
                \(exit)
                .balign 4096
        far_func:
                ret

        """
        return Workload(name: name, summary: "a loop calls a function on the next page \(iterations) times",
                        recipe: .assembly(source: source, arch: arch))
    }

    /// Self-modifying code: runs a function on a page, writes new code elsewhere on that page and calls
    /// it, then calls a function that patches an instruction of its own block. Exits with status 16
    /// (7 from the written code + 9 from the patched one).
    public static func selfModifying(arch: WorkloadArch) -> Workload {
        let source = arch == .x86_64 ? """
                .globl _start
                .text
        _start: mov $10, %eax                   # mprotect(codepage, 4096, read|write|exec)
                lea codepage(%rip), %rdi
                mov $4096, %esi
                mov $7, %edx
                syscall
                call codepage                   # the page runs once as linked
                lea codepage+256(%rip), %rdi    # write "mov $7, %eax; ret" further down that page
                movl $0x000007b8, (%rdi)
                movw $0xc300, 4(%rdi)
                call *%rdi
                mov %eax, %ebx
                call selfpatch                  # rewrites an instruction of its own block
                add %eax, %ebx
                mov %ebx, %edi
                mov $60, %eax
                syscall
                .balign 4096
        codepage:
                mov $1, %eax
                ret
        selfpatch:
                movb $9, 1f+1(%rip)
        1:      mov $0, %eax
                ret

        """ : """
                .globl _start
                .text
        _start: mov $125, %eax                  # mprotect(codepage, 4096, read|write|exec)
                mov $codepage, %ebx
                mov $4096, %ecx
                mov $7, %edx
                int $0x80
                call codepage                   # the page runs once as linked
                mov $codepage+256, %edi         # write "mov $7, %eax; ret" further down that page
                movl $0x000007b8, (%edi)
                movw $0xc300, 4(%edi)
                call *%edi
                mov %eax, %esi
                call selfpatch                  # rewrites an instruction of its own block
                add %eax, %esi
                mov %esi, %ebx
                mov $1, %eax
                int $0x80
                .balign 4096
        codepage:
                mov $1, %eax
                ret
        selfpatch:
                movb $9, 1f+1
        1:      mov $0, %eax
                ret

        """
        return Workload(name: arch == .x86_64 ? "smc" : "smc-i386",
                        summary: "writes new code into a page that already ran, and patches its own block",
                        recipe: .assembly(source: source, arch: arch))
    }
}
