import Foundation
import TraceModel
import TraceStore

/// One line of the import format, parsed and checked (see docs/import-format.md).
enum ImportRecord: Equatable {
    struct Meta: Equatable {
        var arch: GuestArch
        var program: String
        var argv: [String]
        var recorder: String?
        var recorderVersion: String?
        var dataTouches: Bool?
        var guestMode: GuestMode = .user
    }

    case meta(Meta)
    case code(address: UInt64, bytes: [UInt8])
    case exec(thread: UInt32, blocks: [UInt64], privilege: UInt8?)
    case write(thread: UInt32, address: UInt64, size: UInt32)
    case syscall(thread: UInt32, number: Int64)
    case data(thread: UInt32, page: UInt64, reads: UInt32, writes: UInt32)
    case module(ModuleMapping)
    case exit(status: Int32?, signal: Int32?)
    // System traces (meta "guest_mode": "system").
    case map(virtual: UInt64, physical: UInt64, pages: UInt64)
    case system(thread: UInt32, kind: SystemEventKind, vector: UInt8, address: UInt64)

    /// The version of the format this importer reads (the optional "format" field of the meta record).
    static let formatVersion: Int64 = 1

    /// The fields each record type accepts ("type" aside).
    static let fields: [String: Set<String>] = [
        "meta": ["format", "arch", "program", "argv", "recorder", "recorder_version", "data_touches", "guest_mode"],
        "code": ["address", "bytes"],
        "exec": ["thread", "blocks", "privilege"],
        "write": ["thread", "address", "size"],
        "syscall": ["thread", "number"],
        "data": ["thread", "page", "reads", "writes"],
        "module": ["start", "end", "offset", "path"],
        "exit": ["status", "signal"],
        "map": ["virtual", "physical", "pages"],
        "interrupt": ["thread", "vector"],
        "exception": ["thread", "vector", "address"],
        "pt_store": ["thread", "address"],
    ]

    /// Record types that only a system trace may hold.
    static let systemTypes: Set<String> = ["map", "interrupt", "exception", "pt_store"]

    /// Parses one non-blank, non-comment line; throws a message (without the line number) when it is wrong.
    static func parse(_ line: Substring) throws(RecordError) -> ImportRecord {
        let value: JSONValue
        do {
            // The strict reader every JSON file goes through (TraceModel): duplicate keys are refused there.
            value = JSONValue(try JSONParser.parse(Array(line.utf8)))
        } catch let error as JSONSyntaxError {
            guard let key = error.duplicateKey else { throw RecordError("not valid JSON") }
            throw RecordError("duplicate key \"\(key.count > 40 ? String(key.prefix(40)) + "..." : key)\" in one object")
        } catch {
            throw RecordError("not valid JSON")
        }
        guard case .object(let object) = value else { throw RecordError("a record must be a JSON object, not \(value.kindName)") }
        guard let typeValue = object["type"] else { throw RecordError("record has no \"type\"") }
        guard case .string(let type) = typeValue, let allowed = fields[type] else {
            let known = fields.keys.sorted().joined(separator: ", ")
            throw RecordError("unknown record type \(describe(typeValue)) (expected one of \(known))")
        }
        if let unknown = object.keys.filter({ $0 != "type" && !allowed.contains($0) }).sorted().first {
            throw RecordError("unknown field \"\(unknown)\" in a \(type) record")
        }
        let fields = Fields(object: object, type: type)
        switch type {
        case "meta":
            if let format = try fields.optionalInteger("format", in: 0...Int64.max), format != formatVersion {
                throw RecordError("meta format \(format) is not supported (this importer reads format \(formatVersion))")
            }
            let archName = try fields.string("arch")
            guard let arch = GuestArch(rawValue: archName) else {
                throw RecordError("meta arch \"\(archName)\" is not one of x86_64, i386")
            }
            let program = try fields.string("program")
            let argv = try fields.optionalStrings("argv") ?? [program]
            try Fields.checkSize(TraceTextLimits.storedArgv(argv), "meta \"argv\" (stored as a JSON array)")
            var mode = GuestMode.user
            if let modeName = try fields.optionalString("guest_mode") {
                guard let parsed = GuestMode(rawValue: modeName) else {
                    throw RecordError("meta guest_mode \"\(modeName.prefix(40))\" is not one of user, system")
                }
                mode = parsed
            }
            return .meta(Meta(arch: arch, program: program, argv: argv,
                              recorder: try fields.optionalString("recorder"),
                              recorderVersion: try fields.optionalString("recorder_version"),
                              dataTouches: try fields.optionalBool("data_touches"), guestMode: mode))
        case "code":
            let bytes = try fields.hexBytes("bytes")
            guard !bytes.isEmpty else { throw RecordError("code record has no bytes") }
            return .code(address: try fields.address("address"), bytes: bytes)
        case "exec":
            guard case .array(let items)? = object["blocks"] else {
                throw RecordError(object["blocks"] == nil ? "exec record has no \"blocks\""
                                  : "exec \"blocks\" must be an array of hex addresses")
            }
            guard !items.isEmpty else { throw RecordError("exec record has an empty \"blocks\" array") }
            var blocks: [UInt64] = []
            blocks.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item, let address = parseHexAddress(text) else {
                    throw RecordError("exec blocks[\(index)] is \(describe(item)), not a hex address like \"0x401000\"")
                }
                blocks.append(address)
            }
            let privilege = try fields.optionalInteger("privilege", in: 0...3).map { UInt8($0) }
            return .exec(thread: try fields.thread(), blocks: blocks, privilege: privilege)
        case "write":
            return .write(thread: try fields.thread(), address: try fields.address("address"),
                          size: UInt32(try fields.integer("size", in: 1...Int64(UInt32.max))))
        case "syscall":
            return .syscall(thread: try fields.thread(), number: try fields.integer("number", in: Int64.min...Int64.max))
        case "data":
            let page = try fields.address("page")
            guard page % 4096 == 0 else { throw RecordError("data page \(hex(page)) is not 4096-aligned") }
            return .data(thread: try fields.thread(), page: page,
                         reads: UInt32(try fields.integer("reads", in: 0...Int64(UInt32.max))),
                         writes: UInt32(try fields.integer("writes", in: 0...Int64(UInt32.max))))
        case "module":
            let start = try fields.address("start")
            let end = try fields.address("end")
            guard end > start else { throw RecordError("module end \(hex(end)) is not above its start \(hex(start))") }
            return .module(ModuleMapping(start: start, end: end, fileOffset: try fields.address("offset"),
                                         path: try fields.string("path")))
        case "map":
            let virtual = try fields.address("virtual"), physical = try fields.address("physical")
            guard virtual % 4096 == 0, physical % 4096 == 0 else {
                throw RecordError("map \"virtual\" and \"physical\" must be 4096-aligned")
            }
            let pages = UInt64(try fields.optionalInteger("pages", in: 1...(1 << 20)) ?? 1)
            guard virtual.addingReportingOverflow(pages * 4096 - 1).overflow == false,
                  physical.addingReportingOverflow(pages * 4096 - 1).overflow == false else {
                throw RecordError("map of \(pages) pages runs past the end of the address space")
            }
            return .map(virtual: virtual, physical: physical, pages: pages)
        case "interrupt":
            return .system(thread: try fields.thread(), kind: .interrupt,
                           vector: UInt8(try fields.integer("vector", in: 0...255)), address: 0)
        case "exception":
            let vector = UInt8(try fields.integer("vector", in: 0...31))
            let address = object["address"] == nil ? nil : try fields.address("address")
            if vector == SystemEvent.pageFaultVector && address == nil {
                throw RecordError("exception vector 14 (a page fault) needs \"address\" (CR2)")
            }
            return .system(thread: try fields.thread(), kind: .exception, vector: vector, address: address ?? 0)
        case "pt_store":
            return .system(thread: try fields.thread(), kind: .pageTableStore, vector: 0,
                           address: try fields.address("address"))
        default:  // "exit"
            let status = try fields.optionalInteger("status", in: Int64(Int32.min)...Int64(Int32.max))
            let signal = try fields.optionalInteger("signal", in: 1...Int64(Int32.max))
            guard (status == nil) != (signal == nil) else {
                throw RecordError("exit record needs exactly one of \"status\" and \"signal\"")
            }
            return .exit(status: status.map { Int32($0) }, signal: signal.map { Int32($0) })
        }
    }
}

/// What is wrong with one record (the importer adds the file and line).
struct RecordError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Typed access to a record's fields with messages that name the field and what was expected.
private struct Fields {
    var object: [String: JSONValue]
    var type: String

    func value(_ name: String) throws(RecordError) -> JSONValue {
        guard let value = object[name] else { throw RecordError("\(type) record has no \"\(name)\"") }
        return value
    }

    func string(_ name: String) throws(RecordError) -> String {
        guard case .string(let text) = try value(name) else {
            throw RecordError("\(type) \"\(name)\" must be a string, not \(try value(name).kindName)")
        }
        try Self.checkSize(text, "\(type) \"\(name)\"")
        return text
    }

    /// Refuses a string the trace reader would refuse (docs/import-format.md, "Sizes").
    static func checkSize(_ text: String, _ what: String) throws(RecordError) {
        let size = text.utf8.count
        guard size <= TraceTextLimits.maxBytes else {
            throw RecordError("\(what) is \(size) bytes, over the \(TraceTextLimits.maxBytes)-byte cap")
        }
    }

    func optionalString(_ name: String) throws(RecordError) -> String? {
        object[name] == nil ? nil : try string(name)
    }

    func optionalStrings(_ name: String) throws(RecordError) -> [String]? {
        guard let value = object[name] else { return nil }
        guard case .array(let items) = value else { throw RecordError("\(type) \"\(name)\" must be an array of strings") }
        var strings: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw RecordError("\(type) \"\(name)\" must be an array of strings") }
            try Self.checkSize(text, "\(type) \"\(name)\" item \(strings.count)")
            strings.append(text)
        }
        return strings
    }

    func optionalBool(_ name: String) throws(RecordError) -> Bool? {
        guard let value = object[name] else { return nil }
        guard case .bool(let flag) = value else { throw RecordError("\(type) \"\(name)\" must be true or false") }
        return flag
    }

    func integer(_ name: String, in range: ClosedRange<Int64>) throws(RecordError) -> Int64 {
        let found = try value(name)
        guard case .integer(let number) = found else {
            throw RecordError("\(type) \"\(name)\" must be an integer, not \(describe(found))")
        }
        guard range.contains(number) else {
            throw RecordError("\(type) \"\(name)\" \(number) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    func optionalInteger(_ name: String, in range: ClosedRange<Int64>) throws(RecordError) -> Int64? {
        object[name] == nil ? nil : try integer(name, in: range)
    }

    func thread() throws(RecordError) -> UInt32 {
        UInt32(try integer("thread", in: 0...Int64(UInt32.max)))
    }

    func address(_ name: String) throws(RecordError) -> UInt64 {
        let found = try value(name)
        guard case .string(let text) = found, let address = parseHexAddress(text) else {
            throw RecordError("\(type) \"\(name)\" must be a hex string like \"0x401000\", not \(describe(found))")
        }
        return address
    }

    func hexBytes(_ name: String) throws(RecordError) -> [UInt8] {
        guard case .string(let text) = try value(name) else {
            throw RecordError("\(type) \"\(name)\" must be a string of hex digits")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2)
        var high: UInt8? = nil
        for (index, character) in text.utf8.enumerated() {
            if character == UInt8(ascii: " ") { continue }
            guard let digit = hexDigit(character) else {
                throw RecordError("\(type) \"\(name)\" has a non-hex character at position \(index)")
            }
            if let pending = high {
                bytes.append(pending << 4 | digit)
                high = nil
            } else {
                high = digit
            }
        }
        guard high == nil else { throw RecordError("\(type) \"\(name)\" has an odd number of hex digits") }
        return bytes
    }
}

private func hexDigit(_ character: UInt8) -> UInt8? {
    switch character {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
    default: nil
    }
}

/// "0x401000" (or "0X...") to its value; nil unless it is 1 to 16 hex digits after the prefix.
func parseHexAddress(_ text: String) -> UInt64? {
    guard text.hasPrefix("0x") || text.hasPrefix("0X") else { return nil }
    let digits = text.dropFirst(2)
    guard !digits.isEmpty, digits.count <= 16 else { return nil }
    return UInt64(digits, radix: 16)
}

/// A short rendering of a found value for error messages.
private func describe(_ value: JSONValue) -> String {
    switch value {
    case .string(let text): "\"\(text.count > 40 ? String(text.prefix(40)) + "..." : text)\""
    case .integer(let number): String(number)
    case .bool(let flag): String(flag)
    default: value.kindName
    }
}

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
