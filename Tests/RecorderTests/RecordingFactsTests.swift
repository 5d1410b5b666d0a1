import Testing
@testable import Recorder

/// The facts a fast form stores for its pack are written and read back by the one JSON writer and reader.
struct RecordingFactsTests {
    @Test func factsRoundTrip() {
        let killed = RecordingFacts(termination: .signaled(11), interruptedBy: 2, truncatedTail: 7,
                                    maxInstructions: 1_000_000, pluginBytes: 1 << 40, guestSeconds: 0.25)
        #expect(killed.json() == #"{"guestSeconds":0.25,"interruptedBy":2,"maxInstructions":1000000,"pluginBytes":1099511627776,"signal":11,"truncatedTail":7}"#)
        #expect(RecordingFacts(json: killed.json()) == killed)
        let exited = RecordingFacts(termination: .exited(3), interruptedBy: nil, truncatedTail: 0, maxInstructions: nil,
                                    pluginBytes: 12, guestSeconds: 1)
        #expect(exited.json() == #"{"exitStatus":3,"guestSeconds":1,"pluginBytes":12,"truncatedTail":0}"#)
        #expect(RecordingFacts(json: exited.json()) == exited)
        // A tree's facts: whose termination it is, the program as started, the process limit that stopped it.
        var tree = exited
        (tree.rootPID, tree.processLimit, tree.rootProgram, tree.rootArgv) = (4242, 5, "/bin/sh", ["sh", "-c", "a \"b\""])
        #expect(tree.json() == #"{"exitStatus":3,"guestSeconds":1,"pluginBytes":12,"processLimit":5,"rootArgv":["sh","-c","a \"b\""],"rootPID":4242,"rootProgram":"\/bin\/sh","truncatedTail":0}"#)
        #expect(RecordingFacts(json: tree.json()) == tree)
        #expect(RecordingFacts(json: #"{"exitStatus":3}"#) == nil)
        #expect(RecordingFacts(json: "[") == nil)
    }
}
