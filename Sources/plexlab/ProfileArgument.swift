import ArgumentParser
import CostModel

/// `--profile all|pentium3|pentium4|modern|FILE` on compare, replay and report. Any text parses (a file
/// path); `validate()` selects, so an unreadable file or a clash fails before any trace is replayed.
extension ProfileOption: ExpressibleByArgument {
    public init?(argument: String) {
        guard !argument.isEmpty else { return nil }
        self.init(argument)
    }
    public var defaultValueDescription: String { description }
    public static var allValueStrings: [String] { namedChoices }
}

extension ProfileSelection {
    /// The selection for `validate()`: a bad file or a clash as a usage error (one line, exit 2).
    static func validated(_ options: [ProfileOption]) throws -> ProfileSelection {
        do {
            return try ProfileSelection(options)
        } catch let error as CostProfileError {
            throw ValidationError(error.description)
        } catch let error as ProfileSelectionError {
            throw ValidationError(error.description)
        }
    }
}
