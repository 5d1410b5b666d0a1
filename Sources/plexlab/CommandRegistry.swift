import ArgumentParser

/// Every subcommand, in the order `--help` lists them. One file per subcommand in this folder.
enum CommandRegistry {
    static let all: [ParsableCommand.Type] = [
        ImportCommand.self,
        ReplayCommand.self,
        CompareCommand.self,
        GateCommand.self,
    ]
}
