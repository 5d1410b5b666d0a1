import Foundation
import FuzzSupport
import TraceImport
import TraceStore

/// The whole importer: the input as a JSONL file through `TraceImporter.importFile` (parsing, code pages,
/// Zydis block decoding, the trace writer), then the written trace read back and verified.
@main enum FuzzImportFile {
    static func main() {
        FuzzDriver.main { data, size in
            let input = FuzzDriver.scratchDirectory + "/input.jsonl"
            let output = FuzzDriver.scratchDirectory + "/output.plextrace"
            guard FileManager.default.createFile(atPath: input, contents: Data(bytes: data!, count: size)) else {
                fatalError("cannot write \(input)")
            }
            if (try? TraceImporter.importFile(at: input, to: output, overwrite: true, chunkBlocks: 64)) != nil {
                // An import that succeeds must read back whole.
                // A failure here is a finding: the crash is the fuzzer's report.
                do {
                    let problems = try TraceReader(path: output).verify()
                    precondition(problems.isEmpty, "imported trace has bad chunks: \(problems)")
                } catch {
                    fatalError("an imported trace does not read back: \(error)")
                }
            }
            return 0
        }
    }
}
