import Foundation

/// A `#!` script as the kernel runs it (fs/binfmt_script.c): the interpreter named on the first line, its
/// one optional argument (the rest of the line), the script's path, then the arguments after argv[0];
/// the interpreter may itself be a script, up to `maxDepth` rewrites (the kernel's limit).
enum ScriptChain {
    /// The first line of a `#!` file.
    struct Line: Equatable {
        var interpreter: String
        var argument: String?
    }

    /// Rewrites the kernel allows before it gives up with ELOOP.
    static let maxDepth = 4
    /// Bytes of a file the kernel looks at.
    static let headSize = 256

    /// The `#!` line of a file that starts with `head` (its first bytes); nil when it is not a script or the
    /// line names no interpreter within the kernel's 256 bytes.
    static func parse(_ head: [UInt8]) -> Line? {
        guard head.count >= 2, head[0] == UInt8(ascii: "#"), head[1] == UInt8(ascii: "!") else { return nil }
        let window = head.prefix(headSize)
        guard let newline = window.firstIndex(of: UInt8(ascii: "\n")) ?? (window.count < headSize ? window.endIndex : nil)
        else { return nil }
        let isBlank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        var line = Array(window[2..<newline])
        while let last = line.last, isBlank(last) { line.removeLast() }
        let start = line.firstIndex { !isBlank($0) } ?? line.endIndex
        let end = line[start...].firstIndex(where: isBlank) ?? line.endIndex
        guard start < end else { return nil }
        let interpreter = String(decoding: line[start..<end], as: UTF8.self)
        let rest = line[end...].drop(while: isBlank)
        return Line(interpreter: interpreter, argument: rest.isEmpty ? nil : String(decoding: rest, as: UTF8.self))
    }

    /// Follows `#!` lines from `path` (run with `argv`) to the program the kernel would start, and the
    /// argv it gets. Throws a one-line error for a missing interpreter or too deep a chain.
    static func resolve(path: String, argv: [String]) throws -> (program: String, argv: [String]) {
        var program = path
        var arguments = argv
        for depth in 0...maxDepth {
            guard let line = parse(head(of: program)) else { return (program, arguments) }
            guard depth < maxDepth else {
                throw RecorderError.scriptChain(path: path, detail: "its #! interpreters nest deeper than the kernel's \(maxDepth) levels")
            }
            guard FileManager.default.isExecutableFile(atPath: line.interpreter) else {
                throw RecorderError.scriptChain(path: path, detail: "its #! interpreter \(line.interpreter) "
                                                + (FileManager.default.fileExists(atPath: line.interpreter)
                                                   ? "is not executable" : "does not exist"))
            }
            arguments = [line.interpreter] + (line.argument.map { [$0] } ?? []) + [program] + arguments.dropFirst()
            program = line.interpreter
        }
        return (program, arguments)
    }

    private static func head(of path: String) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        return [UInt8]((try? handle.read(upToCount: headSize)) ?? Data())
    }
}
