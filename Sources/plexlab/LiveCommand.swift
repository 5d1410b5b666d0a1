import ArgumentParser
import LiveMonitor

/// `plexlab live --strategies sbe,pagefault-nx -- PROGRAM ARGS`: exact trap counts of a real monitored run.
struct LiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live",
        abstract: "Run a program natively under a real INT3 (sbe) or page-protection (pagefault-nx) monitor and count its traps.",
        discussion: """
        Runs PROGRAM once plainly and once under each strategy (ptrace: INT3s planted in the running code, \
        pages write- or execute-protected), and prints the exact trap counts by cause (the causes of \
        `plexlab replay`) with wall and CPU seconds. Programs the monitor cannot follow exactly (threads, \
        child processes, signal handlers that run, their own INT3s) are refused with one line. See docs/live.md.

        Examples:
          plexlab live -- ./loop
          plexlab live --strategies sbe --json -- /usr/bin/gzip -c README.md
        """)

    @Option(help: "Comma-separated live strategies: sbe, pagefault-nx, or all.")
    var strategies = "sbe,pagefault-nx"

    @Flag(help: "Print JSON in the shape of `plexlab replay --json` instead of a table.")
    var json = false

    @Argument(parsing: .captureForPassthrough, help: "-- PROGRAM ARGS")
    var command: [String] = []

    mutating func validate() throws {
        command = try ProgramWords.split(command, of: self)
    }

    func run() throws {
        let words = command
        guard let program = words.first else { throw ValidationError("give the program after --: plexlab live -- PROGRAM ARGS") }
        let results = try LiveRunner.run(program: program, arguments: Array(words.dropFirst()),
                                         strategies: try LiveStrategy.parse(strategies))
        print(json ? try LiveJSON.encode(results) : LiveTable.render(results), terminator: json ? "\n" : "")
    }
}
