import Foundation
import Testing
import TraceModel
import TraceStore
#if canImport(Glibc)
import Glibc
#endif

/// `plexlab record` of a program that never ends, stopped by SIGKILL or SIGINT, with `plexlab info`
/// reading the trace while the recording writes it (at OUT.partial until it is renamed over OUT).
@Suite(.serialized) struct RecordKillTests {
    static let chunkBlocks = 4096

    /// A shell spinning forever; the marker finds its qemu process afterwards.
    private func spinner(_ marker: String) -> [String] {
        ["/bin/sh", "-c", ": \(marker); while :; do :; done"]
    }

    private func startRecording(_ trace: String, marker: String, scratch: Scratch, extra: [String] = []) throws -> Child {
        try Child(try builtExecutable("plexlab"),
                  ["record", "--out", trace, "--chunk-blocks", String(Self.chunkBlocks)] + extra + ["--"] + spinner(marker),
                  scratch: scratch)
    }

    /// Processes whose command line holds `marker` (the guest under qemu-user).
    private func processes(with marker: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains(marker)
        }
    }

    /// Waits up to 10 s for the guest to go away, then kills what is left (so a failure leaves no spinner).
    private func expectGuestGone(_ marker: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let deadline = Date().addingTimeInterval(10)
        while !processes(with: marker).isEmpty && Date() < deadline { usleep(50_000) }
        let left = processes(with: marker)
        #expect(left.isEmpty, "qemu still runs the guest after the recorder died: \(left)", sourceLocation: sourceLocation)
        for pid in left { kill(pid, SIGKILL) }
    }

    /// One `info --json --verify` of the live trace: nil before it is a trace, else a consistent snapshot.
    private func look(_ trace: String, scratch: Scratch) throws -> TraceInfo? {
        let run = try plexlab(["info", "--json", "--verify", trace], scratch: scratch, timeout: 60)
        guard run.status == 0 else {
            expectCleanError(run)
            return nil
        }
        let info = try decodeInfo(run)
        #expect(info.badChunks == [])
        #expect(info.summary.blocksExecuted >= info.summary.chunks)
        return info
    }

    /// Waits until the live fast form at OUT.partial holds `bytes` of the plugins' streams (docs/recorder.md,
    /// "Record, then pack": while the guest runs the recording stores the streams, the pack comes after).
    private func waitForStream(_ bytes: UInt64, trace: String, child: Child, scratch: Scratch) throws -> Int {
        var looks = 0, seen: UInt64 = 0
        let deadline = Date().addingTimeInterval(90)
        while seen < bytes && child.isRunning && Date() < deadline {
            if let info = try look(trace + ".partial", scratch: scratch) {
                #expect(info.fastForm != nil, "a live recording is in its fast form")
                #expect((info.fastForm?.streamBytes ?? 0) >= seen, "a later snapshot has less of the stream")
                seen = info.fastForm?.streamBytes ?? 0
                looks += 1
            } else {
                usleep(20_000)
            }
        }
        if !child.isRunning {
            // Ended on its own: say why (a recording of a program that never ends only stops when killed).
            let run = child.wait()
            Issue.record("plexlab record ended by itself, status \(run.status): \(run.stderr)")
        }
        #expect(seen >= bytes, "saw \(seen) bytes of stream")
        return looks
    }

    static let segmentBytes: UInt64 = 4 << 20

    /// The default record (the tree followed, a ring per process) killed after `killAfter` 4 MiB segments: the
    /// fast form at OUT.partial is readable, holds them, and packs into an incomplete trace of their blocks.
    @Test func sigkillMidRecordingLeavesAReadableIncompleteTrace() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        for killAfter: UInt64 in [1, 3] {
            let marker = "plexlab-spin-\(UUID().uuidString.prefix(8))"
            let trace = scratch.path("killed-\(killAfter).plextrace")
            let child = try startRecording(trace, marker: marker, scratch: scratch)
            let looks = try waitForStream(killAfter * Self.segmentBytes, trace: trace, child: child, scratch: scratch)
            #expect(looks >= 1)
            // The guest runs in its own qemu process, besides the recorder.
            #expect(processes(with: marker).contains { $0 != child.pid })
            kill(child.pid, SIGKILL)
            #expect(child.wait().status == 128 + SIGKILL)
            expectGuestGone(marker)

            #expect(!FileManager.default.fileExists(atPath: trace))
            let info = try #require(try look(trace + ".partial", scratch: scratch))
            #expect(!info.metadata.complete)
            #expect((info.fastForm?.streamBytes ?? 0) >= killAfter * Self.segmentBytes)
            let pack = try plexlab(["pack", trace + ".partial"], scratch: scratch, timeout: 120)
            #expect(pack.status == 0, "\(pack.stderr)")
            let packed = try #require(try look(trace + ".partial", scratch: scratch))
            #expect(packed.fastForm == nil && !packed.metadata.complete)
            #expect(packed.metadata.note.contains("recorder stopped before the guest ended"), "\(packed.metadata.note)")
            #expect(packed.summary.chunks >= 1)
            // Each segment is 4 MiB of records; the spinner's are nearly all 4-byte TB ids.
            #expect(packed.summary.blocksExecuted >= killAfter * Self.segmentBytes / 8)
            #expect(try TraceReader(path: trace + ".partial").processes().count == 1)
        }
    }

    @Test func sigkillAtFixedDelaysNeverLeavesAnUnreadableMess() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        for delay in [0, 100_000, 700_000] {
            let marker = "plexlab-spin-\(UUID().uuidString.prefix(8))"
            let trace = scratch.path("killed-\(delay).plextrace")
            let child = try startRecording(trace, marker: marker, scratch: scratch)
            usleep(useconds_t(delay))
            kill(child.pid, SIGKILL)
            _ = child.wait()
            expectGuestGone(marker)
            #expect(!FileManager.default.fileExists(atPath: trace))
            if let info = try look(trace + ".partial", scratch: scratch) { #expect(!info.metadata.complete) }
        }
    }

    @Test func ctrlCLeavesAReadableIncompleteTrace() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let marker = "plexlab-spin-\(UUID().uuidString.prefix(8))"
        let trace = scratch.path("interrupted.plextrace")
        let child = try startRecording(trace, marker: marker, scratch: scratch)
        _ = try waitForStream(2 * Self.segmentBytes, trace: trace, child: child, scratch: scratch)
        kill(child.pid, SIGINT)
        let ended = child.wait(timeout: 60)
        #expect(!ended.timedOut)
        #expect(ended.status == 130, "\(ended.stderr)")
        for marker in crashMarkers { #expect(!ended.stderr.contains(marker), "\(ended.stderr)") }
        expectGuestGone(marker)

        // Stopped with chunks recorded: renamed over the target like a finished trace.
        #expect(!FileManager.default.fileExists(atPath: trace + ".partial"))
        let info = try #require(try look(trace, scratch: scratch))
        #expect(!info.metadata.complete)
        #expect(info.metadata.note.contains("SIGINT"), "note: \(info.metadata.note)")
        #expect(info.summary.chunks >= 2)
    }

    /// One process recorded then packed (--no-follow, docs/recorder.md "Record, then pack"): the live trace is
    /// the fast form, growing by 4 MiB segments of the plugin's stream; kill -9 leaves it at OUT.partial and
    /// `plexlab pack` makes it an incomplete trace of at least the blocks those segments hold.
    @Test func sigkillOfAOneProcessRecordingLeavesAFastFormThatPacks() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let segmentBytes = Self.segmentBytes
        let marker = "plexlab-spin-\(UUID().uuidString.prefix(8))"
        let trace = scratch.path("fast.plextrace")
        let child = try startRecording(trace, marker: marker, scratch: scratch, extra: ["--no-follow"])
        var stream: UInt64 = 0
        let deadline = Date().addingTimeInterval(90)
        while stream < 2 * segmentBytes && child.isRunning && Date() < deadline {
            if let info = try look(trace + ".partial", scratch: scratch) {
                #expect(info.fastForm != nil, "a live one-process recording is in its fast form")
                #expect((info.fastForm?.streamBytes ?? 0) >= stream, "a later snapshot has less of the stream")
                stream = info.fastForm?.streamBytes ?? 0
            } else {
                usleep(20_000)
            }
        }
        #expect(stream >= 2 * segmentBytes)
        kill(child.pid, SIGKILL)
        _ = child.wait()
        expectGuestGone(marker)
        #expect(!FileManager.default.fileExists(atPath: trace))
        let pack = try plexlab(["pack", trace + ".partial"], scratch: scratch, timeout: 120)
        #expect(pack.status == 0, "\(pack.stderr)")
        let packed = try #require(try look(trace + ".partial", scratch: scratch))
        #expect(packed.fastForm == nil)
        #expect(!packed.metadata.complete)
        #expect(packed.metadata.note.contains("recorder stopped before the guest ended"), "\(packed.metadata.note)")
        // Each segment is 4 MiB of records; the spinner's are nearly all 4-byte TB ids.
        #expect(packed.summary.blocksExecuted >= 2 * segmentBytes / 8)
    }
}
