import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A real one-node Slurm cluster (Debian's slurm-wlm and munge) on this machine, in a temporary directory:
/// munged with a fresh key, slurmctld and slurmd (as root, no cgroups), a sweep plan submitted with
/// `sbatch --wait`, merged, and compared with the same sweep run locally (docs/sweep.md, "Slurm").
/// Skipped, with that one line, where the daemons are not installed or the test does not run as root
/// (scripts/install-deps.sh installs them; CI runs as root).
@Suite(.serialized) struct SlurmClusterTests {
    static let tools = ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/bin/sinfo"]
    static let available = tools.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) } && getuid() == 0

    @Test(.enabled(if: available, "slurm-wlm and munge are not installed (or not root): the Slurm cluster test is skipped"),
          .timeLimit(.minutes(8)))
    func aPlanRunOnSlurmMergesToTheLocalResults() throws {
        let cluster = try Cluster()
        defer { cluster.stop() }
        try cluster.start()

        let traces = [SweepCommandTests.trace, SweepCommandTests.trace.replacingOccurrences(of: "micro-xpage-calls-64", with: "micro-jumptable-64")]
        let sweep = traces + ["--grid", "page-size=4096,2097152", "--strategies", "sbe,pagefault-nx"]
        let plan = try PlexlabRun(["sweep"] + sweep + ["--plan", cluster.directory + "/plan"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let (status, output) = try cluster.run("/usr/bin/sbatch", ["--wait", cluster.directory + "/plan/sweep.sbatch"], timeout: 300)
        #expect(status == 0, "sbatch: \(output)\n\(cluster.logs())")
        #expect(output.hasPrefix("Submitted batch job "))
        for shard in 0..<2 {
            let log = try String(contentsOfFile: cluster.directory + "/plan/logs/shard-\(shard).out", encoding: .utf8)
            #expect(log == "sweep: shard \(shard): 4 points replayed\n")
        }
        let merged = try PlexlabRun(["sweep", "--merge", cluster.directory + "/plan"])
        #expect(merged.status == 0, "\(merged.stderr)")
        let local = try PlexlabRun(["sweep"] + sweep + ["--out", cluster.directory + "/local"])
        #expect(local.status == 0, "\(local.stderr)")
        #expect(merged.stdout == local.stdout)
        for file in ["results.json", "results.csv", "report.html"] {
            #expect(try String(contentsOfFile: cluster.directory + "/plan/" + file, encoding: .utf8)
                    == String(contentsOfFile: cluster.directory + "/local/" + file, encoding: .utf8), "\(file)")
        }
    }
}

/// munged, slurmctld and slurmd with their state, sockets, logs and pid files under one temporary directory.
private final class Cluster {
    let directory: String
    let environment: [String: String]
    private var daemons: [pid_t] = []

    init() throws {
        directory = NSTemporaryDirectory() + "plexlab-slurm-\(UUID().uuidString.prefix(8))"
        for sub in ["", "/munge", "/state", "/spool"] {
            try FileManager.default.createDirectory(atPath: directory + sub, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        }
        environment = ["SLURM_CONF": directory + "/slurm.conf"]
    }

    /// The host's short name (slurmctld runs only where SlurmctldHost names it) and its real CPUs and memory.
    func configuration() throws -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .split(separator: ".").first.map(String.init) ?? "localhost"
        let (_, detected) = try run("/usr/sbin/slurmd", ["-C"], timeout: 30)
        let node = try #require(detected.split(separator: "\n").first?.split(separator: " ").dropFirst().joined(separator: " "))
        let port = Int.random(in: 20000..<60000)
        return """
        ClusterName=plexlab
        SlurmctldHost=\(host)(127.0.0.1)
        SlurmUser=root
        SlurmdUser=root
        SlurmctldPort=\(port)
        SlurmdPort=\(port + 1)
        AuthType=auth/munge
        AuthInfo=socket=\(directory)/munge/munge.socket
        CredType=cred/munge
        StateSaveLocation=\(directory)/state
        SlurmdSpoolDir=\(directory)/spool
        SlurmctldPidFile=\(directory)/slurmctld.pid
        SlurmdPidFile=\(directory)/slurmd.pid
        SlurmctldLogFile=\(directory)/slurmctld.log
        SlurmdLogFile=\(directory)/slurmd.log
        ProctrackType=proctrack/linuxproc
        TaskPlugin=task/none
        JobAcctGatherType=jobacct_gather/none
        AccountingStorageType=accounting_storage/none
        SchedulerType=sched/builtin
        SelectType=select/cons_tres
        SelectTypeParameters=CR_Core
        ReturnToService=2
        MpiDefault=none
        NodeName=\(host) NodeAddr=127.0.0.1 \(node) State=UNKNOWN
        PartitionName=sweep Nodes=\(host) Default=YES MaxTime=INFINITE State=UP

        """
    }

    /// Starts the three daemons and waits (at most a minute) for the node to be idle.
    func start() throws {
        var key = [UInt8](repeating: 0, count: 1024)
        for index in key.indices { key[index] = UInt8.random(in: 0...255) }
        let keyPath = directory + "/munge/munge.key"
        try FileManager.default.createFile(atPath: keyPath, contents: Data(key), attributes: [.posixPermissions: 0o400]) ? () : { throw CocoaError(.fileWriteUnknown) }()
        try configuration().write(toFile: directory + "/slurm.conf", atomically: true, encoding: .utf8)
        let munge = directory + "/munge"
        try daemon("/usr/sbin/munged", ["--foreground", "--force", "--key-file=\(keyPath)", "--socket=\(munge)/munge.socket",
                                        "--pid-file=\(munge)/munged.pid", "--log-file=\(munge)/munged.log",
                                        "--seed-file=\(munge)/munged.seed"])
        // slurmctld must create its socket before slurmd registers (slurmd retries, but not for long).
        usleep(500_000)
        try daemon("/usr/sbin/slurmctld", ["-D"])
        try daemon("/usr/sbin/slurmd", ["-D"])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let (status, state) = try? run("/usr/bin/sinfo", ["-h", "-o", "%T"], timeout: 20), status == 0,
               state.trimmingCharacters(in: .whitespacesAndNewlines) == "idle" { return }
            usleep(250_000)
        }
        Issue.record("the Slurm node did not become idle within a minute\n\(logs())")
        throw CocoaError(.executableLoad)
    }

    /// A daemon kept in the foreground as a child of this process, so that stopping it needs no pid file.
    private func daemon(_ path: String, _ arguments: [String]) throws {
        let pid = try spawn(path, arguments, output: "/dev/null")
        daemons.append(pid)
        usleep(200_000)
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == 0 else {
            daemons.removeLast()
            Issue.record("\(path) exited at once\n\(logs())")
            throw CocoaError(.executableLoad)
        }
    }

    /// Stops every daemon started (SIGTERM, then SIGKILL after ten seconds), newest first.
    func stop() {
        for pid in daemons.reversed() {
            kill(pid, SIGTERM)
            if !reap(pid, within: 10) {
                kill(pid, SIGKILL)
                _ = reap(pid, within: 10)
            }
        }
        daemons = []
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Waits for `pid` to end; false if it is still running after `seconds`.
    private func reap(_ pid: pid_t, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while Date() < deadline {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid || (result < 0 && errno == ECHILD) { return true }
            usleep(50_000)
        }
        return false
    }

    /// Starts `path` with SLURM_CONF set, stdout and stderr into `output`, stdin from /dev/null. posix_spawn
    /// and waitpid, not Foundation's Process: a tool's exit is seen from any thread without a run loop.
    private func spawn(_ path: String, _ arguments: [String], output: String) throws -> pid_t {
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + env).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, argv, env)
        guard result == 0 else { throw CocoaError(.executableLoad) }
        return pid
    }

    /// The daemons' logs, for a failure's message.
    func logs() -> String {
        ["slurmctld.log", "slurmd.log", "munge/munged.log"].map { name in
            let text = (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "(none)"
            return "--- \(name)\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Runs a tool with SLURM_CONF set; output is stdout and stderr together. Killed after `timeout` seconds.
    func run(_ path: String, _ arguments: [String], timeout: TimeInterval) throws -> (Int32, String) {
        let output = directory + "/run-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let pid = try spawn(path, arguments, output: output)
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                return (-1, "timed out after \(Int(timeout)) s: " + ((try? String(contentsOfFile: output, encoding: .utf8)) ?? ""))
            }
            usleep(50_000)
        }
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }
}
