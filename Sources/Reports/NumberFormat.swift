import Foundation

/// How reports spell numbers. One place, so Markdown, HTML and tests agree.
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
}
