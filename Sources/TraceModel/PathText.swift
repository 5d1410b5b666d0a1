/// Path arithmetic on plain strings. NSString's `deletingLastPathComponent` traps (SIGILL) in this
/// toolchain's Foundation on a relative path without a slash ("t.plextrace"), so the CLI uses this.
public enum PathText {
    /// Everything before the last `/` ("" for a bare file name, "/" for a file in the root).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
