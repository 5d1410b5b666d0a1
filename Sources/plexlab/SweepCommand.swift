import ArgumentParser
import Foundation
import Reports
import Sweep
import TraceModel

/// `plexlab sweep`: every trace x strategy x grid point x profile, curves and knees (docs/sweep.md).
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Replay traces over a grid of parameters: tidy results, a chart per metric and the knee of each curve.",
        discussion: """
        The points of one trace run side by side in one pass over it. DIR gets
        plan.json, points/ID.json (one file per finished point, written
        atomically: Ctrl-C keeps them, a rerun skips them), results.json,
        results.csv and report.html. Grid keys and values are those of --param
        (docs/strategies.md section 5); docs/sweep.md has the rest.

        Examples:
          plexlab sweep Traces/lua.plextrace --strategies dbt-ibtc \\
              --grid ibtc-size=16,64,256,1024,4096 --out sweep/
          plexlab sweep Traces/*.plextrace --grid code-cache=0,1000,10000 \\
              --grid ras-depth=0,4,16 --out sweep/ --jobs 4
          plexlab sweep Traces/*.plextrace --grid page-size=4096,2097152 \\
              --strategies sbe,pagefault-nx --points-per-shard 8 --plan plan/
          sbatch plan/sweep.sbatch          # Slurm: one array task per shard
          plexlab sweep --shard plan/ 3     # what task 3 runs
          plexlab sweep --run-plan plan/    # or every shard on this machine
          plexlab sweep --merge plan/       # results, charts, knees
        """)

    @Argument(help: "Trace files (to make a sweep or a plan).")
    var traces: [String] = []

    @Option(help: "A swept parameter key=v1,v2,... (repeatable; keys and values as for --param).")
    var grid: [String] = []

    @Option(help: "Comma-separated strategies, or all.")
    var strategies = StrategyArgument(names: ["all"])

    @Option(help: "Cost profile: all, a built-in name or a JSON profile file (repeatable; rows per profile; charts use the first).")
    var profile: [String] = ["modern"]

    @Option(name: .customLong("param"), help: "A parameter held for every point, key=value (repeatable).")
    var parameters: [String] = []

    @Option(help: "Run the sweep and write its files into this directory (a rerun resumes it).")
    var out: String?

    @Option(help: "Write a plan (shards and an sbatch --array script) into this directory instead of running it.")
    var plan: String?

    @Option(name: .customLong("shard"), parsing: .upToNextOption, help: ArgumentHelp("Run shard K of the plan in DIR.", valueName: "DIR K"))
    var shard: [String] = []

    @Option(name: .customLong("run-plan"), help: ArgumentHelp("Run every unfinished shard of the plan in DIR here, then merge.", valueName: "DIR"))
    var runPlan: String?

    @Option(help: ArgumentHelp("Merge the finished shards of the plan in DIR: results, charts, knees.", valueName: "DIR"))
    var merge: String?

    @Option(help: "Shards run at once (threads) by --out and --run-plan.")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Points per shard (one pass over a trace each); 0 puts all of a trace's points in one shard.")
    var pointsPerShard: Int = 0

    @Option(help: "The knee: the smallest value beyond which the metric improves by at most this fraction.")
    var kneeFraction: Double = 0.05

    func validate() throws {
        let modes = [out != nil, plan != nil, !shard.isEmpty, runPlan != nil, merge != nil].filter { $0 }.count
        guard modes == 1 else { throw ValidationError("give exactly one of --out, --plan, --shard, --run-plan, --merge") }
        if out != nil || plan != nil {
            if traces.isEmpty { throw ValidationError("give at least one trace file") }
            if grid.isEmpty { throw ValidationError("give at least one --grid key=v1,v2,...") }
            try strategies.validate()
        } else if !traces.isEmpty || !grid.isEmpty {
            throw ValidationError("traces and --grid belong to --out or --plan; a plan directory already holds them")
        }
        if !shard.isEmpty && (shard.count != 2 || Int(shard[1]).map { $0 < 0 } ?? true) {
            throw ValidationError("--shard takes a plan directory and a shard number: --shard DIR K")
        }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if pointsPerShard < 0 { throw ValidationError("--points-per-shard must be 0 (all of a trace) or more") }
        if !(kneeFraction >= 0 && kneeFraction < 1) { throw ValidationError("--knee-fraction must be at least 0 and below 1") }
    }

    func run() throws {
        if !shard.isEmpty {
            let directory = SweepDirectory(shard[0])
            let replayed = try SweepRunner.run(shard: Int(shard[1])!, of: directory.load(), in: directory)
            StandardError.write("sweep: shard \(shard[1]): \(replayed) points replayed\n")
            return
        }
        if let merge {
            print(SweepOutputs.kneeTable(try SweepOutputs.merge(SweepDirectory(merge), kneeFraction: kneeFraction)), terminator: "")
            return
        }
        let directory: SweepDirectory
        if let runPlan {
            directory = SweepDirectory(runPlan)
        } else {
            let spec = try SweepSpec(traces: traces, strategies: strategies.names, grid: grid, fixed: parameters,
                                     profiles: profile, pointsPerShard: pointsPerShard)
            let plan = try SweepPlan(spec: spec)
            if let target = self.plan {
                let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
                try SweepDirectory(target).writePlan(plan, executable: executable)
                print("\(plan.points.count) points in \(plan.shards.count) shards: sbatch \(target)/sweep.sbatch, or plexlab sweep --run-plan \(target); then plexlab sweep --merge \(target)")
                return
            }
            directory = SweepDirectory(out!)
            try directory.create(plan)
        }
        let plan = try directory.load()
        InterruptNotice.install {
            "sweep: interrupted: \(directory.finished(plan).count) of \(plan.points.count) points kept in \(directory.path); run the same command again to finish"
        }
        try SweepRunner.runAll(plan, in: directory, jobs: jobs) { StandardError.write($0 + "\n") }
        print(SweepOutputs.kneeTable(try SweepOutputs.merge(directory, kneeFraction: kneeFraction)), terminator: "")
    }
}
