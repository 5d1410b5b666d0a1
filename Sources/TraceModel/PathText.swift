/// Path arithmetic on plain strings. NSString's `deletingLastPathComponent` traps (SIGILL) in this
/// toolchain's Foundation on a relative path without a slash ("t.plextrace"), so the CLI uses this.
public enum PathText {
    /// Everything before the last `/` ("" for a bare file name, "/" for a file in the root).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `./Traces//a.plextrace` -> `Traces/a.plextrace`: the spelling paths are compared in.
    public static func normalise(_ path: String) -> String {
        var parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        if parts.isEmpty { parts = ["."] }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }
}
