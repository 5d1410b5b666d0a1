import ArgumentParser
import Foundation
import Recorder
import TraceModel
import Workloads

extension SystemWindow: ExpressibleByArgument {}

/// `plexlab record --system`: parses, then `SystemRecorder.record` (Recorder) does the work.
extension RecordCommand {
    func validateSystem() throws {
        if listWorkloads { return }
        if workload != nil && !command.isEmpty { throw ValidationError("give either --workload or a command after --, not both") }
        if workload == nil && command.isEmpty { throw ValidationError("give the guest command to record after --") }
        if maxInsns != nil || skipInsns != nil || dataPages || noFollow || noPack || maxProcesses != nil || manifest != nil {
            throw ValidationError("--system records the window the guest's init marks: --max-insns, --skip-insns, "
                                  + "--data-pages, --no-follow, --no-pack, --max-processes and --manifest do not apply")
        }
        if let memory, memory < 64 || memory > 16384 { throw ValidationError("--memory must be 64 to 16384 (MiB)") }
        if let name, name.isEmpty || name.contains("/") { throw ValidationError("--name must be a plain file name") }
    }

    func runSystem() throws {
        if listWorkloads {
            for entry in WorkloadCatalog.system { print(entry.name) }
            return
        }
        var options: SystemRecordOptions
        if let workload {
            let entry = try WorkloadCatalog.systemNamed(workload)
            options = entry.options(output: out ?? "Traces/\(entry.name).plextrace")
        } else {
            let base = name ?? "system-" + ((command[0] as NSString).lastPathComponent)
            options = SystemRecordOptions(output: out ?? "Traces/\(base).plextrace", command: command)
        }
        if out == nil { try? FileManager.default.createDirectory(atPath: "Traces", withIntermediateDirectories: true) }
        options.overwrite = force
        if let window { options.window = window }
        if let memory { options.memoryMB = memory }
        options.kernel = kernel
        options.initrd = initrd
        if noRecord {
            // The same boot without the plugin: the baseline of scripts/bench-record-system.sh.
            let boot = try SystemRecorder.bootWithoutRecording(options)
            print(boot.console.output, terminator: "")
            StandardError.write(String(format: "guest ran %.2f s without recording (%@)\n", boot.seconds,
                                       boot.termination.description))
            return
        }
        let live = StandardError.isTerminal
        let progress: ((RecordProgress) -> Void)? = live ? { Self.drawProgress($0) } : nil
        var system: SystemRecordResult?
        _ = try Self.interruptible {
            let result = try SystemRecorder.record(options, status: { StandardError.write(Escape.terminal($0) + "\n") },
                                                   progress: progress)
            system = result
            return result.record
        }
        guard let result = system else { return }
        if live { StandardError.write("\r\u{1B}[K") }
        // The guest command's own output is the command's result: on stdout, as the guest printed it.
        print(result.console.output, terminator: "")
        StandardError.write(Self.summary(result.record) + "\n" + Self.systemSummary(result) + "\n")
        if result.record.interruptedBy != nil { throw ExitCode(130) }
    }

    static func systemSummary(_ result: SystemRecordResult) -> String {
        let faults = result.console.pageFaults.map { "the guest kernel counted \($0) page faults in the window" }
            ?? "the guest printed no page-fault count"
        return "\(result.systemEvents) interrupts, exceptions and page-table stores, \(result.pageFaults) of them page faults; "
            + "\(faults); "
            + String(format: "guest ran %.2f s", result.guestSeconds)
    }
}
