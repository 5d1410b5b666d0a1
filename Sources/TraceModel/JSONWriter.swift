/// The one way PlexLab writes JSON (next to `JSONParser`, the one strict reader): a `JSONText` value,
/// built by hand or from an `Encodable` (`JSONText(encoding:)`), written in one of three layouts. Keys are
/// always sorted, so equal values give equal bytes.
public enum JSONWriter {
    /// How the text is laid out. The layouts are those of files already written and pinned by tests and
    /// committed files: each output keeps the bytes it had.
    public enum Style: Sendable {
        /// For people to review (gate baselines): `"key": value`, arrays of plain values on one line.
        case review
        /// Results, reports, manifests, profiles, `info --json`: `"key" : value`, every array item and
        /// field on its own line, `/` escaped unless `escapingSlashes` is false.
        case indented(escapingSlashes: Bool)
        /// One line without spaces, `/` escaped (stored columns: argv, recording facts).
        case compact
    }

    /// `value` as text; `.review` and `.indented` end with a newline only where `newline` says so.
    public static func write(_ value: JSONText, style: Style = .review) -> String {
        var out = ""
        switch style {
        case .review:
            review(value, indent: "", into: &out)
            out += "\n"
        case .indented(let escapingSlashes):
            indented(value, indent: "", slashes: escapingSlashes, into: &out)
        case .compact:
            compact(value, into: &out)
        }
        return out
    }

    private static func review(_ value: JSONText, indent: String, into out: inout String) {
        switch value {
        case .array(let items):
            let plain = items.allSatisfy { if case .array = $0 { false } else if case .object = $0 { false } else { true } }
            if items.isEmpty { out += "[]" } else if plain {
                out += "["
                for (i, item) in items.enumerated() {
                    if i > 0 { out += ", " }
                    review(item, indent: indent, into: &out)
                }
                out += "]"
            } else {
                out += "[\n"
                for (i, item) in items.enumerated() {
                    out += indent + "  "
                    review(item, indent: indent + "  ", into: &out)
                    out += i + 1 < items.count ? ",\n" : "\n"
                }
                out += indent + "]"
            }
        case .object(let fields):
            if fields.isEmpty { out += "{}"; return }
            out += "{\n"
            let keys = fields.keys.sorted()
            for (i, key) in keys.enumerated() {
                out += indent + "  " + quote(key) + ": "
                review(fields[key]!, indent: indent + "  ", into: &out)
                out += i + 1 < keys.count ? ",\n" : "\n"
            }
            out += indent + "}"
        default: scalar(value, quote: quote, into: &out)
        }
    }

    private static func indented(_ value: JSONText, indent: String, slashes: Bool, into out: inout String) {
        let inner = indent + "  "
        switch value {
        case .array(let items):
            out += "[\n"
            if items.isEmpty { out += "\n" }
            for (i, item) in items.enumerated() {
                out += inner
                indented(item, indent: inner, slashes: slashes, into: &out)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += indent + "]"
        case .object(let fields):
            out += "{\n"
            if fields.isEmpty { out += "\n" }
            let keys = fields.keys.sorted()
            for (i, key) in keys.enumerated() {
                out += inner + escaped(key, slashes: slashes) + " : "
                indented(fields[key]!, indent: inner, slashes: slashes, into: &out)
                out += i + 1 < keys.count ? ",\n" : "\n"
            }
            out += indent + "}"
        default: scalar(value, quote: { escaped($0, slashes: slashes) }, into: &out)
        }
    }

    private static func compact(_ value: JSONText, into out: inout String) {
        switch value {
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                compact(item, into: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, key) in fields.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                out += escaped(key, slashes: true) + ":"
                compact(fields[key]!, into: &out)
            }
            out += "}"
        default: scalar(value, quote: { escaped($0, slashes: true) }, into: &out)
        }
    }

    private static func scalar(_ value: JSONText, quote: (String) -> String, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .number(let text): out += text
        case .string(let text): out += quote(text)
        case .array, .object: break
        }
    }

    /// A string in the review layout.
    public static func quote(_ text: String) -> String { escaped(text, slashes: false, backspaceAndFormFeed: false) }

    /// A string in the indented and compact layouts (the escapes of those files: \b and \f too).
    static func escaped(_ text: String, slashes: Bool, backspaceAndFormFeed: Bool = true) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/" where slashes: out += "\\/"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{8}" where backspaceAndFormFeed: out += "\\b"
            case "\u{c}" where backspaceAndFormFeed: out += "\\f"
            case _ where scalar.value < 0x20: out += unicodeEscape(scalar)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }

    /// A Double as the review layout writes it: Swift's shortest round-trip text ("1234.5", "1.0",
    /// "1e+16"); never NaN or infinity (null).
    public static func number(_ value: Double) -> JSONText {
        guard value.isFinite else { return .null }
        return .number("\(value)")
    }
}

extension JSONText {
    /// An integer.
    public init(_ value: some BinaryInteger) { self = .number("\(value)") }

    /// A Double as the indented and compact layouts write it: the shortest round-trip text without a
    /// trailing ".0" ("1", "0.1", "1e-07"); NaN and infinities are null.
    public init(_ value: Double) {
        guard value.isFinite else { self = .null; return }
        var text = "\(value)"
        if text.hasSuffix(".0") { text.removeLast(2) }
        self = .number(text)
    }

    public init(_ value: String) { self = .string(value) }

    /// The strings of `text` when it is a JSON array of strings (a stored argv), read strictly; else nil.
    public static func strings(_ text: String) -> [String]? {
        guard case .array(let items)? = try? JSONParser.parse(Array(text.utf8)) else { return nil }
        var words: [String] = []
        for item in items {
            guard case .string(let word) = item else { return nil }
            words.append(word)
        }
        return words
    }
    public init(_ value: Bool) { self = .bool(value) }
    /// nil is null.
    public init(_ value: JSONText?) { self = value ?? .null }
}

extension JSONText: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number("\(value)") }
    public init(arrayLiteral elements: JSONText...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONText)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
    public init(nilLiteral: ()) { self = .null }
}
