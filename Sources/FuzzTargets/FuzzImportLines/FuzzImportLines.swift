@_spi(Fuzzing) import TraceImport
import FuzzSupport

/// The import parser: every line of the input parsed and checked as an import record (no SQLite, fast).
@main enum FuzzImportLines {
    static func main() {
        FuzzDriver.main { data, size in
            _ = ImportFuzzing.parseLines(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        }
    }
}
