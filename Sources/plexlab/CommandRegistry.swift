import ArgumentParser

/// Every subcommand, in the order `--help` lists them. One file per subcommand in this folder.
enum CommandRegistry {
    static let all: [ParsableCommand.Type] = [
        RecordCommand.self,
        InfoCommand.self,
        ImportCommand.self,
        ReplayCommand.self,
        CompareCommand.self,
        GateCommand.self,
    ]
}
