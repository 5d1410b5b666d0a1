import CFuzzDriver
import Foundation
import TraceModel

/// One fuzz input: libFuzzer's `LLVMFuzzerTestOneInput` signature (returns 0).
public typealias FuzzTarget = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// The `main` of every fuzz target. Built by scripts/fuzz.sh (`-sanitize=fuzzer -DPLEXLAB_FUZZ`), it hands
/// over to libFuzzer's driver with the command line. In a plain build it runs each file named on the
/// command line (or each file in a named directory) through the target once, so `swift build` builds the
/// targets and tests can replay the corpus; `--write-seeds DIR` writes the target's generated seeds.
public enum FuzzDriver {
    public static func main(_ target: FuzzTarget, seeds: () throws -> [String: [UInt8]] = { [:] }) -> Never {
        #if PLEXLAB_FUZZ
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, target))
        #else
        var arguments = Array(CommandLine.arguments.dropFirst())
        do {
            if arguments.first == "--write-seeds", arguments.count == 2 {
                let directory = arguments[1]
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let generated = try seeds()
                for (name, bytes) in generated.sorted(by: { $0.key < $1.key }) {
                    try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + name))
                }
                print("wrote \(generated.count) seeds to \(directory)")
                exit(0)
            }
            arguments.removeAll { $0.hasPrefix("-") }  // libFuzzer flags mean nothing here
            guard !arguments.isEmpty else {
                StandardError.write("usage: \(CommandLine.arguments[0]) FILE-OR-DIRECTORY... | --write-seeds DIR "
                                    + "(a plain build replays inputs; scripts/fuzz.sh builds the fuzzer)\n")
                exit(2)
            }
            var count = 0
            for path in try inputFiles(arguments) {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                _ = bytes.withUnsafeBytes { target($0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
                count += 1
            }
            print("ran \(count) inputs")
            exit(0)
        } catch {
            StandardError.write("\(CommandLine.arguments[0]): \(error)\n")
            exit(2)
        }
        #endif
    }

    /// The files named, with each directory replaced by the regular files in it, sorted.
    private static func inputFiles(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw FuzzDriverError("no such file: \(path)")
            }
            if isDirectory.boolValue {
                files += try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                    .map { path + "/" + $0 }.filter { !$0.hasSuffix("/.gitkeep") }
            } else {
                files.append(path)
            }
        }
        return files
    }

    /// A per-process scratch directory for targets that need files, reused across inputs so iterations stay
    /// cheap (scripts/fuzz.sh removes it after the run).
    public static let scratchDirectory: String = {
        let directory = NSTemporaryDirectory() + "plexlab-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }()
}

struct FuzzDriverError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
