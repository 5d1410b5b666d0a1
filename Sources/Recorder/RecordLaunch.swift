#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TraceModel
import TraceStore

extension Recorder {
    /// What both recording paths settle before QEMU starts: the program (a `#!` script resolved as the
    /// kernel would), qemu-user and the plugin, the claimed destination and the trace's metadata.
    struct Launch {
        let guest: GuestProgram
        let guestArgv: [String]
        let isScript: Bool
        let qemu: String
        let plugin: String
        let destination: TraceDestination
        private let command: [String]
        private let dataPages: Bool
        private let date = Date().ISO8601Format()

        /// The trace's metadata. Computed when asked (it runs `qemu --version`), so that the recording can ask
        /// once QEMU is already starting the guest.
        var metadata: TraceMetadata {
            TraceMetadata(
                program: guest.path, argv: command, arch: guest.arch, recorder: "qemu-user",
                recorderVersion: Tools.qemuVersion(qemu), host: Recorder.hostDescription(), date: date,
                hasDataTouches: dataPages)
        }

        /// The plugin's arguments for following the tree through `socket`. A program of the other architecture
        /// runs under its own qemu with the plugin, which then only tells how it ends and what it starts
        /// (tree-arch: one decoder per trace, docs/recorder.md).
        func followArguments(socket: ProcessSocket, environment: [String: String]) -> [String] {
            var arguments = ["sock=\(socket.path)", "tree-arch=\(guest.arch.rawValue)"]
            for arch in [GuestArch.x86_64, .i386] {
                let name = arch == .x86_64 ? "qemu64" : "qemu32"
                if arch == guest.arch {
                    arguments.append("\(name)=\(qemu)")
                } else if let other = try? Tools.qemu(GuestProgram(path: "", arch: arch).qemuName, environment: environment) {
                    arguments.append("\(name)=\(other)")
                }
            }
            return arguments
        }

        init(program: String, arguments: [String], options: RecordOptions) throws {
            (guest, guestArgv) = try GuestProgram.resolveCommand(program, arguments: arguments,
                                                                 environment: options.environment,
                                                                 in: options.workingDirectory)
            isScript = guest.path != program
                && guest.path != (try? GuestProgram.locate(program, path: options.environment["PATH"] ?? "/usr/bin:/bin"))
            qemu = try Tools.qemu(guest.qemuName, environment: options.environment)
            plugin = try Tools.plugin(environment: options.environment)
            let output = options.output
            // Checks the path (--force replaces only a trace), locks it against a second recorder, and names
            // the .partial file the trace is written to until it is renamed over `output`.
            do {
                destination = try TraceDestination(path: output, overwrite: options.overwrite)
            } catch TraceStoreError.exists(let path) {
                throw RecorderError.outputExists(path: path)
            } catch TraceStoreError.writeFailed(_, let detail) {
                throw RecorderError.outputUnwritable(path: output, detail: detail)
            }
            command = [program] + arguments
            dataPages = options.dataPages
        }
    }
}

extension RecordResult {
    /// Takes the assembled figures (after the trace was committed at `path`).
    mutating func fill(_ counts: TraceAssembler.Counts, distinctBlocks: Int, path: String) {
        instructions = counts.instructions
        blocks = counts.blocks
        self.distinctBlocks = distinctBlocks
        codeWrites = counts.codeWrites
        syscalls = counts.syscalls
        dataTouches = counts.dataTouches
        threads = counts.threads
        translations = counts.translations
        pageCaptures = counts.pageCaptures
        fileBytes = Recorder.fileBytes(path)
    }
}
