import CElf
#if canImport(Glibc)
import Glibc
#endif

/// Why an ELF file could not be read; the symbolizer turns it into "no symbol", never a failed report.
public struct SymbolError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var problem: String
    public var description: String { "\(path): \(problem)" }
}

/// Which ELF symbol table names came from.
public enum SymbolSource: String, Sendable, Codable {
    /// The full static symbol table (not stripped).
    case symtab
    /// Only the dynamic (exported) symbols: the file was stripped.
    case dynsym
    /// No usable symbols.
    case none
}

/// The code symbols and load segments of one ELF file, read once with elfutils' libelf.
///
/// Addresses here are ELF virtual addresses (link-time addresses: 0-based for PIE and shared objects).
public final class SymbolTable: Sendable {
    /// A PT_LOAD segment: file bytes [fileOffset, fileOffset + fileSize) appear at virtualAddress.
    public struct Segment: Sendable, Hashable {
        public var fileOffset: UInt64
        public var fileSize: UInt64
        public var virtualAddress: UInt64
    }

    /// A defined code symbol (function, assembler label or ifunc), sorted by address.
    public struct Symbol: Sendable, Hashable {
        public var name: String
        public var address: UInt64
        /// 0 when the symbol has no recorded size (typical for assembler labels).
        public var size: UInt64
    }

    public let path: String
    public let is64Bit: Bool
    public let segments: [Segment]
    public let symbols: [Symbol]
    public let source: SymbolSource

    /// Reads the program headers and the symbol table (.symtab if present, else .dynsym) of `path`.
    public init(path: String) throws(SymbolError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SymbolError(path: path, problem: "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        guard elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE) else {
            throw SymbolError(path: path, problem: "libelf version mismatch")
        }
        guard let elf = elf_begin(fd, ELF_C_READ, nil) else { throw Self.libelfError(path) }
        defer { elf_end(elf) }
        guard elf_kind(elf) == ELF_K_ELF else { throw SymbolError(path: path, problem: "not an ELF file") }
        var header = GElf_Ehdr()
        guard gelf_getehdr(elf, &header) != nil else { throw Self.libelfError(path) }
        is64Bit = header.e_ident.4 == UInt8(ELFCLASS64)
        segments = try Self.loadSegments(elf, path: path)
        let symtab = Self.readSymbols(elf, sectionType: UInt32(SHT_SYMTAB))
        if !symtab.isEmpty {
            (symbols, source) = (symtab, .symtab)
        } else {
            let dynsym = Self.readSymbols(elf, sectionType: UInt32(SHT_DYNSYM))
            (symbols, source) = (dynsym, dynsym.isEmpty ? .none : .dynsym)
        }
    }

    /// The ELF virtual address at which the byte at `fileOffset` is loaded, if a PT_LOAD segment holds it.
    public func virtualAddress(fileOffset: UInt64) -> UInt64? {
        for segment in segments where fileOffset >= segment.fileOffset && fileOffset - segment.fileOffset < segment.fileSize {
            return segment.virtualAddress &+ (fileOffset - segment.fileOffset)
        }
        return nil
    }

    /// The nearest symbol at or below `virtualAddress` and the offset into it; nil when there is none or
    /// when that symbol has a size and the address lies past its end (padding, stripped static code).
    public func symbol(at virtualAddress: UInt64) -> (symbol: Symbol, offset: UInt64)? {
        var low = 0, high = symbols.count
        while low < high {
            let mid = (low + high) / 2
            if symbols[mid].address <= virtualAddress { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        // Aliases share an address; `symbols` is sorted so the preferred name comes last in its group.
        let best = symbols[low - 1]
        let offset = virtualAddress - best.address
        if best.size > 0 && offset >= best.size { return nil }
        return (best, offset)
    }

    private static func libelfError(_ path: String) -> SymbolError {
        let message = elf_errmsg(-1).map { String(cString: $0) } ?? "unknown libelf error"
        return SymbolError(path: path, problem: message)
    }

    private static func loadSegments(_ elf: OpaquePointer, path: String) throws(SymbolError) -> [Segment] {
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0 else { throw libelfError(path) }
        var segments: [Segment] = []
        for index in 0..<count {
            var header = GElf_Phdr()
            guard gelf_getphdr(elf, Int32(index), &header) != nil else { continue }
            guard header.p_type == UInt32(PT_LOAD) else { continue }
            segments.append(Segment(fileOffset: header.p_offset, fileSize: header.p_filesz, virtualAddress: header.p_vaddr))
        }
        return segments
    }

    /// Defined FUNC, NOTYPE and GNU_IFUNC symbols of every section of `sectionType`, sorted by address.
    private static func readSymbols(_ elf: OpaquePointer, sectionType: UInt32) -> [Symbol] {
        var result: [Symbol] = []
        var section: OpaquePointer? = elf_nextscn(elf, nil)
        while let current = section {
            section = elf_nextscn(elf, current)
            var header = GElf_Shdr()
            guard gelf_getshdr(current, &header) != nil, header.sh_type == sectionType,
                  header.sh_entsize > 0, let data = elf_getdata(current, nil) else { continue }
            let count = Int(header.sh_size / header.sh_entsize)
            for index in 0..<count {
                var symbol = GElf_Sym()
                guard gelf_getsym(data, Int32(index), &symbol) != nil else { continue }
                let type = Int32(symbol.st_info & 0xf)
                guard type == STT_FUNC || type == STT_NOTYPE || type == STT_GNU_IFUNC else { continue }
                guard symbol.st_shndx != UInt16(SHN_UNDEF), symbol.st_shndx != UInt16(SHN_ABS),
                      symbol.st_name != 0, symbol.st_value != 0,
                      let name = elf_strptr(elf, Int(header.sh_link), Int(symbol.st_name)) else { continue }
                let text = String(cString: name)
                // Mapping symbols ($x, $d) and local compiler labels (.L...) are not names a reader wants.
                if text.hasPrefix("$") || text.hasPrefix(".L") { continue }
                result.append(Symbol(name: text, address: symbol.st_value, size: symbol.st_size))
            }
        }
        // At one address the preferred name sorts last: a sized symbol over a label, then fewer leading
        // underscores (malloc over __libc_malloc), then the alphabetically first.
        func rank(_ symbol: Symbol) -> (UInt64, Int, Int) {
            (symbol.address, symbol.size == 0 ? 0 : 1, -symbol.name.prefix(while: { $0 == "_" }).count)
        }
        result.sort { rank($0) != rank($1) ? rank($0) < rank($1) : $0.name > $1.name }
        return result
    }
}
