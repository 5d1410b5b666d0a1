import CLiveTrace
import Foundation

/// The traced process: its memory, its mode and the monitor's syscall site in it.
/// Operations name the thread they use (any stopped thread of the process can inject a system call).
struct Tracee {
    let pid: pid_t
    let memory: Int32
    let is32Bit: Bool
    /// Address of the monitor's own `syscall` (`int $0x80`) in a page it mapped; 0 until mapped.
    var syscallSite: UInt64 = 0
    /// The monitor's page in the tracee (never part of the program's code).
    var scratchPage: UInt64 = 0

    static let pageSize: UInt64 = 4096
    static let protRead: Int32 = 1, protWrite: Int32 = 2, protExec: Int32 = 4

    func read(_ address: UInt64, _ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { lt_read(memory, address, $0.baseAddress, count) }
        return got > 0 ? Array(bytes.prefix(got)) : []
    }

    func write(_ address: UInt64, _ bytes: ArraySlice<UInt8>) throws {
        guard !bytes.isEmpty else { return }
        let put = bytes.withUnsafeBytes { lt_write(memory, address, $0.baseAddress, $0.count) }
        guard put == bytes.count else { throw LiveError.ptrace("a write to the program's memory at 0x\(String(address, radix: 16))", Int32(-put)) }
    }

    func registers(_ thread: pid_t) throws -> lt_regs {
        var regs = lt_regs()
        try check(lt_get_regs(thread, &regs), "reading registers")
        return regs
    }

    func setIP(_ thread: pid_t, _ ip: UInt64) throws { try check(lt_set_ip(thread, ip), "setting the instruction pointer") }

    /// Runs a system call in the stopped `thread` through the monitor's syscall site.
    func syscall(_ thread: pid_t, _ number: Int, _ args: [UInt64]) throws -> Int {
        var all = args + [UInt64](repeating: 0, count: 6 - args.count)
        var result = 0
        let status = all.withUnsafeMutableBufferPointer {
            lt_inject_syscall(thread, syscallSite, is32Bit ? 1 : 0, number, $0.baseAddress, &result)
        }
        try check(status, "an injected system call")
        return result
    }

    /// mprotect over whole pages, run in the stopped `thread`.
    func protect(_ thread: pid_t, page: UInt64, count: UInt64 = 1, _ prot: Int32) throws {
        let result = try syscall(thread, is32Bit ? 125 : 10, [page, count * Tracee.pageSize, UInt64(prot)])
        if result < 0 { throw LiveError.ptrace("mprotect(0x\(String(page, radix: 16))) injected", Int32(-result)) }
    }

    /// Maps the monitor's page (read+execute) holding its syscall instruction, running the mmap through a
    /// syscall instruction written for a moment over the code at the thread's instruction pointer.
    mutating func mapSyscallPage(_ thread: pid_t) throws {
        let ip = try registers(thread).ip
        let saved = read(ip, 2)
        let instruction: [UInt8] = is32Bit ? [0xCD, 0x80] : [0x0F, 0x05]
        try write(ip, instruction[...])
        syscallSite = ip
        // mmap(0, 4096, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0); i386: mmap2.
        let address = try syscall(thread, is32Bit ? 192 : 9,
                                  [0, Tracee.pageSize, UInt64(Tracee.protRead | Tracee.protExec), 0x22,
                                   is32Bit ? 0xFFFF_FFFF : UInt64.max, 0])
        try write(ip, saved[...])
        guard address > 0 || address < -4095 else { throw LiveError.ptrace("mapping the monitor's page", Int32(-address)) }
        let page = UInt64(UInt(bitPattern: address)) & (is32Bit ? 0xFFFF_FFFF : UInt64.max)
        // page+0: syscall; int3 / page+4: int $0x80; int3 (both usable for displaced system calls).
        try write(page, [0x0F, 0x05, 0xCC, 0xCC, 0xCD, 0x80, 0xCC, 0xCC][...])
        scratchPage = page
        syscallSite = is32Bit ? page + 4 : page
    }

    func check(_ status: Int32, _ what: String) throws {
        if status != 0 { throw LiveError.ptrace(what, -status) }
    }
}

/// One line of /proc/PID/maps.
struct Mapping {
    var start: UInt64
    var end: UInt64
    var prot: Int32
    var name: String

    static func read(pid: pid_t) -> [Mapping] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { return nil }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16) else { return nil }
            let perms = Array(fields[1])
            var prot: Int32 = 0
            if perms.count >= 3 {
                if perms[0] == "r" { prot |= Tracee.protRead }
                if perms[1] == "w" { prot |= Tracee.protWrite }
                if perms[2] == "x" { prot |= Tracee.protExec }
            }
            let name = fields.count > 5 ? fields[5].trimmingCharacters(in: .whitespaces) : ""
            return Mapping(start: start, end: end, prot: prot, name: name)
        }
    }
}
