import CLiveTrace
import Foundation

/// `plexlab live`: runs a program plainly, then once under each live strategy (docs/live.md).
public enum LiveRunner {
    /// Runs `program` natively for the baseline, then under each strategy; every run starts from the same
    /// environment. Throws `LiveError` (one line) when the program cannot be monitored exactly.
    public static func run(program: String, arguments: [String], strategies: [LiveStrategy],
                           environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LiveResults {
        let path = try resolve(program, path: environment["PATH"] ?? "/usr/bin:/bin")
        let environmentList = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        lt_install_interrupt_handlers()
        defer { lt_restore_interrupt_handlers() }
        // The fastest of three plain runs: the first pays for cold caches and page-cache misses.
        var (native, nativeEnd) = try runPlain(path, arguments: arguments, environment: environmentList)
        for _ in 0..<2 {
            let (again, _) = try runPlain(path, arguments: arguments, environment: environmentList)
            if again.wall < native.wall { native = again }
        }
        var results: [LiveStrategyResult] = []
        for strategy in strategies {
            results.append(try Monitor.run(strategy: strategy, program: path, arguments: arguments,
                                           environment: environmentList))
        }
        return LiveResults(program: path, arguments: arguments, is32Bit: try isELF32(path), native: native,
                           nativeEnd: nativeEnd, strategies: results)
    }

    /// The program as execve needs it: a path with a slash as given, else the first executable on PATH.
    static func resolve(_ program: String, path: String) throws -> String {
        if program.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: program) else {
                throw LiveError.cannotRun(program, "no such executable file")
            }
            return program
        }
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw LiveError.cannotRun(program, "not found on PATH")
    }

    static func isELF32(_ path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw LiveError.cannotRun(path, "cannot open") }
        defer { try? handle.close() }
        let header = handle.readData(ofLength: 5)
        guard header.count == 5, Array(header.prefix(4)) == [0x7F, 0x45, 0x4C, 0x46] else {
            throw LiveError.cannotRun(path, "not an ELF executable (scripts are not monitored: run their interpreter)")
        }
        return header[4] == 1
    }

    static func runPlain(_ path: String, arguments: [String], environment: [String]) throws -> (RunTimes, RunEnd) {
        _ = try isELF32(path)
        var status: Int32 = 0
        var wall = 0.0, user = 0.0, system = 0.0
        let result = withCStrings([path] + arguments) { argv in
            withCStrings(environment) { env in lt_run_plain(path, argv, env, &status, &wall, &user, &system) }
        }
        if result != 0 { throw LiveError.cannotRun(path, String(cString: strerror(-result))) }
        if lt_interrupted() != 0 { throw LiveError.interrupted }
        let end: RunEnd = status & 0x7F == 0 ? .exited((status >> 8) & 0xFF) : .killed(signal: status & 0x7F)
        return (RunTimes(wall: wall, cpu: user + system), end)
    }
}
