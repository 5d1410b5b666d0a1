#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TraceBuilder
import TraceModel
import TraceStore

/// What part of the guest's run a system trace holds.
public enum SystemWindow: String, Sendable, CaseIterable {
    /// From the init's mark before it starts the command to its mark after the command ended.
    case command
    /// From the kernel's first instruction at its own addresses to the init's mark before the command.
    case boot
}

/// What to record for `plexlab record --system`.
public struct SystemRecordOptions: Sendable {
    public var output: String
    public var overwrite: Bool
    /// The command the guest's init runs (busybox applets and the guest workloads are in /bin).
    public var command: [String]
    /// Files put under /data in the guest before it boots.
    public var files: [GuestFile]
    public var window: SystemWindow
    /// Guest RAM in MiB.
    public var memoryMB: Int
    /// The kernel (default: the newest /boot/vmlinuz-*) and an initramfs replacing the default image
    /// (it must run the command and mark the window as GuestSources' init does).
    public var kernel: String?
    public var initrd: String?
    public var environment: [String: String]

    public static let defaultMemoryMB = 256

    public init(output: String, command: [String], overwrite: Bool = false, files: [GuestFile] = [],
                window: SystemWindow = .command, memoryMB: Int = SystemRecordOptions.defaultMemoryMB,
                kernel: String? = nil, initrd: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.output = output
        self.command = command
        self.overwrite = overwrite
        self.files = files
        self.window = window
        self.memoryMB = memoryMB
        self.kernel = kernel
        self.initrd = initrd
        self.environment = environment
    }
}

/// A file for the guest's /data.
public struct GuestFile: Sendable {
    public var name: String
    public var bytes: [UInt8]
    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }
}

/// How a system recording went: the trace's figures and what the guest said on its console.
public struct SystemRecordResult: Sendable {
    public var record: RecordResult
    public var console: GuestConsole
    /// System events in the trace (interrupts, exceptions, page-table stores).
    public var systemEvents: UInt64
    /// Of them, page faults (#PF).
    public var pageFaults: UInt64
    /// Seconds from QEMU's start to its end.
    public var guestSeconds: Double
}

extension SystemRecorder {
    /// What a boot without the plugin gave: the baseline of the recording benchmark.
    public struct PlainBoot: Sendable {
        public var seconds: Double
        public var console: GuestConsole
        public var termination: Termination
    }

    /// Boots the guest as `record` does (same kernel, image, command and memory) without the plugin.
    public static func bootWithoutRecording(_ options: SystemRecordOptions) throws -> PlainBoot {
        let signals = SignalWatcher()
        defer { signals.stop() }
        let host = try SystemHost.locate(kernel: options.kernel, environment: options.environment)
        let image = try GuestImage.prepare(host: host, environment: options.environment)
        let initrd = try options.initrd ?? image.temporaryInitrd(command: options.command, files: options.files)
        defer { if options.initrd == nil { try? FileManager.default.removeItem(atPath: initrd) } }
        let boot = try GuestBoot.run(host: host, initrd: initrd, memoryMB: options.memoryMB, pluginArguments: nil,
                                     signals: signals) { _ in true }
        return PlainBoot(seconds: boot.seconds, console: boot.console, termination: boot.termination)
    }
}

/// `plexlab record --system`: boots a Linux guest under qemu-system-x86_64 with the system plugin and
/// writes one trace of what its vCPU executed (docs/recorder.md, "System traces").
public enum SystemRecorder {
    /// Records `options.command` run by the guest's init. Throws a one-line `RecorderError`; Ctrl-C stops
    /// the guest and keeps what was recorded (a trace marked incomplete).
    /// `status` gets one line per step (building the image, probing the kernel, booting).
    public static func record(_ options: SystemRecordOptions, status: ((String) -> Void)? = nil,
                              progress: ((RecordProgress) -> Void)? = nil) throws -> SystemRecordResult {
        let signals = SignalWatcher()
        defer { signals.stop() }
        let host = try SystemHost.locate(kernel: options.kernel, environment: options.environment)
        let image = try GuestImage.prepare(host: host, environment: options.environment, status: status)
        let symbols = try GuestBoot.symbols(host: host, image: image, memoryMB: options.memoryMB, signals: signals,
                                            status: status)
        status?("booting \(host.kernel) under qemu-system-x86_64 \(host.qemuVersion) (TCG, one vCPU, "
                + "\(options.memoryMB) MiB) to run: \(options.command.joined(separator: " "))")

        let destination: TraceDestination
        do {
            destination = try TraceDestination(path: options.output, overwrite: options.overwrite)
        } catch TraceStoreError.exists(let path) {
            throw RecorderError.outputExists(path: path)
        } catch TraceStoreError.writeFailed(_, let detail) {
            throw RecorderError.outputUnwritable(path: options.output, detail: detail)
        }
        let metadata = TraceMetadata(
            program: host.kernel, argv: options.command, arch: .x86_64, recorder: "qemu-system",
            recorderVersion: host.qemuVersion, host: Recorder.hostDescription(), date: Date().ISO8601Format(),
            guestMode: .system)
        let writer: TraceWriter
        do {
            writer = try TraceWriter(path: destination.partialPath, metadata: metadata,
                                     options: TraceWriter.Options(commitInBackground: true))
        } catch let error as TraceStoreError {
            destination.discard()
            throw RecorderError.outputUnwritable(path: options.output, detail: Recorder.describe(error))
        }
        let builder = TraceBuilder(writer: writer, arch: .x86_64, mode: .system)
        var assembler = TraceAssembler(builder: builder, writer: writer, arch: .x86_64)

        let clock = ContinuousClock()
        let started = clock.now
        var lastReport = started
        let boot: GuestBoot.Outcome
        do {
            let initrd = try options.initrd ?? image.temporaryInitrd(command: options.command, files: options.files)
            defer { if options.initrd == nil { try? FileManager.default.removeItem(atPath: initrd) } }
            boot = try GuestBoot.run(host: host, initrd: initrd, memoryMB: options.memoryMB,
                                     pluginArguments: symbols.pluginArguments + ["window=\(options.window.rawValue)"],
                                     signals: signals) { record in
                let more = try assembler.handle(record)
                if let progress, clock.now - lastReport >= .milliseconds(250) {
                    lastReport = clock.now
                    progress(RecordProgress(instructions: assembler.counts.instructions, blocks: assembler.counts.blocks,
                                            bytesWritten: Recorder.fileBytes(destination.partialPath),
                                            seconds: Recorder.seconds(clock.now - started)))
                }
                return more
            }
        } catch {
            writer.abandon(note: "recording failed")
            destination.discard()
            if let error = error as? TraceStoreError { throw RecorderError.writeFailed(detail: Recorder.describe(error)) }
            throw error
        }
        let elapsed = Recorder.seconds(clock.now - started)
        let console = boot.console
        guard assembler.hello != nil else {
            writer.abandon(note: "no plugin")
            destination.discard()
            throw RecorderError.qemuFailedToStart(qemu: "qemu-system-x86_64", status: boot.termination.description)
        }
        var result = RecordResult(
            path: options.output, metadata: metadata, termination: boot.termination, interruptedBy: signals.interruption,
            instructions: 0, blocks: 0, distinctBlocks: 0, codeWrites: 0, syscalls: 0, dataTouches: 0, threads: 0,
            translations: 0, pageCaptures: 0, pluginBytes: boot.pluginBytes, fileBytes: 0, seconds: elapsed, processes: [])
        do {
            try assembler.finishThreads()
            if let signal = signals.interruption {
                guard assembler.counts.blocks > 0 else {
                    writer.abandon(note: "interrupted")
                    destination.discard()
                    throw RecorderError.interruptedBeforeRecording(signal: Recorder.signalName(signal), path: options.output)
                }
                let note = "stopped by \(Recorder.signalName(signal)); the guest was stopped"
                writer.abandon(note: note)
                result.metadata.note = note
            } else if assembler.end == nil || (options.window == .command && console.exitStatus == nil) {
                guard assembler.counts.blocks > 0 else {
                    writer.abandon(note: "nothing recorded")
                    destination.discard()
                    throw RecorderError.guestFailed(detail: console.failureSummary(termination: boot.termination))
                }
                let note = "the guest stopped before the window closed (\(boot.termination.description))"
                writer.abandon(note: note)
                result.metadata.note = note
            } else {
                let note = console.note(window: options.window)
                try writer.finish(exitStatus: console.exitStatus, signal: nil, note: note)
                result.metadata.exitStatus = console.exitStatus
                result.metadata.note = note
                result.metadata.complete = true
            }
        } catch let error as TraceStoreError {
            destination.discard()
            throw RecorderError.writeFailed(detail: Recorder.describe(error))
        }
        try destination.commit()
        result.fill(assembler.counts, distinctBlocks: builder.definitions.count, path: options.output)
        return SystemRecordResult(record: result, console: console, systemEvents: assembler.counts.systemEvents,
                                  pageFaults: assembler.counts.pageFaults,
                                  guestSeconds: boot.seconds)
    }
}
