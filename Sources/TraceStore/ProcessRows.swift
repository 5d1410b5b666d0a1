import Foundation
import GRDB
import TraceModel

/// The `processes` and `process_threads` tables (schema 3): a recorded process tree.
enum ProcessRows {
    static func replace(_ processes: [TraceProcess], in db: Database) throws {
        try db.execute(sql: "DELETE FROM processes; DELETE FROM process_threads;")
        let insert = try db.cachedStatement(sql: """
            INSERT INTO processes (id, pid, parent, origin, program, argv, exit_status, signal, note, fork_thread,
                                   fork_event_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let thread = try db.cachedStatement(sql: "INSERT INTO process_threads (thread, process) VALUES (?, ?)")
        for p in processes {
            // What the reader refuses is never written: an argv over the text cap keeps its first words.
            var words = p.argv
            var argv = TraceTextLimits.storedArgv(words)
            while argv.utf8.count > TraceTextLimits.maxBytes, !words.isEmpty {
                words.removeLast()
                argv = TraceTextLimits.storedArgv(words)
            }
            let program = String(decoding: p.program.utf8.prefix(TraceTextLimits.maxBytes), as: UTF8.self)
            let note = String(decoding: p.note.utf8.prefix(TraceTextLimits.maxBytes), as: UTF8.self)
            try insert.execute(arguments: [
                p.id, Int64(p.pid), p.parent, p.origin.rawValue, program, argv, p.exitStatus.map { Int64($0) },
                p.signal.map { Int64($0) }, note, p.forkPoint.map { Int64($0.thread) },
                p.forkPoint.map { Int64(bitPattern: $0.eventIndex) },
            ])
            for id in p.threads { try thread.execute(arguments: [Int64(id), p.id]) }
        }
    }

    /// The stored processes with their threads, in id order (empty for a trace of schema 1 or 2).
    static func read(_ db: Database) throws -> [TraceProcess] {
        var processes: [TraceProcess] = []
        let rows = try Row.fetchCursor(db, sql: """
            SELECT id, pid, parent, origin, program, argv, exit_status, signal, note, fork_thread, fork_event_index,
                   length(program) + length(argv) + length(note) FROM processes ORDER BY id
            """)
        while let row = try rows.next() {
            let fields = StrictRow(row, record: "process")
            _ = try fields.int(11, in: 0...Int64(3 * TraceTextLimits.maxBytes))
            let id = try fields.int(0, in: 0...Int64(Int32.max))
            guard id == processes.count else { throw StoredValueError("process ids are not 0, 1, 2, ...") }
            let originName = try fields.text(3)
            guard let origin = TraceProcess.Origin(rawValue: originName) else {
                throw StoredValueError("process \(id) has the unknown origin \"\(originName.prefix(20))\"")
            }
            guard let argv = JSONText.strings(try fields.text(5)) else {
                throw StoredValueError("process \(id) argv is not a JSON array of strings")
            }
            let parent: Int? = fields.isNull(2) ? nil : try fields.int(2, in: 0...Int64(max(0, id - 1)))
            guard parent == nil || parent! < id else { throw StoredValueError("process \(id) names a later parent") }
            let forkThread = try fields.optionalUInt64(9), forkIndex = try fields.optionalUInt64(10)
            var forkPoint: TraceProcess.ForkPoint?
            if let forkThread, let forkIndex, forkThread <= UInt64(UInt32.max) {
                forkPoint = .init(thread: UInt32(forkThread), eventIndex: forkIndex)
            }
            processes.append(TraceProcess(
                id: id, pid: Int32(truncatingIfNeeded: try fields.int64(1)), parent: parent, origin: origin,
                program: try fields.text(4), argv: argv, exitStatus: try fields.optionalInt32(6),
                signal: try fields.optionalInt32(7), note: try fields.text(8), forkPoint: forkPoint))
        }
        let threads = try Row.fetchCursor(db, sql: "SELECT thread, process FROM process_threads ORDER BY thread")
        while let row = try threads.next() {
            let fields = StrictRow(row, record: "process thread")
            let thread = try fields.int(0, in: 0...Int64(UInt32.max))
            let process = try fields.int(1, in: 0...Int64(max(0, processes.count - 1)))
            guard process < processes.count else { throw StoredValueError("a thread names process \(process), which is missing") }
            processes[process].threads.append(UInt32(thread))
        }
        return processes
    }
}
