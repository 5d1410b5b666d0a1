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
    /// With `startProbe` (given whether the program is i386, the path of a program to price the monitor's
    /// start with), that program is run the same way right after the program in every round, so the start
    /// is measured in the same seconds and the same order of runs as the runs it is added to.
    /// Throws `LiveError` (one line) when the program cannot be monitored exactly.
    public static func run(program: String, arguments: [String], strategies: [LiveStrategy],
                           environment: [String: String] = ProcessInfo.processInfo.environment,
                           shortRunRepetitions: Int = 1, shortRun: Double = 0.1,
                           startProbe: ((_ is32Bit: Bool) throws -> String)? = nil) throws -> LiveResults {
        let path = try resolve(program, path: environment["PATH"] ?? "/usr/bin:/bin")
        let is32Bit = try isELF32(path)
        let environmentList = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        lt_install_interrupt_handlers()
        defer { lt_restore_interrupt_handlers() }
        var subjects = [Subject(path: path, arguments: arguments)]
        if let startProbe { subjects.append(Subject(path: try startProbe(is32Bit), arguments: [])) }
        // Round 0: three plain runs (the first pays for cold caches and page-cache misses), then each strategy.
        for index in subjects.indices {
            try subjects[index].round(strategies: Array(strategies.indices), of: strategies, plainRuns: 3, environment: environmentList)
        }
        let short = strategies.indices.filter { subjects[0].runs[$0][0].times.wall < shortRun }
        let repeated = !short.isEmpty && shortRunRepetitions > 1
        if repeated {
            for _ in 1..<shortRunRepetitions {
                for index in subjects.indices {
                    try subjects[index].round(strategies: short, of: strategies, plainRuns: 1, environment: environmentList)
                }
            }
        }
        let program = subjects[0]
        let native = program.native(repeated: repeated)
        var results = LiveResults(program: path, arguments: arguments, is32Bit: is32Bit, native: native.0,
                                  nativeEnd: native.1, strategies: program.kept, rounds: program.rounds(of: strategies))
        if subjects.count > 1 {
            let probe = subjects[1]
            results.startProbe = LiveStartProbe(program: probe.path, native: probe.native(repeated: repeated).0.wall,
                                                strategies: probe.kept, rounds: probe.rounds(of: strategies))
        }
        return results
    }

    /// One program's runs in `run`: its plain runs in order, and per strategy its monitored runs in order.
    struct Subject {
        let path: String
        let arguments: [String]
        var plain: [(RunTimes, RunEnd)] = []
        var runs: [[LiveStrategyResult]] = []
        /// Per round, the index in `plain` of the plain run the round's monitored runs follow.
        var roundPlain: [Int] = []

        init(path: String, arguments: [String]) {
            self.path = path
            self.arguments = arguments
        }

        /// `plainRuns` plain runs, then one monitored run of each strategy at `indices`.
        mutating func round(strategies indices: [Int], of strategies: [LiveStrategy], plainRuns: Int, environment: [String]) throws {
            for _ in 0..<plainRuns { plain.append(try runPlain(path, arguments: arguments, environment: environment)) }
            roundPlain.append(plain.count - 1)
            if runs.isEmpty { runs = strategies.map { _ in [] } }
            for index in indices {
                runs[index].append(try Monitor.run(strategy: strategies[index], program: path, arguments: arguments,
                                                   environment: environment))
            }
        }

        /// The fastest of the first three plain runs, or with repetitions the median of every plain run.
        func native(repeated: Bool) -> (RunTimes, RunEnd) {
            repeated ? plain.sorted { $0.0.wall < $1.0.wall }[plain.count / 2] : plain.min { $0.0.wall < $1.0.wall }!
        }

        /// Per strategy the monitored run of median wall time.
        var kept: [LiveStrategyResult] { runs.map { $0.sorted { $0.times.wall < $1.times.wall }[$0.count / 2] } }

        func rounds(of strategies: [LiveStrategy]) -> [LiveStrategy: [LiveRound]] {
            Dictionary(uniqueKeysWithValues: strategies.indices.map { index in
                (strategies[index], runs[index].indices.map {
                    LiveRound(plain: plain[roundPlain[$0]].0.wall, monitored: runs[index][$0].times.wall)
                })
            })
        }
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
