import Testing
@testable import Replay
import TraceModel

/// `SiteOrder` radix-sorts every block's exit and entry sites by address; equal addresses keep key order.
@Suite struct SiteOrderTests {
    @Test(arguments: [1, 2, 3])
    func sitesComeInAddressThenKeyOrder(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        // Few distinct addresses far apart (high bits differ, so every radix pass runs), with blocks whose
        // start is another block's exit site.
        let bases: [UInt64] = [0x40_1000, 0x7f12_3456_7000, 0xffff_ffff_ffff_f000, 0x8000_0000]
        var definitions: [BlockDefinition] = []
        for _ in 0..<3000 {
            let address = bases.randomElement(using: &rng)! &+ UInt64.random(in: 0..<64, using: &rng)
            let length = UInt32.random(in: 1...12, using: &rng)
            definitions.append(BlockDefinition(address: address, length: length, instructionCount: 1, codeVersion: 0,
                                               exitKind: .jmp, staticTarget: nil, sensitiveCount: 0, cpuidCount: 0,
                                               bytes: [UInt8](repeating: 0x90, count: Int(length))))
        }
        let table = BlockTable(definitions: definitions, pageSize: 4096) { UInt32($0.address % UInt64($0.length)) }

        let sites = table.siteOrder.sites(table)
        var expected: [(address: UInt64, key: UInt32)] = []
        for block in 0..<table.count {
            expected.append((table.lastInstruction[block], UInt32(block) << 1))
            expected.append((table.address[block], UInt32(block) << 1 | 1))
        }
        expected.sort { ($0.address, $0.key) < ($1.address, $1.key) }
        #expect(sites.keys == expected.map(\.key))
        #expect(sites.addresses == expected.map(\.address))
        #expect(Set(sites.addresses).count < sites.addresses.count)  // equal addresses were there to order
        // Computed once per table.
        #expect(table.siteOrder.sites(table).keys == sites.keys)
    }
}
