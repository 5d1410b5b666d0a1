import Foundation
import TraceModel

/// Why a report could not be written; one line naming the file.
public struct ReportError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Writes report.md, report.html and results.json into one directory.
public enum ReportWriter {
    /// The files written, in order.
    public static let fileNames = ["report.md", "report.html", "results.json"]

    /// Renders `input` and writes the three files into `directory` (created if missing).
    /// `resultsJSON` is the replay's results document, written as given.
    public static func write(_ input: ReportInput, resultsJSON: String, to directory: String) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ReportError("\(directory): cannot create the report directory (\(error.localizedDescription))")
        }
        let contents = [MarkdownReport.render(input), HTMLReport.render(input), resultsJSON]
        var written: [String] = []
        for (name, text) in zip(fileNames, contents) {
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                try OutputFile.write(text, to: path)
            } catch {
                throw ReportError("\(path): cannot write (\(error.localizedDescription))")
            }
            written.append(path)
        }
        return written
    }
}
