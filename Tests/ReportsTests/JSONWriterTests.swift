import Foundation
import Testing
import TraceModel

/// The one JSON writer keeps the bytes of the files it took over: the indented layout is what
/// JSONSerialization's pretty, sorted output was (results, manifests, fidelity), and JSONText(encoding:)
/// in it what JSONEncoder's was (info --json, calibrated profiles); the compact layout is JSONEncoder's
/// one-line form (stored argv, recording facts).
struct JSONWriterTests {
    private struct Sample: Codable {
        var name: String
        var ratio: Double
        var whole: Double
        var tiny: Double
        var count: UInt64
        var signed: Int32
        var missing: Int32?
        var words: [String]
        var empty: [String]
        var nested: [String: [Int]]
        var flag: Bool
    }

    private let sample = Sample(name: "a/b \"q\" \\ \n\t\u{8}\u{c}\u{1} é", ratio: 0.1, whole: 100, tiny: 1e-7,
                                count: .max, signed: -3, missing: nil, words: ["x/y", ""], empty: [],
                                nested: ["k": [1, 2], "e": []], flag: true)

    @Test func encodableValuesWriteAsJSONEncoderDid() throws {
        let text = try JSONText(encoding: sample)
        let encoder = JSONEncoder()
        for slashes in [true, false] {
            encoder.outputFormatting = slashes ? [.prettyPrinted, .sortedKeys] : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            #expect(JSONWriter.write(text, style: .indented(escapingSlashes: slashes))
                    == String(decoding: try encoder.encode(sample), as: UTF8.self))
        }
        encoder.outputFormatting = .sortedKeys
        #expect(JSONWriter.write(text, style: .compact) == String(decoding: try encoder.encode(sample), as: UTF8.self))
        #expect(JSONWriter.write(.array(["a/b", "\""]), style: .compact) == #"["a\/b","\""]"#)
    }

    @Test func documentsWriteAsJSONSerializationDid() throws {
        let foundation: [String: Any] = [
            "schema": "plexlab-results/1", "none": NSNull(), "yes": false, "n": UInt64(18), "d": 2.5e-5, "big": 1e21,
            "one": 1.0, "list": [1, 2], "nothing": [Any](), "object": [String: Any](),
            "rows": [["path": "/x/y", "v": 0.3]],
        ]
        let text: JSONText = [
            "schema": "plexlab-results/1", "none": nil, "yes": false, "n": JSONText(UInt64(18)), "d": JSONText(2.5e-5),
            "big": JSONText(1e21), "one": JSONText(1.0), "list": [1, 2], "nothing": [], "object": [:],
            "rows": [["path": "/x/y", "v": JSONText(0.3)]],
        ]
        for slashes in [true, false] {
            let options: JSONSerialization.WritingOptions = slashes ? [.prettyPrinted, .sortedKeys]
                : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try JSONSerialization.data(withJSONObject: foundation, options: options)
            #expect(JSONWriter.write(text, style: .indented(escapingSlashes: slashes)) == String(decoding: data, as: UTF8.self))
        }
    }

    @Test func theReviewLayoutIsUnchanged() {
        let text: JSONText = ["b": [1, 2], "a": ["x": JSONWriter.number(1.0)], "c": [["y": "z/"]]]
        #expect(JSONWriter.write(text) == """
            {
              "a": {
                "x": 1.0
              },
              "b": [1, 2],
              "c": [
                {
                  "y": "z/"
                }
              ]
            }

            """)
    }

    /// The committed files written before the writer was one: parsed and written again, byte for byte.
    @Test func committedFilesRewriteByteForByte() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        for (file, style, suffix) in [("Reports/sample/results.json", JSONWriter.Style.indented(escapingSlashes: true), "\n"),
                                      ("Traces/manifest.json", .indented(escapingSlashes: false), "\n"),
                                      ("Reports/baseline.json", .review, "")] {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            #expect(JSONWriter.write(try JSONParser.parse(Array(text.utf8)), style: style) + suffix == text, "\(file)")
        }
    }

    @Test func storedArgvReadsBackStrictly() {
        #expect(JSONText.strings(#"["a","b\/c"]"#) == ["a", "b/c"])
        #expect(JSONText.strings(#"["a",1]"#) == nil)
        #expect(JSONText.strings(#"{"a":"b"}"#) == nil)
        #expect(JSONText.strings("[") == nil)
    }
}
