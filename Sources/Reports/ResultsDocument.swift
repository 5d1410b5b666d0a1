import Foundation
import Replay
import TraceModel

/// results.json: every number of the replay, one object per trace.
///
/// INTERIM: the replay branch has not yet published its results-JSON encoder and docs/results-schema.md.
/// This writes the same fields under the replay's own names and cause spellings, marked
/// `"schema": "plexlab-results-interim"`; swap it for the replay's encoder once that lands.
public struct ResultsDocument: Codable, Equatable {
    public static let schemaName = "plexlab-results-interim"

    public struct Summary: Codable, Equatable {
        public var instructions, blocks, distinctBlocks, codePages, threads, chunks, codeWrites, dataTouches, syscalls: UInt64
    }
    public struct Estimate: Codable, Equatable {
        public var profile: String
        public var cycles: Double
        public var slowdown: Double
    }
    public struct Counted: Codable, Equatable {
        public var address: UInt64
        public var counts: [String: UInt64]
    }
    public struct Strategy: Codable, Equatable {
        public var name: String
        public var parameters: [String: String]
        public var unavailable: String?
        public var counts: [String: UInt64]
        public var traps: UInt64
        public var trapsPerKiloInstruction: Double
        public var instructions, blocks, scanned, scans, translated, translations: UInt64
        public var estimates: [Estimate]
        public var sites: [Counted]
        /// Page-aligned addresses in the replay's page size.
        public var pages: [Counted]
    }
    public struct Trace: Codable, Equatable {
        public var path: String
        public var metadata: TraceMetadata
        public var parameters: [String: String]
        public var summary: Summary
        public var strategies: [Strategy]
    }

    public var schema: String
    public var plexlabVersion: String
    public var traces: [Trace]

    public init(_ results: [TraceResults]) {
        schema = Self.schemaName
        plexlabVersion = PlexLabVersion.string
        traces = results.map { result in
            let s = result.summary
            return Trace(path: result.path, metadata: result.metadata, parameters: result.parameters.all,
                         summary: Summary(instructions: s.instructions, blocks: s.blocks, distinctBlocks: s.distinctBlocks,
                                          codePages: s.codePages, threads: s.threads, chunks: s.chunks,
                                          codeWrites: s.codeWrites, dataTouches: s.dataTouches, syscalls: s.syscalls),
                         strategies: result.strategies.map(Self.strategy))
        }
    }

    static func counts(_ counts: [TrapCause: UInt64]) -> [String: UInt64] {
        Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })
    }

    static func strategy(_ r: StrategyResult) -> Strategy {
        Strategy(name: r.name, parameters: r.parameters, unavailable: r.unavailable, counts: counts(r.counts), traps: r.traps,
                 trapsPerKiloInstruction: r.trapsPerKiloInstruction, instructions: r.instructions, blocks: r.blocks,
                 scanned: r.scanned, scans: r.scans, translated: r.translated, translations: r.translations,
                 estimates: r.estimates.map { Estimate(profile: $0.profile, cycles: $0.cycles, slowdown: $0.slowdown) },
                 sites: r.sites.map { Counted(address: $0.address, counts: counts($0.counts)) },
                 pages: r.pages.map { Counted(address: $0.page, counts: counts($0.counts)) })
    }

    /// Pretty-printed, sorted keys, snake_case names; doubles round-trip exactly.
    public static func json(_ results: [TraceResults]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(ResultsDocument(results)), as: UTF8.self) + "\n"
    }

    public static func decode(_ data: Data) throws -> ResultsDocument {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ResultsDocument.self, from: data)
    }
}
