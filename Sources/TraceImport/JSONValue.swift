import Foundation

/// A JSON value with integers kept exact (addresses and counts must not pass through Double).
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
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

extension JSONValue {
    /// The first key that appears twice in one object of `text`, which must be JSON the decoder accepted
    /// (the decoder itself keeps one of the two values silently).
    static func duplicateKey(in text: Substring) -> String? {
        if let found = text.utf8.withContiguousStorageIfAvailable({ duplicateKey(in: $0) }) { return found }
        return Array(text.utf8).withUnsafeBufferPointer { duplicateKey(in: $0) }
    }

    private static func duplicateKey(in bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        // One entry per open object or array: an array's key set stays empty.
        var open: [(isObject: Bool, keys: Set<String>)] = []
        var expectKey = false
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "{"):
                open.append((true, []))
                expectKey = true
            case UInt8(ascii: "["):
                open.append((false, []))
                expectKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !open.isEmpty { open.removeLast() }
                expectKey = false
            case UInt8(ascii: ","):
                expectKey = open.last?.isObject ?? false
            case quote:
                let start = i + 1
                var end = start, escaped = false
                while end < bytes.count && bytes[end] != quote {
                    if bytes[end] == backslash { escaped = true; end += 1 }
                    end += 1
                }
                if expectKey, !open.isEmpty {
                    let raw = UnsafeBufferPointer(rebasing: bytes[start..<min(end, bytes.count)])
                    var key = String(decoding: raw, as: UTF8.self)
                    if escaped, end < bytes.count,
                       let unescaped = try? JSONDecoder().decode(String.self, from: Data(bytes[(start - 1)...end])) {
                        key = unescaped
                    }
                    if !open[open.count - 1].keys.insert(key).inserted { return key }
                    expectKey = false
                }
                i = end
            default:
                break
            }
            i += 1
        }
        return nil
    }
}
