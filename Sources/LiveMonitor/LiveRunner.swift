import CLiveTrace
import Foundation

/// `plexlab live`: runs a program plainly, then once under each live strategy (docs/live.md).
public enum LiveRunner {
    /// Runs `program` natively for the baseline, then under each strategy; every run starts from the same
    /// environment. The baseline is the fastest of three plain runs and each strategy is run once, unless a
    /// monitored run is shorter than `shortRun` seconds and `shortRunRepetitions` > 1: then that strategy
    /// is run `shortRunRepetitions` times in all, each repetition right after one more plain run, and the
    /// run of median wall time is kept, with the median of every plain run as the baseline (docs/live.md
    /// section 3, "Short runs": a few-millisecond run is otherwise one noisy sample over a best-of-three).
    /// Throws `LiveError` (one line) when the program cannot be monitored exactly.
    public static func run(program: String, arguments: [String], strategies: [LiveStrategy],
                           environment: [String: String] = ProcessInfo.processInfo.environment,
                           shortRunRepetitions: Int = 1, shortRun: Double = 0.1) throws -> LiveResults {
        let path = try resolve(program, path: environment["PATH"] ?? "/usr/bin:/bin")
        let environmentList = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        lt_install_interrupt_handlers()
        defer { lt_restore_interrupt_handlers() }
        func plain() throws -> (RunTimes, RunEnd) { try runPlain(path, arguments: arguments, environment: environmentList) }
        func monitored(_ strategy: LiveStrategy) throws -> LiveStrategyResult {
            try Monitor.run(strategy: strategy, program: path, arguments: arguments, environment: environmentList)
        }
        // The fastest of three plain runs: the first pays for cold caches and page-cache misses.
        var plainRuns = [try plain(), try plain(), try plain()]
        var native = plainRuns.min { $0.0.wall < $1.0.wall }!
        var runs = try strategies.map { [try monitored($0)] }
        let short = strategies.indices.filter { runs[$0][0].times.wall < shortRun }
        if !short.isEmpty && shortRunRepetitions > 1 {
            for _ in 1..<shortRunRepetitions {
                plainRuns.append(try plain())
                for index in short { runs[index].append(try monitored(strategies[index])) }
            }
            native = plainRuns.sorted { $0.0.wall < $1.0.wall }[plainRuns.count / 2]
        }
        let results = runs.map { $0.sorted { $0.times.wall < $1.times.wall }[$0.count / 2] }
        return LiveResults(program: path, arguments: arguments, is32Bit: try isELF32(path), native: native.0,
                           nativeEnd: native.1, strategies: results)
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
