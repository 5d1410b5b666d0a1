/// Escaping of strings that come from a trace (paths, argv, symbols, disassembly) before they reach a report.
public enum Escape {
    /// Text for HTML element content and quoted attribute values.
    public static func html(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\0": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Text for GitHub-flavoured Markdown, safe inside a table cell: it renders literally, cannot close
    /// the cell (`|`), start a link, emphasis, code span, heading or list, and holds no raw HTML.
    /// Newlines and other control characters become visible `\n`-style escapes or spaces.
    public static func markdown(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "|": out += "&#124;"
            // Emphasis, code spans, links and images, strikethrough, math ($), emoji shortcodes (:x:).
            case "\\", "`", "*", "_", "[", "]", "!", "~", "$", ":":
                out += "\\"
                out.unicodeScalars.append(scalar)
            case "\n": out += "\\\\n"
            case "\r": out += "\\\\r"
            case "\t": out += " "
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    out += " "
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
