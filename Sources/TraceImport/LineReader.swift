#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A line longer than `LineReader.maxLineBytes`: reading stopped inside it.
struct LineTooLong: Error, Equatable {
    var line: Int
}

/// Reads a text file one line at a time with bounded memory: a 64 KiB read buffer and the current line,
/// which may not exceed `maxLineBytes` (the rest of a longer line is never read).
final class LineReader {
    /// The longest line accepted (64 MiB, terminator excluded); docs/import-format.md.
    static let maxLineBytes = 64 << 20

    private let file: UnsafeMutablePointer<FILE>
    private let limit: Int
    private var chunk = [UInt8](repeating: 0, count: 1 << 16)
    private var chunkStart = 0
    private var chunkEnd = 0
    private var line: [UInt8] = []
    private var atEnd = false
    /// 1-based number of the line last returned (or being read when `next` threw).
    private(set) var lineNumber = 0

    init?(path: String, maxLineBytes: Int = LineReader.maxLineBytes) {
        guard let file = fopen(path, "r") else { return nil }
        self.file = file
        limit = maxLineBytes
    }

    deinit { fclose(file) }

    /// The next line without its line terminator, or nil at the end of the file; throws `LineTooLong` as soon
    /// as a line passes `maxLineBytes`.
    func next() throws(LineTooLong) -> Substring? {
        line.removeAll(keepingCapacity: line.capacity <= (1 << 20))
        var sawAny = false
        while true {
            if chunkStart == chunkEnd {
                guard !atEnd, refill() else {
                    guard sawAny else { return nil }
                    break
                }
            }
            sawAny = true
            let newline = chunk[chunkStart..<chunkEnd].firstIndex(of: 0x0A)
            let end = newline ?? chunkEnd
            // One byte over the limit may be the CR of a CRLF line end.
            guard line.count + (end - chunkStart) <= limit + 1 else {
                lineNumber += 1
                throw LineTooLong(line: lineNumber)
            }
            line.append(contentsOf: chunk[chunkStart..<end])
            if let newline {
                chunkStart = newline + 1
                break
            }
            chunkStart = chunkEnd
        }
        lineNumber += 1
        while let last = line.last, last == 0x0D { line.removeLast() }
        guard line.count <= limit else { throw LineTooLong(line: lineNumber) }
        return Substring(String(decoding: line, as: UTF8.self))
    }

    private func refill() -> Bool {
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        chunkStart = 0
        chunkEnd = count
        if count == 0 { atEnd = true }
        return count > 0
    }

    /// Whether reading stopped because of an I/O error rather than the end of the file.
    var failed: Bool { ferror(file) != 0 }
}
