import Foundation

/// The guest kernel's addresses the system plugin needs. Debian ships System.map only in the -dbg
/// package, so they come from the guest itself: a probe boot of the same kernel (with nokaslr, so the
/// addresses are the same at every boot) greps /proc/kallsyms. Cached per kernel file next to the image.
public struct KernelSymbols: Sendable, Equatable {
    /// entry_SYSCALL_64: where MSR_LSTAR sends the syscall instruction.
    public var syscallEntry: UInt64
    /// idt_table: the IDT; its gates give the entry address of every vector.
    public var idtTable: UInt64
    /// page_offset_base: the variable holding the start of the direct map of physical memory.
    public var pageOffsetBase: UInt64
    /// clear_page_rep, clear_page_orig, clear_page_erms (those present).
    public var clearPage: [UInt64]

    static let names = ["entry_SYSCALL_64", "idt_table", "page_offset_base", "clear_page_rep", "clear_page_orig",
                        "clear_page_erms"]

    /// The probe's command: prints the kallsyms lines of `names`.
    static let probeCommand = ["/bin/grep", "-E", " (" + names.joined(separator: "|") + ")$", "/proc/kallsyms"]

    /// Parses kallsyms lines ("ffffffff81c00080 T entry_SYSCALL_64"); nil when a required symbol is
    /// missing or its address is zero (kptr_restrict hid it).
    public init?(kallsyms text: String) {
        var found: [String: UInt64] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, let address = UInt64(fields[0], radix: 16), address != 0 else { continue }
            let name = String(fields[2])
            if Self.names.contains(name), found[name] == nil { found[name] = address }
        }
        guard let syscall = found["entry_SYSCALL_64"], let idt = found["idt_table"],
              let offset = found["page_offset_base"] else { return nil }
        syscallEntry = syscall
        idtTable = idt
        pageOffsetBase = offset
        clearPage = ["clear_page_rep", "clear_page_orig", "clear_page_erms"].compactMap { found[$0] }
    }

    /// The plugin's arguments for these addresses.
    var pluginArguments: [String] {
        ["syscall=0x" + String(syscallEntry, radix: 16), "idt=0x" + String(idtTable, radix: 16),
         "page-offset=0x" + String(pageOffsetBase, radix: 16)]
            + clearPage.map { "clear-page=0x" + String($0, radix: 16) }
    }
}
