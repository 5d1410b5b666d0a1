/// The import parser's way in for the fuzz targets (Sources/FuzzTargets/FuzzImportLines). Not API.
@_spi(Fuzzing) public enum ImportFuzzing {
    /// Parses every line of `text` as the importer does before acting on it (line terminators and leading
    /// blanks dropped, blank and `#` lines skipped, invalid UTF-8 repaired); returns (records, bad lines).
    public static func parseLines(_ text: UnsafeRawBufferPointer) -> (records: Int, bad: Int) {
        var records = 0, bad = 0
        for rawLine in text.split(separator: 0x0A, omittingEmptySubsequences: false) {
            var line = rawLine[...]
            while let last = line.last, last == 0x0D { line = line.dropLast() }
            let decoded = Substring(String(decoding: line, as: UTF8.self))
            let trimmed = decoded.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            do {
                _ = try ImportRecord.parse(trimmed)
                records += 1
            } catch {
                bad += 1
            }
        }
        return (records, bad)
    }
}
