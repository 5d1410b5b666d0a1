import ArgumentParser
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
            PlexLab.exit(withError: error)
        }
        do {
            try command.run()
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            PlexLab.exit(withError: error)
        } catch {
            // One line, never a stack trace: every library error describes itself.
            let text = String(describing: error).split(separator: "\n").joined(separator: " ")
            StandardError.write("plexlab: error: \(text)\n")
            exit(2)
        }
    }
}
