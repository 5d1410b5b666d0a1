import ArgumentParser
import Foundation
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// `plexlab`: record guest programs, replay their traces under monitor strategies, report and gate.
struct PlexLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plexlab",
        abstract: "Which way should a monitor keep guest code from running untranslated, and what does each cost?",
        discussion: """
        Examples:
          plexlab record -- /usr/bin/python3 -c 'print(1)'
          plexlab info Traces/python3.plextrace
          plexlab compare Traces/python3.plextrace --profile pentium3
          plexlab report Traces/*.plextrace --out Reports/latest/
          plexlab gate --baseline Reports/baseline.json
        """,
        version: "0.1.0",
        subcommands: CommandRegistry.all
    )
}

@main
enum PlexLabMain {
    static func main() {
        var command: ParsableCommand
        do {
            command = try PlexLab.parseAsRoot()
        } catch {
            usageError(error)
        }
        do {
            try command.run()
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            usageError(error)
        } catch {
            // One line, never a stack trace: every library error describes itself.
            fail(String(describing: error))
        }
    }

    /// `plexlab: error: TEXT` on one line (paths and strings from traces in it shown escaped), exit 2.
    static func fail(_ text: String) -> Never {
        // A newline (in a path, or in a string from a trace) shows as \n: the message stays one line.
        StandardError.write("plexlab: error: \(Escape.terminal(text.trimmingCharacters(in: .newlines)))\n")
        exit(2)
    }

    /// A usage error (unknown option, missing argument, bad value) is one line, exit 2, with the
    /// `--help` hint in it; `--help` and `--version` print as ArgumentParser does and exit 0.
    static func usageError(_ error: Error) -> Never {
        let code = PlexLab.exitCode(for: error)
        let message = PlexLab.message(for: error)
        if code == .success || message.isEmpty { PlexLab.exit(withError: error) }
        let problems = message.split(separator: "\n").map {
            $0.hasPrefix("Error: ") ? String($0.dropFirst(7)) : String($0)
        }.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        // "  See 'plexlab record --help' for more information." names the subcommand the error is about.
        let full = PlexLab.fullMessage(for: error)
        var hint = "plexlab --help"
        if let see = full.range(of: "See '"), let end = full[see.upperBound...].firstIndex(of: "'") {
            hint = String(full[see.upperBound..<end])
        }
        fail(problems.joined(separator: "; ") + " (see '\(hint)')")
    }
}
