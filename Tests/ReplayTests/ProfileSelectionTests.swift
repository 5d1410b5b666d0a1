import Foundation
import Testing
import CostModel

/// The one profile-selection rule (CostModel's ProfileSelection) that compare, replay, report and gate use.
@Suite struct ProfileSelectionTests {
    /// A profile file in a fresh directory; without a "name" key its name is the file's base name.
    static func file(_ base: String, cpi: Double, name: String? = nil) throws -> String {
        let directory = NSTemporaryDirectory() + "profile-selection-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var fields = CostKey.required.map { "\"\($0.rawValue)\": \($0 == .cpi ? cpi : 10)" }
        if let name { fields.append("\"name\": \"\(name)\"") }
        let path = directory + "/" + base
        try ("{" + fields.joined(separator: ", ") + "}").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func optionsParseAsAllBuiltInOrFile() {
        #expect(ProfileOption("all") == .all)
        #expect(ProfileOption("modern") == .builtIn("modern"))
        #expect(ProfileOption("modern.json") == .file(path: "modern.json"))
        #expect(ProfileOption("./modern") == .file(path: "./modern"))
        #expect(ProfileOption.namedChoices == ["all", "pentium3", "pentium4", "modern"])
    }

    @Test func allThenAFileNamedLikeABuiltInReplacesItInPlace() throws {
        let path = try Self.file("modern.json", cpi: 5)
        let selection = try ProfileSelection(["all", path])
        #expect(selection.entries.map(\.option) == ["pentium3", "pentium4", path])
        #expect(selection.profiles.map(\.name) == ["pentium3", "pentium4", "modern"])
        #expect(selection.profiles[2][.cpi] == 5)
        #expect(selection.primary.name == "pentium3")
        // The file comes first: `all` adds only the built-ins not yet named.
        let fileFirst = try ProfileSelection([path, "all"])
        #expect(fileFirst.entries.map(\.option) == [path, "pentium3", "pentium4"])
        #expect(fileFirst.primary[.cpi] == 5)
    }

    @Test func aFileClashesWithAnExplicitBuiltInOrAnotherFile() throws {
        let path = try Self.file("modern.json", cpi: 5)
        #expect(throws: ProfileSelectionError("profiles \"modern\" and \"\(path)\" are both named \"modern\"")) {
            try ProfileSelection(["modern", path])
        }
        let other = try Self.file("mine.json", cpi: 3, name: "modern")
        #expect(throws: ProfileSelectionError("profiles \"\(path)\" and \"\(other)\" are both named \"modern\"")) {
            try ProfileSelection(["all", path, other])
        }
    }

    @Test func repeatsAreListedOnceAndNothingIsRefused() throws {
        #expect(try ProfileSelection(["modern", "all", "modern"]).entries.map(\.option) == ["modern", "pentium3", "pentium4"])
        #expect(throws: ProfileSelectionError("no cost profile selected")) { try ProfileSelection([String]()) }
        #expect(throws: CostProfileError.self) { try ProfileSelection(["modren"]) }
    }

    @Test func withBuiltInsKeepsTheBuiltInOrderAndAddsOtherFiles() throws {
        let modern = try Self.file("modern.json", cpi: 5)
        let mine = try Self.file("mine.json", cpi: 3)
        let selection = try ProfileSelection([mine, modern])
        #expect(selection.primary.name == "mine")
        #expect(selection.withBuiltIns.map(\.name) == ["pentium3", "pentium4", "modern", "mine"])
        #expect(selection.withBuiltIns[2][.cpi] == 5)
        #expect(try ProfileSelection(["pentium4"]).withBuiltIns == CostProfile.builtIn)
    }
}
