import Foundation
@testable import Recorder
import Testing

/// The pieces of a system recording that need no boot: the guest's console, the kernel's symbols, the cpio.
@Suite struct GuestPartsTests {
    @Test func consoleGivesOutputStatusAndPageFaults() {
        let text = "[    0.1] booting\r\nPLEXLAB-READY\r\nhello\r\n\r\nworld\r\nPLEXLAB-PGFAULT 40 116\r\nPLEXLAB-STATUS 3\r\n[ 5.9] reboot: Power down\r\n"
        let console = GuestConsole(text: text)
        #expect(console.output == "hello\n\nworld\n")
        #expect(console.pageFaultsBefore == 40 && console.pageFaultsAfter == 116 && console.pageFaults == 76)
        #expect(console.exitStatus == 3)
        #expect(console.note(window: .command) == "window: command; command exited with status 3; guest pgfault +76")
        #expect(GuestConsole(text: "Kernel panic\r\n").exitStatus == nil)
    }

    @Test func kallsymsLinesGiveThePluginArguments() throws {
        let text = """
        ffffffff819f69b0 T clear_page_rep
        ffffffff81c00080 T entry_SYSCALL_64
        ffffffff82415740 D page_offset_base
        ffffffff83313000 b idt_table
        ffffffff83313000 t not_wanted
        """
        let symbols = try #require(KernelSymbols(kallsyms: text))
        #expect(symbols.pluginArguments == ["syscall=0xffffffff81c00080", "idt=0xffffffff83313000",
                                            "page-offset=0xffffffff82415740", "clear-page=0xffffffff819f69b0"])
        // kptr_restrict shows zeros: refused, as is a list without the IDT.
        #expect(KernelSymbols(kallsyms: text.replacingOccurrences(of: "ffffffff83313000 b", with: "0000000000000000 b")) == nil)
    }

    @Test func cpioEntriesAreNewcWithPadding() {
        var archive = CpioArchive()
        archive.add(.file("a", bytes: [1, 2, 3], executable: true))
        let bytes = archive.finished()
        // 110-byte header, "a\0" padded to 112, 3 data bytes padded to 116; then the trailer.
        let header = String(decoding: bytes[0..<110], as: UTF8.self)
        #expect(header.hasPrefix("070701" + "00000001" + "000081ED"))
        #expect(header.hasSuffix("00000002" + "00000000")) // name size 2, check 0
        #expect(Array(bytes[110..<112]) == [0x61, 0])
        #expect(Array(bytes[112..<116]) == [1, 2, 3, 0])
        #expect(String(decoding: bytes[116..<122], as: UTF8.self) == "070701")
        #expect(bytes.count % 4 == 0)
        #expect(String(decoding: bytes, as: UTF8.self).contains("TRAILER!!!"))
    }
}
