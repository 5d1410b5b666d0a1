import Foundation
import Testing

/// `plexlab live` and `plexlab fidelity` through the built executable.
@Suite(.serialized) struct LiveCommandTests {
    static func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "plexlab-live-cli-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Assembles a static x86-64 program.
    static func assemble(_ source: String, name: String, in directory: String) throws -> String {
        try source.write(toFile: "\(directory)/\(name).S", atomically: true, encoding: .utf8)
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-nostdlib", "-static", "-o", "\(directory)/\(name)", "\(directory)/\(name).S"]
        try gcc.run()
        gcc.waitUntilExit()
        try #require(gcc.terminationStatus == 0)
        return "\(directory)/\(name)"
    }

    static let loop = """
            .globl _start
            .text
    _start: mov $3, %ecx
    1:      call f
            dec %ecx
            jnz 1b
            mov $60, %eax
            xor %edi, %edi
            syscall
            .balign 4096
    f:      ret

    """

    @Test func jsonHasTheReplayShape() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let program = try Self.assemble(Self.loop, name: "loop", in: directory)
        let run = try PlexlabRun(["live", "--json", "--", program])
        #expect(run.status == 0)
        let json = try run.json()
        #expect(json["schema"] as? String == "plexlab-results/1")
        let trace = try #require((json["traces"] as? [[String: Any]])?.first)
        let strategies = try #require(trace["strategies"] as? [[String: Any]])
        #expect(strategies.map { $0["name"] as? String } == ["sbe", "pagefault-nx"])
        let sbe = try #require(strategies.first?["counts"] as? [String: Int])
        #expect(sbe["call"] == 3 && sbe["ret"] == 3 && sbe["syscall"] == 1 && sbe["jcc"] == 0)
        #expect(strategies.first?["traps"] as? Int == 7)
        let live = try #require(strategies.first?["live"] as? [String: Any])
        #expect(live["end"] as? String == "exit 0")
        #expect((live["wall_seconds"] as? Double ?? 0) > 0)
        #expect(((trace["live"] as? [String: Any])?["native"] as? [String: Any])?["end"] as? String == "exit 0")
    }

    /// `--help` before `--` (and before the program) is plexlab's; after `--` or after the program it is the
    /// program's argument.
    @Test(arguments: [["live", "--help"], ["live", "-h"], ["live", "--strategies", "sbe", "--help"],
                      ["fidelity", "--help"], ["fidelity", "--json", "--help"], ["record", "--out", "x.plextrace", "--help"]])
    func helpBeforeTheProgramIsPlexlabs(arguments: [String]) throws {
        let run = try PlexlabRun(arguments)
        #expect(run.status == 0, "\(arguments): \(run.stderr)")
        #expect(run.stdout.contains("USAGE: plexlab \(arguments[0])"), "\(arguments): \(run.stdout)")
        #expect(run.stdout.contains("Examples:"))
        #expect(run.stderr.isEmpty)
    }

    @Test func helpAfterTheTerminatorIsTheProgramsArgument() throws {
        let live = try PlexlabRun(["live", "--", "--help"])
        #expect(live.status == 2)
        #expect(live.stderr == "plexlab: error: cannot run --help: not found on PATH\n")
        let fidelity = try PlexlabRun(["fidelity", "--profile", "modern", "--", "--help"])
        #expect(fidelity.status == 2)
        #expect(fidelity.stderr == "plexlab: error: program not found: --help (not a file, and not on PATH)\n")
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let program = try Self.assemble(Self.loop, name: "loop", in: directory)
        for words in [["--", program, "--help"], [program, "--help"]] {
            let run = try PlexlabRun(["live", "--json", "--strategies", "sbe"] + words)
            #expect(run.status == 0, "\(words): \(run.stderr)")
            let trace = try #require((try run.json()["traces"] as? [[String: Any]])?.first)
            #expect((trace["metadata"] as? [String: Any])?["argv"] as? [String] == [program, "--help"])
        }
    }

    /// `plexlab report --fidelity` reads the file before replaying anything: a bad one is one line.
    @Test func reportWithABadFidelityFileIsOneLine() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = try PlexlabRun(["report", "x.plextrace", "--fidelity", "/nonexistent/f.json", "--out", directory])
        #expect(missing.status == 2)
        #expect(missing.stderr == "plexlab: error: /nonexistent/f.json: cannot read the fidelity file\n")
        try "{\"schema\": \"plexlab-results/1\"}".write(toFile: directory + "/r.json", atomically: true, encoding: .utf8)
        let wrong = try PlexlabRun(["report", "x.plextrace", "--fidelity", directory + "/r.json", "--out", directory])
        #expect(wrong.status == 2)
        #expect(wrong.stderr == "plexlab: error: \(directory)/r.json: schema is not \"plexlab-fidelity/1\" (expected the output of plexlab fidelity --json)\n")
    }

    /// `plexlab calibrate --live` writes a profile file that --profile reads; in-process options are refused.
    @Test func calibrateLiveWritesAProfile() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try PlexlabRun(["calibrate", "--live", "--quick", "--out", directory + "/live.json"])
        #expect(run.status == 0, "\(run.stderr)")
        for key in ["trap_int3", "trap_pf", "trap_wp", "scan_per_insn", "stop-and-resume", "mprotect"] {
            #expect(run.stdout.contains("  \(key) "), "\(key): \(run.stdout)")
        }
        let file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/live.json"))) as? [String: Any])
        #expect(file["name"] as? String == "live")
        let sources = try #require(file["sources"] as? [String: String])
        // A key is measured, or (a probe drowned in a busy machine's noise) says so in the file and the summary.
        for key in ["trap_int3", "trap_pf", "trap_wp", "scan_per_insn"] {
            let source = sources[key] ?? ""
            if !source.hasPrefix("measured: ") {
                #expect(source.hasPrefix("not measured: "), "\(key): \(source)")
                #expect(run.stdout.contains("  \(key) ") && run.stdout.contains("(not measured: kept)"), "\(key)")
            }
            #expect((file[key] as? Double ?? 0) > 0, "\(key)")
        }
        #expect(sources["trap_int3"]?.hasPrefix("measured: ") == true, "the int3 probe has no other cause to subtract")
        #expect(sources["cpi"]?.hasPrefix("measured") == false, "cpi is the modern profile's")
        // The file is a profile: fidelity predicts under it.
        let program = try Self.assemble(Self.loop, name: "loop", in: directory)
        let fidelity = try PlexlabRun(["fidelity", "--profile", directory + "/live.json", "--", program])
        #expect(fidelity.status == 0)
        #expect(fidelity.stdout.contains("(predicted under live: native + monitor start"))

        let refused = try PlexlabRun(["calibrate", "--live", "--repetitions", "5"])
        #expect(refused.status == 2)
        #expect(refused.stderr == "plexlab: error: --repetitions and --time-based are for in-process calibration, not --live (see 'plexlab calibrate --help')\n")
    }

    @Test func badInputIsOneLine() throws {
        let unknown = try PlexlabRun(["live", "--strategies", "dbt-link", "--", "/bin/true"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr == "plexlab: error: unknown live strategy 'dbt-link' (live strategies: sbe, pagefault-nx)\n")
        let missing = try PlexlabRun(["live", "--", "/nonexistent/program"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "plexlab: error: cannot run /nonexistent/program: no such executable file\n")
        let script = try PlexlabRun(["live", "--", "/usr/bin/ldd"])
        #expect(script.status == 2 && script.stderr.hasPrefix("plexlab: error: cannot run /usr/bin/ldd: not an ELF executable"))
    }

    /// SIGINT while a program runs under the monitor: one line, exit 2, and the program is gone.
    @Test func interruptKillsTheProgram() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Calls across a page forever: a trap every few instructions.
        let program = try Self.assemble("""
                .globl _start
                .text
        _start: call f
                jmp _start
                .balign 4096
        f:      ret

        """, name: "forever", in: directory)
        let (process, _, stderr) = try PlexlabRun.start(["live", "--strategies", "sbe", "--", program])
        // The plain run never ends either: interrupt it, then the monitored run is never started.
        Thread.sleep(forTimeInterval: 1)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 2)
        #expect(message == "plexlab: error: interrupted: the monitored program was killed, no counts reported\n")
        Thread.sleep(forTimeInterval: 0.2)
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { pid in
            guard Int(pid) != nil, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            return String(decoding: data, as: UTF8.self).contains(directory) && !state.contains(") Z ")
        }
        #expect(left.isEmpty)
    }

    @Test func fidelityPrintsBothSides() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let program = try Self.assemble(Self.loop, name: "loop", in: directory)
        let run = try PlexlabRun(["fidelity", "--json", "--", program])
        #expect(run.status == 0)
        let json = try run.json()
        #expect(json["agrees"] as? Bool == true)
        let rows = try #require(json["rows"] as? [[String: Any]])
        let call = try #require(rows.first { $0["strategy"] as? String == "sbe" && $0["cause"] as? String == "call" })
        #expect(call["replay"] as? Int == 3 && call["live"] as? Int == 3)
    }
}
