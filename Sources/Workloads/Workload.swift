import Foundation
import Recorder

/// The instruction set of a micro workload (mirrors TraceModel.GuestArch; this module stands alone).
public enum WorkloadArch: String, Sendable, CaseIterable {
    case x86_64
    case i386
}

/// A named, reproducible program to record: how to build it, the inputs it generates (never downloaded),
/// the command that runs it and how the corpus records it (Traces/, docs/gate.md). The one workload type:
/// `WorkloadCatalog` lists them, `plexlab record --workload NAME` records one (`CorpusRecording`).
public struct Workload: Sendable {
    public enum Kind: String, Sendable {
        /// A program the project writes (assembly built at record time), one behaviour each.
        case micro
        /// A real program from a Debian package.
        case program
    }

    /// How the program comes to exist.
    public enum Recipe: Sendable {
        /// GNU assembler source, assembled and linked freestanding (gcc -nostdlib -static, -m32 for i386).
        case assembly(source: String, arch: WorkloadArch)
        /// An installed program (looked up on PATH when not absolute); nothing to build.
        case installed(program: String)
    }

    /// The command that runs a prepared workload.
    public struct Command: Sendable, Equatable {
        public var program: String
        public var arguments: [String]
    }

    public var name: String
    /// One line: what the run does and which behaviour it exercises.
    public var summary: String
    public var kind: Kind
    public var recipe: Recipe
    /// Relative file names refer to generated inputs: the run's working directory holds them.
    public var arguments: [String]
    public var inputs: [GeneratedInput]
    /// The corpus bound on recorded instructions (nil: the run is short enough whole).
    public var maxInstructions: UInt64?
    /// Whether the corpus records data-page touches (pagefault-legacy needs them).
    public var dataPages: Bool
    /// Debian packages whose versions the manifest records.
    public var packages: [String]
    /// Why the run is set up this way, when that is not obvious.
    public var note: String
    /// Whether the corpus records the whole process tree (forks, execve'd programs); the workloads made
    /// before the recorder followed processes keep one process, as recorded.
    public var followProcesses: Bool

    public init(name: String, summary: String, kind: Kind = .micro, recipe: Recipe, arguments: [String] = [],
                inputs: [GeneratedInput] = [], maxInstructions: UInt64? = nil, dataPages: Bool = false,
                packages: [String] = [], note: String = "", followProcesses: Bool = false) {
        self.name = name
        self.summary = summary
        self.kind = kind
        self.recipe = recipe
        self.arguments = arguments
        self.inputs = inputs
        self.maxInstructions = maxInstructions
        self.dataPages = dataPages
        self.packages = packages
        self.note = note
        self.followProcesses = followProcesses
    }

    /// Builds the program and writes the inputs into `directory` (created if needed); run the returned
    /// command from that directory.
    public func prepare(in directory: String) throws -> Command {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw WorkloadError.directory(path: directory, detail: error.localizedDescription)
        }
        let command: Command
        switch recipe {
        case .installed(let program):
            command = Command(program: program, arguments: arguments)
        case .assembly(let source, let arch):
            let executable = try WorkloadBuilder.assemble(source: source, arch: arch, name: name, in: directory)
            command = Command(program: executable, arguments: arguments)
        }
        for input in inputs {
            let path = (directory as NSString).appendingPathComponent(input.name)
            guard FileManager.default.createFile(atPath: path, contents: Data(input.bytes())) else {
                throw WorkloadError.directory(path: directory, detail: "cannot write input \(input.name)")
            }
        }
        return command
    }
}

/// Why a workload could not be built; one line.
public enum WorkloadError: Error, CustomStringConvertible, Equatable, Sendable {
    case unknown(name: String, known: [String])
    case compilerMissing
    case buildFailed(name: String, detail: String)
    case directory(path: String, detail: String)

    public var description: String {
        switch self {
        case let .unknown(name, known):
            "unknown workload \(name) (known: \(known.joined(separator: ", ")))"
        case .compilerMissing:
            "gcc not found: install it with apt-get install gcc gcc-multilib"
        case let .buildFailed(name, detail):
            "cannot build workload \(name): \(detail)"
        case let .directory(path, detail):
            "cannot use \(path) for workloads: \(detail)"
        }
    }
}

/// Assembles and links micro programs with gcc.
public enum WorkloadBuilder {
    /// Writes `source` to DIRECTORY/NAME.S and links DIRECTORY/NAME; returns the executable's path.
    public static func assemble(source: String, arch: WorkloadArch, name: String, in directory: String) throws -> String {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw WorkloadError.directory(path: directory, detail: error.localizedDescription)
        }
        let base = (directory as NSString).appendingPathComponent(name)
        let sourcePath = base + ".S", executable = base
        do {
            try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        } catch {
            throw WorkloadError.directory(path: directory, detail: error.localizedDescription)
        }
        guard let gcc = findOnPath("gcc") else { throw WorkloadError.compilerMissing }
        var arguments = ["-nostdlib", "-static", "-o", executable, sourcePath]
        if arch == .i386 { arguments.insert("-m32", at: 0) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: gcc)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { throw WorkloadError.compilerMissing }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: message, as: UTF8.self)
            let line = text.split(separator: "\n").first(where: { $0.contains("error") }) ?? text.split(separator: "\n").first ?? ""
            throw WorkloadError.buildFailed(name: name, detail: "gcc exited with \(process.terminationStatus): \(line)")
        }
        return executable
    }

    /// `name` on PATH, nil when it is not there (the recorder's search: `GuestProgram.locate`).
    static func findOnPath(_ name: String) -> String? {
        try? GuestProgram.locate(name, path: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
    }
}
