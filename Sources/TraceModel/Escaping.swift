/// Escaping of strings that come from a trace or a path (program, argv, symbols, disassembly, file names)
/// before they reach a medium that would interpret them: one function per medium.
public enum Escape {
    /// Text for a terminal or a log line: C0 controls (newline and tab included), DEL and C1 controls become
    /// visible `\n`, `\t`, `\x1b`, `\u{9b}` escapes, and so do the bidirectional overrides and isolates
    /// (U+202A-202E, U+2066-2069) that reorder what is shown. Everything else, including other Unicode,
    /// passes unchanged, so ordinary paths print as they are.
    public static func terminal(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsTerminalEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            guard needsTerminalEscape(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                let hex = String(scalar.value, radix: 16)
                out += scalar.value < 0x80 ? "\\x" + (hex.count < 2 ? "0" + hex : hex) : "\\u{\(hex)}"
            }
        }
        return out
    }

    private static func needsTerminalEscape(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return v < 0x20 || (0x7f...0x9f).contains(v) || (0x202a...0x202e).contains(v) || (0x2066...0x2069).contains(v)
    }

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
            case "\n", "\t": out.unicodeScalars.append(scalar)
            default:
                // Controls (ESC, BEL, C1) shown as text: a report read with `cat` cannot drive the terminal.
                let v = scalar.value
                if v < 0x20 || (0x7f...0x9f).contains(v) {
                    out += "\\x" + String(v, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
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
            // Emphasis, code spans, links and images, strikethrough, math ($), emoji shortcodes (:x:),
            // headings (#).
            case "\\", "`", "*", "_", "[", "]", "!", "~", "$", ":", "#":
                out += "\\"
                out.unicodeScalars.append(scalar)
            case "\n": out += "\\\\n"
            case "\r": out += "\\\\r"
            case "\t": out += " "
            default:
                if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) {
                    out += " "
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
