/// What pagefault-legacy does with data pages (docs/strategies.md).
public enum LegacyPolicy: String, Sendable, CaseIterable, Codable {
    /// Untranslated pages stay not-present; every data access to one is emulated (`pf_data`).
    case notPresent = "not-present"
    /// A data page is mapped on its first touch (`data_map`); code later run there escapes (`escapes`).
    case mapData = "map-data"
}

/// A bad `--param`; one line naming the parameter.
public struct ReplayParameterError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Replay knobs, set with `--param key=value` (docs/strategies.md lists them).
public struct ReplayParameters: Sendable, Equatable {
    /// Bytes per page: 4096 or 2097152.
    public var pageSize: UInt64 = 4096
    /// IBTC entries (a power of two).
    public var ibtcSize: Int = 4096
    /// Return-address stack entries per thread.
    public var rasDepth: Int = 16
    /// Code-cache capacity in translated instructions; 0 = unlimited.
    public var codeCache: UInt64 = 0
    public var legacyPolicy: LegacyPolicy = .notPresent

    public init() {}

    /// Parses `key=value` strings over the defaults.
    public init(arguments: [String]) throws {
        for argument in arguments {
            guard let equals = argument.firstIndex(of: "=") else {
                throw ReplayParameterError(description: "parameter \"\(argument)\" is not key=value")
            }
            try set(String(argument[..<equals]), to: String(argument[argument.index(after: equals)...]))
        }
    }

    /// Sets one parameter by its documented name.
    public mutating func set(_ key: String, to value: String) throws {
        func integer() throws -> UInt64 {
            guard let number = UInt64(value) else {
                throw ReplayParameterError(description: "parameter \(key)=\(value): not a non-negative integer")
            }
            return number
        }
        switch key {
        case "page-size":
            let size = try integer()
            guard size == 4096 || size == 2_097_152 else {
                throw ReplayParameterError(description: "parameter page-size=\(value): must be 4096 or 2097152")
            }
            pageSize = size
        case "ibtc-size":
            let size = try integer()
            guard size > 0, size & (size - 1) == 0, size <= 1 << 24 else {
                throw ReplayParameterError(description: "parameter ibtc-size=\(value): must be a power of two from 1 to 16777216")
            }
            ibtcSize = Int(size)
        case "ras-depth":
            let depth = try integer()
            guard depth <= 1 << 16 else {
                throw ReplayParameterError(description: "parameter ras-depth=\(value): must be at most 65536")
            }
            rasDepth = Int(depth)
        case "code-cache":
            codeCache = try integer()
        case "legacy-policy":
            guard let policy = LegacyPolicy(rawValue: value) else {
                throw ReplayParameterError(description: "parameter legacy-policy=\(value): must be not-present or map-data")
            }
            legacyPolicy = policy
        default:
            throw ReplayParameterError(description: "unknown parameter \"\(key)\" (page-size, ibtc-size, ras-depth, code-cache, legacy-policy)")
        }
    }

    /// log2(pageSize).
    public var pageShift: UInt64 { UInt64(pageSize.trailingZeroBitCount) }

    /// Every parameter as it is spelt on the command line.
    public var all: [String: String] {
        ["page-size": "\(pageSize)", "ibtc-size": "\(ibtcSize)", "ras-depth": "\(rasDepth)",
         "code-cache": "\(codeCache)", "legacy-policy": legacyPolicy.rawValue]
    }
}
