import Foundation

/// How PlexLab spells numbers for people: reports, the compare table, the gate, info and record's
/// progress. One place, so every output and the tests agree.
public enum NumberFormat {
    /// 1234567 -> "1,234,567".
    public static func integer(_ value: UInt64) -> String {
        let digits = String(value)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return out
    }

    /// Cycles rounded to an integer, with thousands separators.
    public static func cycles(_ value: Double) -> String {
        guard value.isFinite, value >= 0 else { return "n/a" }
        return integer(UInt64(value.rounded()))
    }

    /// A ratio such as a slowdown: "3.10x" (two decimals; "n/a" when not finite).
    public static func ratio(_ value: Double) -> String {
        value.isFinite ? String(format: "%.2fx", value) : "n/a"
    }

    /// Two decimals: "12.35".
    public static func decimal(_ value: Double) -> String {
        value.isFinite ? String(format: "%.2f", value) : "n/a"
    }

    /// A share 0...1 as a whole percentage: "96%".
    public static func percent(_ share: Double) -> String {
        String(format: "%.0f%%", share * 100)
    }

    /// A short magnitude for chart labels: 1.2k, 3.4M, 5.6G.
    public static func short(_ value: Double) -> String {
        let magnitude = abs(value)
        for (limit, suffix) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] where magnitude >= limit {
            return String(format: "%.3g", value / limit) + suffix
        }
        return String(format: "%.3g", value)
    }

    /// "0x401000".
    public static func address(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// A cycle count in a text table: an integer, or scientific notation from 1e15 on ("1.2346e+15").
    public static func cyclesCompact(_ value: Double) -> String {
        value < 1e15 ? String(format: "%.0f", value) : String(format: "%.4e", value)
    }

    /// Whole numbers as integers ("10", not "10.0"), others as Swift prints them ("0.02").
    public static func plain(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    /// A count for a progress line: "9999", "12.3k", "45.6M", "7.8G".
    public static func count(_ value: UInt64) -> String {
        switch value {
        case 0..<10_000: "\(value)"
        case 10_000..<10_000_000: String(format: "%.1fk", Double(value) / 1e3)
        case 10_000_000..<10_000_000_000: String(format: "%.1fM", Double(value) / 1e6)
        default: String(format: "%.1fG", Double(value) / 1e9)
        }
    }

    /// A size in decimal units for a progress line: "9999 B", "12.3 KB", "45.6 MB".
    public static func bytes(_ value: UInt64) -> String {
        switch value {
        case 0..<10_000: "\(value) B"
        case 10_000..<10_000_000: String(format: "%.1f KB", Double(value) / 1e3)
        default: String(format: "%.1f MB", Double(value) / 1e6)
        }
    }

    /// A size in binary units: "512 B", "1.5 KiB", "2.0 MiB", ... "TiB".
    public static func binaryBytes(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
