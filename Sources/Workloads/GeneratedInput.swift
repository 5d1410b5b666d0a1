import Foundation

/// What the corpus manifest records about a workload's machine: package versions.
extension Workload {
    /// The installed version of each of `packages` (dpkg-query), "not installed" when absent.
    public func packageVersions() -> [String: String] {
        var versions: [String: String] = [:]
        for package in packages { versions[package] = Self.debianVersion(of: package) ?? "not installed" }
        return versions
    }

    /// `dpkg-query -W -f '${Version}' PACKAGE`, or nil.
    public static func debianVersion(of package: String) -> String? {
        guard let dpkg = WorkloadBuilder.findOnPath("dpkg-query") else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dpkg)
        process.arguments = ["-W", "-f=${Version}", package]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !text.isEmpty ? text : nil
    }
}

/// A file a workload generates before it runs: deterministic from its seed, the same on every machine.
public struct GeneratedInput: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        /// English-like lines of words from a fixed vocabulary (compressible, sortable, greppable).
        case text(seed: UInt64, bytes: Int)
        /// Fixed text (scripts, SQL, C source).
        case literal(String)
    }

    public var name: String
    public var content: Content

    public init(name: String, content: Content) {
        self.name = name
        self.content = content
    }

    /// How the manifest describes the generator.
    public var recipe: String {
        switch content {
        case .text(let seed, let bytes): "text: words from the fixed vocabulary, xorshift64* seed \(seed), \(bytes) bytes"
        case .literal: "literal: written verbatim by the catalog (Sources/Workloads)"
        }
    }

    public func bytes() -> [UInt8] {
        switch content {
        case .literal(let text): Array(text.utf8)
        case .text(let seed, let count): Self.text(seed: seed, bytes: count)
        }
    }

    static let vocabulary = """
        the of and to in is was that for on with as by at from this be are or an which it not have one
        all were there their been has when who will more no if out so said what up its about into than
        them can only other new some could time these two may then do first any my now such like our
        over man me even most made after also did many before must through back years where much your
        way well down should because each just those people how too little state good very make world
        still own see men work long get here between both life being under never day same another know
        while last might us great old year off come since against go came right used take three
        alpha beta gamma delta epsilon zeta theta lambda sigma omega running jumping writing reading
        page trap scan monitor guest kernel branch return call jump fault write execute translate
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { Array($0.utf8) }

    /// Lines of 3 to 14 words, some followed by a number; xorshift64* keeps it identical everywhere.
    static func text(seed: UInt64, bytes count: Int) -> [UInt8] {
        var state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed
        func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
        var out: [UInt8] = []
        out.reserveCapacity(count + 128)
        while out.count < count {
            let words = 3 + Int(next() % 12)
            for index in 0..<words {
                if index > 0 { out.append(UInt8(ascii: " ")) }
                out += vocabulary[Int(next() % UInt64(vocabulary.count))]
            }
            if next() % 4 == 0 { out += Array(" \(next() % 100_000)".utf8) }
            out.append(UInt8(ascii: "\n"))
        }
        var text = Array(out.prefix(count))
        if !text.isEmpty { text[text.count - 1] = UInt8(ascii: "\n") }
        return text
    }

    /// FNV-1a over the bytes, so the manifest can show an input is the same as before.
    public static func fnv1a64(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return String(format: "%016llx", hash)
    }
}
