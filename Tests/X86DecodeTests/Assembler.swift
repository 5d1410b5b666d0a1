import Foundation

/// Assembles GNU-as source with the installed gcc at test time and returns the raw .text bytes
/// and the offsets of every label (from `nm`).
struct Assembled {
    var bytes: [UInt8]
    var labels: [String: Int]

    func offset(_ label: String) -> Int {
        guard let offset = labels[label] else { fatalError("no label \(label)") }
        return offset
    }
}

enum AssemblerError: Error, CustomStringConvertible {
    case failed(String)
    var description: String {
        switch self { case .failed(let text): "assembler: \(text)" }
    }
}

func assemble(_ source: String, bits: Int = 64) throws -> Assembled {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("plexlab-asm-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let sourcePath = directory.appendingPathComponent("code.s").path
    let objectPath = directory.appendingPathComponent("code.o").path
    let binaryPath = directory.appendingPathComponent("code.bin").path
    let prelude = bits == 64 ? ".code64\n" : ".code32\n"
    try (".text\n" + prelude + source + "\n").write(toFile: sourcePath, atomically: true, encoding: .utf8)
    var gccArguments = ["-c", "-x", "assembler", "-o", objectPath, sourcePath]
    if bits == 32 { gccArguments.insert("-m32", at: 0) }
    _ = try run("/usr/bin/gcc", gccArguments)
    _ = try run("/usr/bin/objcopy", ["-O", "binary", "--only-section=.text", objectPath, binaryPath])
    let symbols = try run("/usr/bin/nm", ["--defined-only", objectPath])
    var labels: [String: Int] = [:]
    for line in symbols.split(separator: "\n") {
        let fields = line.split(separator: " ")
        if fields.count == 3, let value = Int(fields[0], radix: 16) { labels[String(fields[2])] = value }
    }
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: binaryPath)))
    return Assembled(bytes: bytes, labels: labels)
}

private func run(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw AssemblerError.failed("\(executable) failed: \(String(decoding: errorData, as: UTF8.self))")
    }
    return String(decoding: data, as: UTF8.self)
}
