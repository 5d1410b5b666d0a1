/// `Encodable` values as `JSONText`, so typed values reach JSON through `JSONWriter` like everything else.
/// Numbers as JSONEncoder writes them (integers exact; Doubles by `JSONText(_: Double)`); a nil optional
/// property is left out, as synthesized `Encodable` conformances ask.
extension JSONText {
    public init(encoding value: some Encodable) throws {
        let root = JSONNode()
        try root.encode(value, path: [])
        self = root.text
    }
}

/// One value being built: a scalar, an object or an array of nodes.
private final class JSONNode {
    var scalar: JSONText = .null
    var object: [String: JSONNode]?
    var array: [JSONNode]?

    var text: JSONText {
        if let object { return .object(object.mapValues(\.text)) }
        if let array { return .array(array.map(\.text)) }
        return scalar
    }

    func encode(_ value: some Encodable, path: [any CodingKey]) throws {
        switch value {
        case let text as String: scalar = .string(text)
        case let flag as Bool: scalar = .bool(flag)
        case let number as Double: scalar = JSONText(number)
        case let number as Float:
            var text = "\(number)"
            if text.hasSuffix(".0") { text.removeLast(2) }
            scalar = number.isFinite ? .number(text) : .null
        case let number as Int: scalar = JSONText(number)
        case let number as Int8: scalar = JSONText(number)
        case let number as Int16: scalar = JSONText(number)
        case let number as Int32: scalar = JSONText(number)
        case let number as Int64: scalar = JSONText(number)
        case let number as UInt: scalar = JSONText(number)
        case let number as UInt8: scalar = JSONText(number)
        case let number as UInt16: scalar = JSONText(number)
        case let number as UInt32: scalar = JSONText(number)
        case let number as UInt64: scalar = JSONText(number)
        default: try value.encode(to: NodeEncoder(node: self, codingPath: path))
        }
    }
}

private struct NodeEncoder: Encoder {
    let node: JSONNode
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if node.object == nil { node.object = [:] }
        return KeyedEncodingContainer(KeyedNode<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if node.array == nil { node.array = [] }
        return UnkeyedNode(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleNode(node: node, codingPath: codingPath) }
}

private struct KeyedNode<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: JSONNode
    var codingPath: [any CodingKey]

    private func child(_ key: Key) -> JSONNode {
        let child = JSONNode()
        node.object![key.stringValue] = child
        return child
    }

    mutating func encodeNil(forKey key: Key) throws { child(key).scalar = .null }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try child(key).encode(value, path: codingPath + [key])
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type,
                                                        forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(node: child(key), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        NodeEncoder(node: child(key), codingPath: codingPath + [key]).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { fatalError("JSONText(encoding:) does not encode class hierarchies") }
    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder() }
}

private struct UnkeyedNode: UnkeyedEncodingContainer {
    let node: JSONNode
    var codingPath: [any CodingKey]
    var count: Int { node.array!.count }

    private func next() -> JSONNode {
        let child = JSONNode()
        node.array!.append(child)
        return child
    }

    mutating func encodeNil() throws { next().scalar = .null }
    mutating func encode<T: Encodable>(_ value: T) throws { try next().encode(value, path: codingPath) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(node: next(), codingPath: codingPath).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        NodeEncoder(node: next(), codingPath: codingPath).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { fatalError("JSONText(encoding:) does not encode class hierarchies") }
}

private struct SingleNode: SingleValueEncodingContainer {
    let node: JSONNode
    var codingPath: [any CodingKey]
    mutating func encodeNil() throws { node.scalar = .null }
    mutating func encode<T: Encodable>(_ value: T) throws { try node.encode(value, path: codingPath) }
}
