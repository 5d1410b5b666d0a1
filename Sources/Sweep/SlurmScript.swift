import Foundation

/// The `sbatch --array` script of a plan (docs/sweep.md, "Slurm"): task K runs `plexlab sweep --shard DIR K`.
public enum SlurmScript {
    /// The script's text; `executable` is the absolute path of `plexlab` on the cluster's nodes.
    public static func text(plan: SweepPlan, directory: String, executable: String) -> String {
        """
        #!/bin/bash
        # Written by `plexlab sweep --plan`: one array task per shard (\(plan.shards.count) shards, \(plan.points.count) points).
        # Submit: sbatch \(quote(directory + "/sweep.sbatch")); then: plexlab sweep --merge \(quote(directory))
        # A task rerun by the scheduler skips the points its shard already stored (each written atomically).
        #SBATCH --job-name=plexlab-sweep
        #SBATCH --array=0-\(plan.shards.count - 1)
        #SBATCH --ntasks=1
        #SBATCH --cpus-per-task=1
        #SBATCH --output=\(directory)/logs/shard-%a.out
        set -euo pipefail
        exec \(quote(executable)) sweep --shard \(quote(directory)) "$SLURM_ARRAY_TASK_ID"

        """
    }

    /// Single-quoted for bash.
    static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

extension SweepDirectory {
    /// Writes the plan and its `sbatch` script (and the log directory the script names).
    public func writePlan(_ plan: SweepPlan, executable: String) throws {
        try create(plan)
        do {
            try FileManager.default.createDirectory(atPath: path + "/logs", withIntermediateDirectories: true)
        } catch {
            throw SweepError("cannot create \(path)/logs: \(error.localizedDescription)")
        }
        try write(SlurmScript.text(plan: plan, directory: path, executable: executable), to: sbatchPath)
        chmod(sbatchPath, 0o755)
    }
}
