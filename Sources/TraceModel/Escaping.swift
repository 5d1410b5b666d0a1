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
        replacing(text) { scalar in
            switch scalar {
            case "\"": "&quot;"
            case "'": "&#39;"
            case "\0": "\u{FFFD}"
            case "\n", "\t": nil
            // Controls (ESC, BEL, C1) shown as text: a report read with `cat` cannot drive the terminal.
            default: isControl(scalar) ? "\\x" + String(scalar.value, radix: 16) : nil
            }
        }
    }

    /// Text for GitHub-flavoured Markdown, safe inside a table cell: it renders literally, cannot close
    /// the cell (`|`), start a link, emphasis, code span, heading or list, and holds no raw HTML.
    /// Newlines and other control characters become visible `\n`-style escapes or spaces.
    public static func markdown(_ text: String) -> String {
        replacing(text) { scalar in
            switch scalar {
            case "|": "&#124;"
            // Emphasis, code spans, links and images, strikethrough, math ($), emoji shortcodes (:x:),
            // headings (#).
            case "\\", "`", "*", "_", "[", "]", "!", "~", "$", ":", "#": "\\" + String(scalar)
            case "\n": "\\\\n"
            case "\r": "\\\\r"
            default: isControl(scalar) ? " " : nil
            }
        }
    }

    /// C0 controls, DEL and C1 controls.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value)
    }

    /// `text` with `&`, `<`, `>` as entities (never markup, in HTML or Markdown) and every other scalar
    /// replaced by `replacement(scalar)` where that is not nil.
    private static func replacing(_ text: String, _ replacement: (Unicode.Scalar) -> String?) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if let entity = entity(scalar) ?? replacement(scalar) {
                out += entity
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The entities HTML and Markdown share: `&`, `<`, `>` never start markup.
    private static func entity(_ scalar: Unicode.Scalar) -> String? {
        switch scalar {
        case "&": "&amp;"
        case "<": "&lt;"
        case ">": "&gt;"
        default: nil
        }
    }
}
