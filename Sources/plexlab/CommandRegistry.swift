import ArgumentParser

/// Every subcommand, in the order `--help` lists them. One file per subcommand in this folder.
enum CommandRegistry {
    static let all: [ParsableCommand.Type] = [
        RecordCommand.self,
        PackCommand.self,
        ImportCommand.self,
        InfoCommand.self,
        ReplayCommand.self,
        CompareCommand.self,
        SweepCommand.self,
        ReportCommand.self,
        GateCommand.self,
        CalibrateCommand.self,
        LiveCommand.self,
        FidelityCommand.self,
    ]
}
