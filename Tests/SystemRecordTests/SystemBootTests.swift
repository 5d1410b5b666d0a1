import Foundation
import Recorder
import Testing
import TraceModel
import TraceStore
import X86Decode

/// Boots the default guest once (qemu-system-x86_64 10.x, Debian's kernel, the busybox-static image), runs
/// the page-fault loop, and checks the trace against what the guest kernel itself counted
/// (docs/recorder.md, "System traces"). Skipped, with one line, where the host lacks what it needs.
@Suite("SystemBoot", .serialized)
struct SystemBootTests {
    /// The host check, once: nil when a system recording can run here, else the reason it cannot.
    static let unavailable: String? = {
        do {
            _ = try SystemHost.locate()
            return nil
        } catch {
            let reason = "\(error)"
            print("SystemBoot skipped: \(reason)")
            return reason
        }
    }()

    /// Pages the guest's loop touches: each is one fault the kernel counts and the trace must show.
    static let pages = 300

    @Test(.enabled(if: unavailable == nil))
    func pageFaultLoopInTheGuest() throws {
        let directory = NSTemporaryDirectory() + "plexlab-system-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/boot.plextrace"
        let result = try SystemRecorder.record(SystemRecordOptions(
            output: path, command: ["/bin/plexlab-pagefault", String(Self.pages)]))

        #expect(result.console.exitStatus == 0)
        #expect(result.console.output == "pagefault \(Self.pages) pages touched\n")
        #expect(result.record.metadata.complete)

        let reader = try TraceReader(path: path)
        #expect(reader.metadata.guestMode == .system)
        let definitions = try reader.blockDefinitions()
        var executed = [UInt64](repeating: 0, count: definitions.count)
        var events: [SystemEvent] = []
        var syscalls: [SyscallEvent] = []
        try reader.forEachChunk { chunk in
            for block in chunk.blocks { executed[Int(block)] += 1 }
            events += chunk.systemEvents
            syscalls += chunk.syscalls
        }

        // Kernel and user blocks: privilege from the half of the address space, physical address on every block.
        let ran = definitions.indices.filter { executed[$0] > 0 }.map { definitions[$0] }
        let kernel = ran.filter { $0.privilege == 0 }, user = ran.filter { $0.privilege == 3 }
        #expect(!kernel.isEmpty && !user.isEmpty)
        #expect(kernel.allSatisfy { $0.address >= 0xFFFF_8000_0000_0000 })
        #expect(user.allSatisfy { $0.address < 0x8000_0000_0000 })
        #expect(ran.allSatisfy { $0.physicalAddress.map { $0 & 0xFFF == $0 & 0xFFF } ?? false })
        #expect(ran.allSatisfy { ($0.physicalAddress ?? 0) & 0xFFF == $0.address & 0xFFF })

        // Privileged instructions: the syscall path's swapgs and sysret (or iret) run in kernel blocks only.
        let kernelMnemonics = Self.mnemonics(kernel), userMnemonics = Self.mnemonics(user)
        #expect(kernelMnemonics.contains("swapgs"))
        #expect(kernelMnemonics.contains("sysret") || kernelMnemonics.contains("iretq"))
        #expect(userMnemonics.isDisjoint(with: ["swapgs", "sysret", "iretq", "cli", "sti", "hlt", "wrmsr", "invlpg"]))

        // Interrupts: the local APIC timer (vector 0xEC) ticks at 250 Hz while the loop runs.
        let interrupts = events.filter { $0.kind == .interrupt }
        #expect(interrupts.contains { $0.vector == 0xEC })
        // The workload's syscalls are in the trace: mmap, write (its line) and exit_group at least.
        let numbers = Set(syscalls.map(\.number))
        #expect(numbers.isSuperset(of: [9, 1, 231]))

        // Page faults against the guest kernel's own count (/proc/vmstat pgfault, read by the init just
        // outside the window): docs/recorder.md, "Page faults against the guest's count". The kernel also
        // counts the fault execve takes, without a #PF, when it copies the arguments onto the new stack
        // (get_user_pages: one page for a short command line); every other counted fault is a #PF here.
        let pageFaults = events.filter(\.isPageFault)
        let counted = try #require(result.console.pageFaults)
        let execs = syscalls.filter { $0.number == 59 }.count
        #expect(execs == 1)
        #expect(pageFaults.count >= Self.pages)
        #expect(pageFaults.count + execs == counted, "guest counted \(counted), trace has \(pageFaults.count) #PF")
        #expect(pageFaults.allSatisfy { $0.address != 0 })
    }

    /// The syscall loop: the trace's getppid calls against the workload's own count, and its page faults
    /// against the guest kernel's, on a second boot.
    @Test(.enabled(if: unavailable == nil))
    func syscallLoopInTheGuest() throws {
        let directory = NSTemporaryDirectory() + "plexlab-system-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/getppid.plextrace"
        let result = try SystemRecorder.record(SystemRecordOptions(output: path, command: ["/bin/plexlab-getppid", "300"]))
        #expect(result.console.output == "getppid 300 syscalls (1)\n")
        var syscalls: [SyscallEvent] = [], pageFaults = 0
        try TraceReader(path: path).forEachChunk { chunk in
            syscalls += chunk.syscalls
            pageFaults += chunk.systemEvents.filter(\.isPageFault).count
        }
        // getppid is x86-64 syscall 110: exactly the loop's calls (the static binary's start-up makes none).
        #expect(syscalls.filter { $0.number == 110 }.count == 300)
        #expect(syscalls.filter { $0.number == 59 }.count == 1)
        #expect(pageFaults + 1 == result.console.pageFaults)
    }

    static func mnemonics(_ blocks: [BlockDefinition]) -> Set<String> {
        let decoder = X86Decoder(arch: .x86_64)
        var names: Set<String> = []
        for block in blocks {
            block.bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count, let instruction = decoder.decode(UnsafeRawBufferPointer(rebasing: raw[offset...]),
                                                                          at: block.address &+ UInt64(offset)) {
                    names.insert(instruction.mnemonic)
                    offset += instruction.length
                }
            }
        }
        return names
    }
}
