import Foundation

/// A guest kernel's symbols from a System.map or /proc/kallsyms text ("ffffffff81000000 T _stext" per
/// line): what names kernel trap sites of a system trace (`plexlab report --system-map`). Only code symbols
/// (types t, T, w, W) are kept; an address takes the nearest symbol at or below it.
public struct KernelSymbolMap: Sendable, Equatable {
    /// Code symbols by address, ascending.
    public let symbols: [(address: UInt64, name: String)]

    public static func == (a: KernelSymbolMap, b: KernelSymbolMap) -> Bool {
        a.symbols.elementsEqual(b.symbols) { $0.address == $1.address && $0.name == $1.name }
    }

    /// Parses the text; lines that are not "address type name" are skipped.
    public init(text: String) {
        var symbols: [(address: UInt64, name: String)] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 3, fields[1].count == 1, "tTwW".contains(fields[1]),
                  let address = UInt64(fields[0], radix: 16), address != 0 else { continue }
            symbols.append((address, String(fields[2])))
        }
        symbols.sort { $0.address < $1.address }
        self.symbols = symbols
    }

    /// Reads a System.map file; one-line error when it cannot be read or holds no code symbol.
    public init(path: String) throws(SymbolError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SymbolError(path: path, problem: "cannot read the System.map")
        }
        self.init(text: String(decoding: data, as: UTF8.self))
        if symbols.isEmpty { throw SymbolError(path: path, problem: "holds no code symbol (\"address T name\" lines)") }
    }

    /// The symbol at or below `address` and the offset from it; nil below the first symbol or past the
    /// last one by more than `maximumOffset` (the map does not give sizes).
    public func symbol(at address: UInt64, maximumOffset: UInt64 = 1 << 20) -> (name: String, offset: UInt64)? {
        var low = 0, high = symbols.count
        while low < high {
            let middle = (low + high) / 2
            if symbols[middle].address <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        let found = symbols[low - 1]
        let offset = address - found.address
        guard low < symbols.count || offset <= maximumOffset else { return nil }
        return (found.name, offset)
    }
}
