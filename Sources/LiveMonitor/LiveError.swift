/// Why a program could not be monitored exactly. Each is one line for `plexlab: error: ...`.
public enum LiveError: Error, CustomStringConvertible, Equatable, Sendable {
    case badStrategy(String)
    case cannotRun(String, String)
    case notMonitorable(String)
    case interrupted
    case ptrace(String, Int32)

    public var description: String {
        switch self {
        case .badStrategy(let name):
            "unknown live strategy '\(name)' (live strategies: \(LiveStrategy.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .cannotRun(let program, let reason): "cannot run \(program): \(reason)"
        case .notMonitorable(let reason): "cannot monitor exactly: \(reason)"
        case .interrupted: "interrupted: the monitored program was killed, no counts reported"
        case .ptrace(let what, let errno): "ptrace failed during \(what) (errno \(errno)); the program was killed"
        }
    }
}
