import ArgumentParser

/// The `-- PROGRAM ARGS` words of a subcommand that runs a program (record, live, fidelity).
///
/// They are captured for passthrough, so ArgumentParser never sees a `--help` among them: captured words
/// start at the first input it did not recognize. `-h`/`--help` there (before any `--`, and before the
/// program) asks for the subcommand's help; after `--`, or after the program, it is the program's.
enum ProgramWords {
    /// The program and its arguments, without the leading `--`; throws the help request of `command`
    /// when the captured words start with `-h` or `--help`.
    static func split<Command: ParsableCommand>(_ words: [String], of command: Command) throws -> [String] {
        if let first = words.first, first == "--help" || first == "-h" { throw CleanExit.helpRequest(command) }
        return words.first == "--" ? Array(words.dropFirst()) : words
    }
}
