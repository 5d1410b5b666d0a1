import ArgumentParser
import TraceStore

/// `--codec NAME` on record and import: the names `plexlab info` prints.
extension BlockStreamCodec: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.description) }
    public static var allValueDescriptions: [String: String] {
        [BlockStreamCodec.predictiveFast.description: "the default: about 0.08 bits per block, fastest model",
         BlockStreamCodec.predictive.description: "2-15% smaller, 1.1-2x slower to write and to read",
         BlockStreamCodec.raw.description: "no model: about 10x larger, fastest to read"]
    }
}
