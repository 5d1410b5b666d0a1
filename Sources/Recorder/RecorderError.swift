/// Why a recording could not be made; each description is one line naming the problem.
public enum RecorderError: Error, CustomStringConvertible, Equatable, Sendable {
    case programNotFound(String)
    case notExecutable(path: String)
    case notAnELF(path: String, detail: String)
    case unsupportedArchitecture(path: String, detail: String)
    case qemuMissing(name: String)
    case pluginMissing(name: String, searched: [String])
    /// Whole-system recording: a host tool or package is missing (`install` says how to get it).
    case systemToolMissing(what: String, install: String)
    /// Whole-system recording: the guest did not get to run the command (boot failure, bad image).
    case guestFailed(detail: String)
    case outputExists(path: String)
    case outputUnwritable(path: String, detail: String)
    case spawnFailed(detail: String)
    case qemuFailedToStart(qemu: String, status: String)
    case qemuCouldNotRun(qemu: String, program: String, status: String, message: String)
    case missingInterpreter(path: String, interpreter: String)
    case scriptChain(path: String, detail: String)
    case interruptedBeforeRecording(signal: String, path: String)
    case protocolError(detail: String)
    case decodeFailed(detail: String)
    case writeFailed(detail: String)
    case notFastForm(path: String)
    case packInterrupted(signal: String, path: String)

    public var description: String {
        switch self {
        case let .programNotFound(name):
            "program not found: \(name) (not a file, and not on PATH)"
        case let .notExecutable(path):
            "\(path) is not an executable file"
        case let .notAnELF(path, detail):
            "\(path) is not an ELF executable (\(detail)); record its interpreter instead"
        case let .unsupportedArchitecture(path, detail):
            "cannot record \(path): \(detail); qemu-user here records x86-64 and i386 programs"
        case let .qemuMissing(name):
            "\(name) not found: install it with apt-get install qemu-user"
        case let .systemToolMissing(what, install):
            "whole-system recording needs \(what): install it with \(install)"
        case let .guestFailed(detail):
            "the guest system did not run the command: \(detail)"
        case let .pluginMissing(name, searched):
            "the PlexLab QEMU plugin (\(name)) was not found; build it with `swift build` "
                + "or set PLEXLAB_QEMU_PLUGIN (looked in: \(searched.joined(separator: ", ")))"
        case let .outputExists(path):
            "\(path) already exists (use --force to replace it)"
        case let .outputUnwritable(path, detail):
            "cannot write \(path): \(detail)"
        case let .spawnFailed(detail):
            "cannot start qemu-user: \(detail)"
        case let .qemuFailedToStart(qemu, status):
            "\(qemu) \(status) before the PlexLab plugin started (its message is above)"
        case let .qemuCouldNotRun(qemu, program, status, message):
            "\(qemu) \(status) without running any code of \(program)"
                + (message.isEmpty ? "" : ": " + message.split(whereSeparator: \.isNewline).joined(separator: " / "))
                + "; nothing was written"
        case let .scriptChain(path, detail):
            "cannot record \(path): \(detail)"
        case let .missingInterpreter(path, interpreter):
            "cannot record \(path): its ELF interpreter \(interpreter) does not exist"
        case let .interruptedBeforeRecording(signal, path):
            "interrupted by \(signal) before anything was recorded; \(path) was left as it was"
        case let .protocolError(detail):
            "malformed data from the QEMU plugin: \(detail)"
        case let .decodeFailed(detail):
            "cannot decode recorded code: \(detail)"
        case let .writeFailed(detail):
            "recording stopped: \(detail)"
        case let .notFastForm(path):
            "\(path) is already packed (only a trace recorded with --no-pack, or whose pack was stopped, needs it)"
        case let .packInterrupted(signal, path):
            "interrupted by \(signal) while packing; \(path) stays in its fast form, nothing recorded was lost "
                + "(`plexlab pack \(path)` packs it later)"
        }
    }
}
