import TraceModel

/// A JSON value with integers kept exact (addresses and counts must not pass through Double).
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The importer's view of a parsed value: a number literal that is an Int64 stays exact.
    init(_ text: JSONText) {
        switch text {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .number(let literal): self = Int64(literal).map(JSONValue.integer) ?? .number(Double(literal) ?? .nan)
        case .string(let string): self = .string(string)
        case .array(let items): self = .array(items.map(JSONValue.init))
        case .object(let fields): self = .object(fields.mapValues(JSONValue.init))
        }
    }

    /// How error messages name the kind of value found.
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer: "an integer"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
