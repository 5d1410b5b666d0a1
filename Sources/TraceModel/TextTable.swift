/// An aligned plain-text table (compare's and replay's tables, the gate's log): columns as wide as their
/// widest cell, one space between, two before the first, trailing spaces trimmed.
public enum TextTable {
    /// `header` and `rows` (a row may be shorter than the header); cells of the columns in `rightAligned`
    /// are padded on the left, in the header too, the others on the right.
    public static func render(_ header: [String], _ rows: [[String]], rightAligned: (Int) -> Bool) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0.count > column ? $0[column].count : 0 }.max() ?? 0 }
        var out = ""
        for row in all {
            var line = " "
            for (column, cell) in row.enumerated() {
                let pad = String(repeating: " ", count: max(widths[column] - cell.count, 0))
                line += " " + (rightAligned(column) ? pad + cell : cell + pad)
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }
}
