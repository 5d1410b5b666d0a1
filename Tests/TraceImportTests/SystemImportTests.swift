import Foundation
import Testing
import TraceModel
import TraceStore
@testable import TraceImport

/// The import format's system-trace records (docs/import-format.md, "System traces") round-trip to the reader.
@Suite struct SystemImportTests {
    static let lines = [
        #"{"type":"meta","arch":"x86_64","program":"getppid","guest_mode":"system","recorder":"hand"}"#,
        // Kernel text: virtual 0xffffffff81000000 is physical 0x1000000; user page 0x401000 is physical 0x77000.
        #"{"type":"map","virtual":"0xffffffff81000000","physical":"0x1000000","pages":2}"#,
        #"{"type":"map","virtual":"0x401000","physical":"0x77000"}"#,
        // 0xffffffff81000000: cli | sti | mov cr3, rax | iretq
        #"{"type":"code","address":"0xffffffff81000000","bytes":"fa fb 0f22d8 48cf"}"#,
        // 0x401000: mov eax, 110 | syscall ; 0x401007: ret
        #"{"type":"code","address":"0x401000","bytes":"b86e000000 0f05 c3"}"#,
        #"{"type":"exec","thread":0,"blocks":["0x401000"]}"#,
        #"{"type":"syscall","thread":0,"number":110}"#,
        #"{"type":"exec","thread":0,"privilege":0,"blocks":["0xffffffff81000000"]}"#,
        #"{"type":"pt_store","thread":0,"address":"0x2345008"}"#,
        #"{"type":"exec","thread":0,"blocks":["0x401007"]}"#,
        #"{"type":"exception","thread":0,"vector":14,"address":"0x402010"}"#,
        #"{"type":"exec","thread":0,"privilege":0,"blocks":["0xffffffff81000000"]}"#,
        #"{"type":"interrupt","thread":0,"vector":236}"#,
        // The same virtual user page now maps elsewhere (another process): a new physical page.
        #"{"type":"map","virtual":"0x401000","physical":"0x99000"}"#,
        #"{"type":"code","address":"0x401000","bytes":"b86e000000 0f05 c3"}"#,
        #"{"type":"exec","thread":0,"blocks":["0x401000"]}"#,
    ]

    @Test func aSystemTraceImportsWithPrivilegePhysicalPagesAndEvents() throws {
        let directory = NSTemporaryDirectory() + "plexlab-sysimport-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = directory + "/system.jsonl"
        try (Self.lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let output = directory + "/system.plextrace"
        let summary = try TraceImporter.importFile(at: input, to: output, overwrite: false)
        #expect(summary.blocksExecuted == 5)
        #expect(summary.systemEvents == 3)
        #expect(summary.syscalls == 1)
        let reader = try TraceReader(path: output)
        #expect(reader.metadata.guestMode == .system)
        let definitions = try reader.blockDefinitions()
        // First-execution order: user 0x401000 (phys 0x77000), the kernel block, user ret, user 0x401000 at 0x99000.
        #expect(definitions.map(\.address) == [0x401000, 0xffff_ffff_8100_0000, 0x401007, 0x401000])
        #expect(definitions.map(\.physicalAddress) == [0x77000, 0x100_0000, 0x77007, 0x99000])
        #expect(definitions.map(\.privilege) == [3, 0, 3, 3])
        #expect(definitions.map(\.exitKind) == [.syscall, .far, .ret, .syscall])
        // cli, sti, mov cr3 are sensitive besides the final iretq.
        #expect(definitions[1].instructionCount == 4)
        #expect(try reader.codePages().map(\.address) == [0x77000, 0x99000, 0x100_0000])
        var blocks: [BlockID] = [], events: [SystemEvent] = [], syscalls: [SyscallEvent] = []
        try reader.forEachChunk {
            blocks += $0.blocks
            events += $0.systemEvents
            syscalls += $0.syscalls
        }
        #expect(blocks == [0, 1, 2, 1, 3])
        #expect(syscalls == [SyscallEvent(eventIndex: 0, number: 110)])
        #expect(events == [
            SystemEvent(eventIndex: 1, kind: .pageTableStore, address: 0x234_5008),
            SystemEvent(eventIndex: 2, kind: .exception, vector: 14, address: 0x40_2010),
            SystemEvent(eventIndex: 3, kind: .interrupt, vector: 236),
        ])
        #expect(try reader.verify().isEmpty)
    }

    @Test func systemRecordsAreCheckedAndRefusedInUserTraces() throws {
        let directory = NSTemporaryDirectory() + "plexlab-sysimport-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let user = #"{"type":"meta","arch":"x86_64","program":"p"}"#
        let system = #"{"type":"meta","arch":"x86_64","program":"p","guest_mode":"system"}"#
        let cases: [([String], String)] = [
            ([user, #"{"type":"map","virtual":"0x1000","physical":"0x2000"}"#],
             #"2: map record in a user-mode trace (the meta record needs "guest_mode": "system")"#),
            ([user, #"{"type":"code","address":"0x1000","bytes":"c3"}"#, #"{"type":"exec","thread":0,"privilege":0,"blocks":["0x1000"]}"#],
             "3: exec privilege 0 in a user-mode trace (user code runs at 3)"),
            ([#"{"type":"meta","arch":"x86_64","program":"p","guest_mode":"hyper"}"#],
             #"1: meta guest_mode "hyper" is not one of user, system"#),
            ([system, #"{"type":"code","address":"0x1000","bytes":"c3"}"#],
             "2: code at 0x1000 lies on a page no map record maps"),
            ([system, #"{"type":"map","virtual":"0x1001","physical":"0x2000"}"#],
             #"2: map "virtual" and "physical" must be 4096-aligned"#),
            ([system, #"{"type":"interrupt","thread":0,"vector":32}"#],
             "2: interrupt record for thread 0 comes before any exec block of that thread"),
            ([system, #"{"type":"map","virtual":"0x1000","physical":"0x2000"}"#,
              #"{"type":"code","address":"0x1000","bytes":"c3"}"#, #"{"type":"exec","thread":0,"blocks":["0x1000"]}"#,
              #"{"type":"exception","thread":0,"vector":14}"#],
             #"5: exception vector 14 (a page fault) needs "address" (CR2)"#),
            ([system, #"{"type":"map","virtual":"0x1000","physical":"0x2000"}"#,
              #"{"type":"code","address":"0x1000","bytes":"c3"}"#, #"{"type":"exec","thread":0,"privilege":4,"blocks":["0x1000"]}"#],
             #"4: exec "privilege" 4 is out of range 0...3"#),
        ]
        for (lines, expected) in cases {
            let input = directory + "/bad.jsonl"
            try (lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
            do {
                _ = try TraceImporter.importFile(at: input, to: directory + "/bad.plextrace", overwrite: true)
                Issue.record("import of \(lines) succeeded")
            } catch {
                #expect(String(describing: error) == input + ":" + expected)
            }
        }
    }
}
