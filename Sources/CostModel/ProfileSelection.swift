/// One `--profile` value (or one entry of a gate baseline's `profiles`): `all`, a built-in name, or the
/// path of a profile file. Built-in names win over files of the same spelling: name such a file `./modern`.
public enum ProfileOption: Sendable, Hashable, CustomStringConvertible {
    /// Every built-in profile, in documentation order.
    case all
    case builtIn(String)
    case file(path: String)

    public init(_ text: String) {
        if text == "all" {
            self = .all
        } else if CostProfile.named(text) != nil {
            self = .builtIn(text)
        } else {
            self = .file(path: text)
        }
    }

    /// The option as it is spelt.
    public var description: String {
        switch self {
        case .all: "all"
        case .builtIn(let name): name
        case .file(let path): path
        }
    }

    /// The spellings `--help` lists (files are not listed).
    public static var namedChoices: [String] { ["all"] + CostProfile.builtIn.map(\.name) }
}

/// Two selected profiles carry one name; results are keyed by profile name, so one would hide the other.
public struct ProfileSelectionError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The profiles a list of `ProfileOption`s selects: the one rule compare, replay, report and gate follow,
/// and every other command taking a profile must (`live`, added separately, included; docs/cost-profiles.md,
/// "Choosing profiles").
///
/// 1. In the order given: `all` adds the built-ins, a built-in name adds that profile, anything else is a
///    profile file, read (and checked) now.
/// 2. An option given twice, or a built-in already added by `all`, is listed once, at its first place.
/// 3. A file whose profile has a built-in's name replaces that built-in when `all` brought it in (in its
///    place: you named the file, so it is the one used); when the built-in, or another file, was named
///    explicitly the two clash and the selection is refused.
public struct ProfileSelection: Sendable {
    /// Each selected profile with the option that chose it (a gate baseline keys its numbers by it;
    /// for a profile from `all` it is the profile's name).
    public private(set) var entries: [(option: String, profile: CostProfile)] = []

    public init(_ options: [ProfileOption]) throws {
        guard !options.isEmpty else { throw ProfileSelectionError("no cost profile selected") }
        var fromAll: Set<String> = []
        for option in options {
            switch option {
            case .all:
                for profile in CostProfile.builtIn where !entries.contains(where: { $0.profile.name == profile.name }) {
                    entries.append((profile.name, profile))
                    fromAll.insert(profile.name)
                }
            case .builtIn(let name):
                if entries.contains(where: { $0.option == name }) { continue }
                try add(name, CostProfile.named(name)!, replacing: [])
            case .file(let path):
                if entries.contains(where: { $0.option == path }) { continue }
                let profile = try CostProfile.load(path: path)
                try add(path, profile, replacing: fromAll)
                fromAll.remove(profile.name)
            }
        }
    }

    /// Parses every option text first (`ProfileOption.init`), then selects.
    public init(_ texts: [String]) throws { try self.init(texts.map(ProfileOption.init)) }

    private mutating func add(_ option: String, _ profile: CostProfile, replacing replaceable: Set<String>) throws {
        guard let index = entries.firstIndex(where: { $0.profile.name == profile.name }) else {
            entries.append((option, profile))
            return
        }
        guard replaceable.contains(profile.name) else {
            throw ProfileSelectionError("profiles \"\(entries[index].option)\" and \"\(option)\" are both named \"\(profile.name)\"")
        }
        entries[index] = (option, profile)
    }

    /// The selected profiles, in order.
    public var profiles: [CostProfile] { entries.map(\.profile) }

    /// The profile a one-profile view (compare's and replay's table) shows: the first selected.
    public var primary: CostProfile { entries[0].profile }

    /// The selection plus every built-in it does not name or shadow: the built-ins first, in their order
    /// (each replaced by a selected profile of the same name), then the other selected profiles. compare and
    /// replay estimate under these, so their JSON always holds the built-ins.
    public var withBuiltIns: [CostProfile] {
        let selected = profiles
        var all = CostProfile.builtIn.map { builtIn in selected.first { $0.name == builtIn.name } ?? builtIn }
        all += selected.filter { profile in !CostProfile.builtIn.contains { $0.name == profile.name } }
        return all
    }
}
