import CLiveTrace
import Foundation

/// The program's address space as the monitor sees it: protections it removed, what the program asked for,
/// the memory system calls it follows, and the vDSO it hides.
extension Monitor {
    func protection(of base: UInt64) -> Int32 {
        if mappings == nil { mappings = Mapping.read(pid: tracee.pid) }
        if let mapping = mappings!.first(where: { base >= $0.start && base < $0.end }) { return mapping.prot }
        mappings = Mapping.read(pid: tracee.pid)
        return mappings!.first(where: { base >= $0.start && base < $0.end })?.prot ?? Tracee.protRead | Tracee.protExec
    }

    /// pagefault-nx start: every executable mapping but the monitor's page loses execute permission.
    func removeExecute(_ pid: pid_t) throws {
        // An i386 program without PT_GNU_STACK runs with READ_IMPLIES_EXEC, which would put PROT_EXEC
        // back on every readable page: clear it (personality(2) in the tracee) before protecting.
        let personality = is32PersonalityCall
        let current = try tracee.syscall(pid, personality, [0xFFFF_FFFF])
        let readImpliesExec = 0x0400000
        if current >= 0 && current & readImpliesExec != 0 {
            _ = try tracee.syscall(pid, personality, [UInt64(current & ~readImpliesExec)])
        }
        for mapping in Mapping.read(pid: pid) where mapping.prot & Tracee.protExec != 0 {
            guard mapping.name != "[vsyscall]", !(mapping.start <= tracee.syscallSite && tracee.syscallSite < mapping.end) else { continue }
            try markExecutable(pid, start: mapping.start, end: mapping.end, prot: mapping.prot)
        }
        for mapping in Mapping.read(pid: pid) where mapping.prot & Tracee.protExec != 0 && intended[mapping.start] != nil {
            throw LiveError.notMonitorable("the page 0x\(String(mapping.start, radix: 16)) stays executable after mprotect; pagefault-nx needs NX")
        }
    }

    var is32PersonalityCall: Int { tracee.is32Bit ? 136 : 135 }

    func markExecutable(_ pid: pid_t, start: UInt64, end: UInt64, prot: Int32) throws {
        var page = start
        while page < end { intended[page] = prot; page += Tracee.pageSize }
        try tracee.protect(pid, page: start, count: (end - start) / Tracee.pageSize, prot & ~Tracee.protExec)
    }

    func forget(start: UInt64, end: UInt64) {
        var page = start & ~(Tracee.pageSize - 1)
        while page < end {
            pages.removeValue(forKey: page)
            intended.removeValue(forKey: page)
            page += Tracee.pageSize
        }
    }

    /// Keeps the monitor's bookkeeping true after the program mapped, unmapped or re-protected memory.
    func afterSyscall(_ pid: pid_t, number: UInt64, args: [UInt64], result raw: UInt64) throws {
        let is32 = tracee.is32Bit
        let result = is32 ? UInt64(UInt32(truncatingIfNeeded: raw)) : raw
        let failed = is32 ? Int32(bitPattern: UInt32(result)) < 0 && Int32(bitPattern: UInt32(result)) > -4096
                          : Int64(bitPattern: result) < 0 && Int64(bitPattern: result) > -4096
        guard !failed, let call = Syscalls.Memory(number: number, is32Bit: is32) else { return }
        mappings = nil
        func pagesEnd(_ start: UInt64, _ length: UInt64) -> UInt64 { (start + length + Tracee.pageSize - 1) & ~(Tracee.pageSize - 1) }
        switch call {
        case .mmap, .oldMmap:
            var (length, prot) = (args[1], Int32(truncatingIfNeeded: args[2]))
            if call == .oldMmap {
                let words = tracee.read(args[0], 24).withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
                guard words.count == 6 else { return }
                (length, prot) = (UInt64(words[1]), Int32(bitPattern: words[2]))
            }
            forget(start: result, end: pagesEnd(result, length))
            if strategy == .pagefaultNX && prot & Tracee.protExec != 0 {
                try markExecutable(pid, start: result, end: pagesEnd(result, length), prot: prot)
            }
        case .munmap:
            forget(start: args[0], end: pagesEnd(args[0], args[1]))
        case .mremap:
            forget(start: args[0], end: pagesEnd(args[0], args[1]))
            let prot = protection(of: result)
            forget(start: result, end: pagesEnd(result, args[2]))
            if strategy == .pagefaultNX && prot & Tracee.protExec != 0 {
                try markExecutable(pid, start: result, end: pagesEnd(result, args[2]), prot: prot)
            }
        case .mprotect:
            try reprotect(pid, start: args[0] & ~(Tracee.pageSize - 1), end: pagesEnd(args[0], args[1]),
                          prot: Int32(truncatingIfNeeded: args[2]))
        }
    }

    func reprotect(_ pid: pid_t, start: UInt64, end: UInt64, prot: Int32) throws {
        if strategy == .pagefaultNX && prot & Tracee.protExec != 0 {
            try markExecutable(pid, start: start, end: end, prot: prot)
        }
        var base = start
        while base < end {
            defer { base += Tracee.pageSize }
            let translated = pages[base]?.valid == true
            switch strategy {
            case .sbe:
                guard translated else { intended.removeValue(forKey: base); continue }
                intended[base] = prot
                if prot & Tracee.protWrite != 0 { try tracee.protect(pid, page: base, prot & ~Tracee.protWrite) }
            case .pagefaultNX:
                if prot & Tracee.protExec == 0 {
                    if translated { try discard(base) }
                    intended.removeValue(forKey: base)
                } else if translated {
                    try tracee.protect(pid, page: base, prot & ~Tracee.protWrite)
                }
            }
        }
    }

    /// Makes glibc see no vDSO, as under qemu-user 7.2 (docs/live.md): AT_SYSINFO_EHDR and AT_SYSINFO
    /// become AT_IGNORE in the auxiliary vector on the new program's stack.
    func hideVDSO(_ pid: pid_t) throws {
        let sp = try tracee.registers(pid).sp
        let word = tracee.is32Bit ? 4 : 8
        let bytes = tracee.read(sp, 65536)
        func value(_ index: Int) -> UInt64? {
            let offset = index * word
            guard offset + word <= bytes.count else { return nil }
            return bytes[offset..<offset + word].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        guard let argc = value(0) else { return }
        var index = Int(argc) + 2
        while let entry = value(index), entry != 0 { index += 1 }
        index += 1
        while let type = value(index), type != 0 {
            if type == 32 || type == 33 {
                var ignore = [UInt8](repeating: 0, count: word)
                ignore[0] = 1
                try tracee.write(sp + UInt64(index * word), ignore[...])
            }
            index += 2
        }
    }
}

/// The memory system calls the monitor follows, by number.
enum Syscalls {
    enum Memory: Equatable {
        case mmap, oldMmap, mprotect, munmap, mremap

        init?(number: UInt64, is32Bit: Bool) {
            switch (is32Bit, number) {
            case (false, 9), (true, 192): self = .mmap
            case (true, 90): self = .oldMmap
            case (false, 10), (false, 329), (true, 125), (true, 380): self = .mprotect
            case (false, 11), (true, 91): self = .munmap
            case (false, 25), (true, 163): self = .mremap
            default: return nil
            }
        }
    }

    static func isExec(_ number: UInt64, is32Bit: Bool) -> Bool {
        is32Bit ? number == 11 || number == 358 : number == 59 || number == 322
    }
}
