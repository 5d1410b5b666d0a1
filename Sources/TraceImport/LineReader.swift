#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a text file one line at a time with bounded memory (the longest line).
final class LineReader {
    private let file: UnsafeMutablePointer<FILE>
    private var buffer: UnsafeMutablePointer<CChar>? = nil
    private var capacity = 0
    /// 1-based number of the line last returned.
    private(set) var lineNumber = 0

    init?(path: String) {
        guard let file = fopen(path, "r") else { return nil }
        self.file = file
    }

    deinit {
        free(buffer)
        fclose(file)
    }

    /// The next line without its line terminator, or nil at the end of the file.
    func next() -> Substring? {
        let count = getline(&buffer, &capacity, file)
        guard count >= 0, let buffer else { return nil }
        lineNumber += 1
        var length = count
        while length > 0 && (buffer[length - 1] == 0x0A || buffer[length - 1] == 0x0D) { length -= 1 }
        let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
        return Substring(String(decoding: bytes, as: UTF8.self))
    }

    /// Whether reading stopped because of an I/O error rather than the end of the file.
    var failed: Bool { ferror(file) != 0 }
}
