import Testing
import TraceModel
@testable import BlockCodec

/// Round trips of the touch models on hand-made touch sequences, and a model-1 payload written by the code that
/// coded schema-6 traces.
struct TouchCodecTests {
    /// One executed block and its touches.
    typealias Touch = (page: UInt64, reads: UInt32, writes: UInt32)
    typealias Step = (block: BlockID, touches: [Touch])

    /// Blocks 0-6 with: empty lists, a list of 9 (> 8, so not kept) and one of 40 (past the unary length),
    /// pages either side of 2^32 and at both ends of the address space, an unaligned one, counts 0 and
    /// UInt32.max, and blocks cycling through 2, 3 and 5 distinct lists (5 > the 4 that model 2 keeps).
    static func steps() -> [Step] {
        var steps: [Step] = []
        let high: UInt64 = 0xFFFF_FFFF_FFFF_F000
        for round in 0..<12 {
            let r = UInt64(round)
            steps.append((0, []))
            steps.append((1, [(0x7FFF_F000, 3, 1)]))
            let straddling: UInt64 = round % 2 == 0 ? 0xFFFF_F000 : 0x1_0000_0000
            steps.append((2, [(straddling, 1, 0), (0x40_0000, 0, UInt32.max)]))
            steps.append((3, (0..<9).map { (i: Int) -> Touch in (0x1000 * (UInt64(i) + r), UInt32(i), 1) }))
            let end: UInt64 = round % 3 == 0 ? high : 0
            steps.append((4, [(end, UInt32.max, UInt32.max), (0x1234_5678_9ABC, 1, 0)]))
            let cycling: UInt64 = 0x5000 + 0x1000 * (r % 5)
            steps.append((5, [(cycling, 2, 1), (0x5000, 1, 0)]))
            let long = (0..<40).map { (i: Int) -> Touch in (0x10_0000 + 0x1000 * UInt64(i * i), 1, UInt32(i)) }
            steps.append((6, round % 4 == 3 ? long : []))
            let fresh: UInt64 = 0x2000 + 0x1000 * r
            steps.append((BlockID(round % 7), [(fresh, 1, 0)]))
        }
        return steps
    }

    static func split(_ steps: [Step]) -> (blocks: [BlockID], touches: [DataTouch]) {
        var touches: [DataTouch] = []
        for (index, step) in steps.enumerated() {
            for t in step.touches {
                touches.append(DataTouch(eventIndex: UInt64(index), page: t.page, reads: t.reads, writes: t.writes))
            }
        }
        return (steps.map(\.block), touches)
    }

    /// Codes `steps` in chunks of `chunk` blocks; returns the payloads and each chunk's touch count.
    static func encode(_ steps: [Step], chunk: Int, model: TouchModelVersion) -> [(payload: [UInt8], count: Int)] {
        let (blocks, touches) = split(steps)
        let encoder = TouchStreamEncoder(model: model)
        var out: [(payload: [UInt8], count: Int)] = []
        var start = 0
        var next = 0
        while start < blocks.count {
            let end = min(blocks.count, start + chunk)
            let first = next
            while next < touches.count && touches[next].eventIndex < UInt64(end) { next += 1 }
            let payload = blocks.withUnsafeBufferPointer {
                encoder.encode(blocks: UnsafeBufferPointer(rebasing: $0[start..<end]), firstEventIndex: UInt64(start),
                               touches: touches[first..<next])
            }
            out.append((payload, next - first))
            start = end
        }
        return out
    }

    static func decode(_ chunks: [(payload: [UInt8], count: Int)], blocks: [BlockID], chunk: Int,
                       model: TouchModelVersion) throws -> [DataTouch] {
        let decoder = TouchStreamDecoder(model: model)
        var out: [DataTouch] = []
        for (i, c) in chunks.enumerated() {
            let start = i * chunk
            let ids = Array(blocks[start..<min(blocks.count, start + chunk)])
            out += try c.payload.withUnsafeBytes {
                try decoder.decode($0, blocks: ids, firstEventIndex: UInt64(start), count: c.count)
            }
        }
        return out
    }

    @Test(arguments: TouchModelVersion.allCases, [1, 7, 1000])
    func handMadeTouchesRoundTrip(model: TouchModelVersion, chunk: Int) throws {
        let steps = Self.steps()
        let (blocks, touches) = Self.split(steps)
        #expect(blocks.count == 96)
        #expect(touches.count == 12 * (0 + 1 + 2 + 9 + 2 + 2 + 1) + 3 * 40)
        let chunks = Self.encode(steps, chunk: chunk, model: model)
        #expect(try Self.decode(chunks, blocks: blocks, chunk: chunk, model: model) == touches)
    }

    /// Model 2 codes a block cycling through 2 or 3 lists as a choice among its kept lists: after the cycle is
    /// known, each execution costs a fraction of a byte, where model 1 codes a page every time.
    @Test func cyclingListsCostLessUnderModel2() {
        var steps: [Step] = []
        for i in 0..<3000 {
            steps.append((0, [(0x1000 * UInt64(1 + i % 3), 1, 1), (0x9000, 2, 0)]))
            steps.append((1, [(0x20000 + 0x1000 * UInt64(i % 2), 1, 0)]))
        }
        let model1 = Self.encode(steps, chunk: 6000, model: .lastList)[0].payload.count
        let model2 = Self.encode(steps, chunk: 6000, model: .listHistory)[0].payload.count
        #expect(model2 * 10 < model1)
        #expect(model2 < 100)
    }

    /// Model 2's list choice sees which kept lists hold the thread's most recent pages. Block 1 touches object A
    /// or B (a coin flip), block 2 page C or D (another), then block 0 touches block 1's object again. Block 0's
    /// choice (repeat its front list or the older one) is a coin flip for its own history and for block 2's
    /// choice, but the page block 1 just touched names it. So block 0 costs next to nothing and the payload is
    /// close to the two coins' 2 x 3000 bits (750 bytes): 789 bytes, where without that context (the
    /// model before it) block 0 costs about a bit a time too: 1179 bytes.
    @Test func theRecentPagesNameTheListAnObjectIsIn() throws {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func coin() -> Bool {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 63 == 1
        }
        var steps: [Step] = []
        for _ in 0..<3000 {
            let object: UInt64 = coin() ? 0xA000 : 0xB000
            steps.append((1, [(object, 1, 0)]))
            steps.append((2, [(coin() ? 0xC000 : 0xD000, 1, 0)]))
            steps.append((0, [(object, 2, 1), (0x9000, 1, 0)]))
        }
        let (blocks, touches) = Self.split(steps)
        let chunks = Self.encode(steps, chunk: 9000, model: .listHistory)
        #expect(try Self.decode(chunks, blocks: blocks, chunk: 9000, model: .listHistory) == touches)
        #expect(chunks[0].payload.count > 750 && chunks[0].payload.count < 850)
    }

    /// A linear congruential generator: the tests' coin flips and draws, the same on every machine.
    struct Draws {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    /// Blocks whose pages come from a pool of 48 objects (more than the 32 recent pages model 2 keeps, so some
    /// have fallen out of them, and more than a block's 4 kept lists) on both sides of 2^32, with lists of 0-3
    /// pages, counts from 0 to UInt32.max, and a block that runs its lists in changing roles: every path of model
    /// 2's page coding (last list, older list, recent page by role, far page, number of pages) and its choice.
    static func poolSteps(rounds: Int) -> [Step] {
        var draws = Draws()
        let pool = (0..<48).map { (i: Int) -> UInt64 in (i % 2 == 0 ? 0xFFFF_0000 : 0x1_0000_0000) + UInt64(i) * 0x3_7000 }
        let counts: [UInt32] = [0, 1, 2, 7, UInt32.max]
        var steps: [Step] = []
        for _ in 0..<rounds {
            let x = pool[draws.next(48)], y = pool[draws.next(48)]
            steps.append((1, [(x, 1, 0)]))
            steps.append((2, [(y, counts[draws.next(5)], counts[draws.next(5)])]))
            steps.append((3, (0..<draws.next(4)).map { _ in (pool[draws.next(48)], 1, UInt32.max) }))
            steps.append((4, []))
            steps.append((0, draws.next(2) == 0 ? [(x, 2, 1), (0x9000, 1, 0)] : [(y, 2, 1), (0x9000, 1, 0), (x, 0, 0)]))
        }
        return steps
    }

    @Test(arguments: TouchModelVersion.allCases, [1, 9, 5000])
    func poolTouchesRoundTrip(model: TouchModelVersion, chunk: Int) throws {
        let steps = Self.poolSteps(rounds: 1000)
        let (blocks, touches) = Self.split(steps)
        #expect(blocks.count == 5000)
        let chunks = Self.encode(steps, chunk: chunk, model: model)
        #expect(try Self.decode(chunks, blocks: blocks, chunk: chunk, model: model) == touches)
    }

    /// Model 2 keeps the pages that fell out of its 32 recent pages in a ring and codes one that comes back as its
    /// place there. Block 0 cycles through 64 objects in a shuffled order (multiples of 4 GiB apart), block 1
    /// touches a page of its own: each of
    /// block 0's pages left the recent pages 31 objects ago, so the ring codes it in a few bits where a number of
    /// pages from the last one costs 20 to 40: 2084 bytes, where without the ring 10076.
    @Test func theFarPagesNameAPageThatLeftTheRecentOnes() throws {
        var draws = Draws()
        var order = Array(0..<64)
        for i in (1..<64).reversed() { order.swapAt(i, draws.next(i + 1)) }
        var steps: [Step] = []
        for i in 0..<3000 {
            steps.append((0, [(UInt64(order[i % 64]) << 32 | 0x5000, 1, 0)]))
            steps.append((1, [(0x9000, 1, 1)]))
        }
        let (blocks, touches) = Self.split(steps)
        let chunks = Self.encode(steps, chunk: 6000, model: .listHistory)
        #expect(try Self.decode(chunks, blocks: blocks, chunk: 6000, model: .listHistory) == touches)
        #expect(chunks[0].payload.count > 1800 && chunks[0].payload.count < 2400)
    }

    /// Model 2 remembers where among the recent pages each position of a block's new list was (its role). Blocks
    /// 1 and 2 touch new objects X and Y (the page after their last), blocks 3-5 pages of their own, then block 6 touches Y (4th
    /// most recent page then) and block 0 X (5th). Without roles both blocks share one context for "which recent
    /// page", which sees 3 and 4 in turn; with them each block's is certain: 807 bytes, where without roles 3036.
    @Test func theRolesNameTheRecentPageABlockTouches() throws {
        var steps: [Step] = []
        for i in 0..<3000 {
            let x = 0x10_0000 + 0x1000 * UInt64(i), y = 0x4000_0000 + 0x1000 * UInt64(i)
            steps.append((1, [(x, 1, 0)]))
            steps.append((2, [(y, 1, 0)]))
            for b in 3...5 { steps.append((BlockID(b), [(0x1000 * UInt64(b), 1, 0)])) }
            steps.append((6, [(y, 2, 0)]))
            steps.append((0, [(x, 0, 1)]))
        }
        let (blocks, touches) = Self.split(steps)
        let chunks = Self.encode(steps, chunk: 21000, model: .listHistory)
        #expect(try Self.decode(chunks, blocks: blocks, chunk: 21000, model: .listHistory) == touches)
        #expect(chunks[0].payload.count > 700 && chunks[0].payload.count < 1000)
    }

    /// A payload of model 1 as the code of schema-6 traces wrote it (commit 53c3795, TouchStreamEncoder of
    /// `steps()` in one chunk): model 1 must keep decoding it to the same touches.
    @Test func aModel1PayloadOfSchema6StillDecodes() throws {
        let (blocks, touches) = Self.split(Self.steps())
        let decoded = try Self.model1Payload.withUnsafeBytes {
            try TouchStreamDecoder(model: .lastList).decode($0, blocks: blocks, firstEventIndex: 0, count: touches.count)
        }
        #expect(decoded == touches)
        #expect(Self.encode(Self.steps(), chunk: 1000, model: .lastList)[0].payload == Self.model1Payload)
    }

    @Test func aTruncatedModel2PayloadFails() {
        let steps = Self.steps()
        let (blocks, touches) = Self.split(steps)
        let payload = Self.encode(steps, chunk: 1000, model: .listHistory)[0].payload
        #expect(throws: BlockCodecError.self) {
            try Array(payload.prefix(payload.count / 2)).withUnsafeBytes {
                try TouchStreamDecoder(model: .listHistory).decode($0, blocks: blocks, firstEventIndex: 0, count: touches.count)
            }
        }
    }

    /// Printed by commit 53c3795's TouchStreamEncoder for `steps()` in one chunk (557 bytes).
    static let model1Payload: [UInt8] = [
        0x92, 0xAA, 0x00, 0x2A, 0x9F, 0xFE, 0xDC, 0x52, 0x48, 0xB9, 0x57, 0x2C, 0x0F, 0xDC, 0xC2, 0xA2, 0x10, 0x2A, 0xB8, 0x01, 0x4D, 0x00, 0x00, 0x00,
        0x00, 0x34, 0xD2, 0xF6, 0xEE, 0xB6, 0xB9, 0x07, 0xB5, 0x09, 0x02, 0x6A, 0x04, 0xEB, 0xFF, 0xDA, 0x93, 0xA0, 0x00, 0x1A, 0x90, 0x00, 0x00, 0x09,
        0x7C, 0xD1, 0xA5, 0xFA, 0x01, 0x9A, 0x3D, 0xC7, 0x87, 0x85, 0x99, 0x99, 0x99, 0x9D, 0xB5, 0x01, 0xD4, 0x0C, 0x97, 0x74, 0x1A, 0x30, 0xA4, 0x7C,
        0xE5, 0x43, 0x50, 0x81, 0x00, 0xD9, 0x2A, 0x2E, 0x2C, 0x49, 0xE3, 0x5C, 0x4A, 0xA7, 0x0C, 0x17, 0x7D, 0xDC, 0x9C, 0xEA, 0x85, 0x1B, 0x1E, 0x6C,
        0xB2, 0x10, 0xEB, 0xB5, 0x39, 0xAB, 0x9B, 0x83, 0x4C, 0x6A, 0xCD, 0x54, 0xC8, 0xF0, 0x77, 0xBF, 0xCE, 0xD6, 0x00, 0xCC, 0x9D, 0x82, 0x54, 0xD5,
        0x73, 0x25, 0xB4, 0x00, 0x63, 0x72, 0x89, 0x9F, 0x40, 0xCE, 0x00, 0x4C, 0xE9, 0x5E, 0xF4, 0x47, 0x59, 0x2A, 0xB4, 0xEB, 0xDA, 0xE4, 0x07, 0xA0,
        0x4C, 0x45, 0x69, 0x8E, 0xD5, 0x36, 0x39, 0x1B, 0x81, 0x4C, 0x1E, 0x49, 0x41, 0x73, 0x14, 0x58, 0x34, 0x58, 0xE7, 0x35, 0xCF, 0x64, 0x1C, 0xAB,
        0x5F, 0x53, 0x34, 0xB6, 0x8D, 0xA1, 0x11, 0x97, 0x07, 0x65, 0x91, 0x65, 0x36, 0x15, 0xD3, 0xB4, 0x52, 0xCB, 0x7E, 0xCC, 0x65, 0x6A, 0x95, 0x47,
        0xBB, 0x75, 0x21, 0xC8, 0xF2, 0x3F, 0xB0, 0xF5, 0x66, 0x6C, 0xF6, 0x9A, 0x18, 0xD1, 0x67, 0x95, 0x60, 0x4C, 0xF4, 0xB4, 0xD7, 0x1A, 0x1B, 0xEF,
        0xB2, 0xB9, 0x28, 0x1A, 0x62, 0x4C, 0x0C, 0xB4, 0xAD, 0x34, 0x07, 0x7C, 0x00, 0x99, 0x6B, 0xF7, 0x54, 0xEA, 0x9A, 0xCB, 0x38, 0x3A, 0x4B, 0x23,
        0xFC, 0xF5, 0x72, 0xD6, 0xEE, 0x53, 0x5B, 0xE9, 0x2C, 0x8F, 0x79, 0xF3, 0x0E, 0x11, 0x3E, 0x3D, 0x95, 0xF4, 0x1D, 0xDF, 0x22, 0x09, 0x01, 0x53,
        0xC9, 0x06, 0xB2, 0xE8, 0x11, 0x5B, 0x52, 0xDC, 0x3D, 0x67, 0xFE, 0xCC, 0x86, 0x9F, 0x79, 0x4D, 0xB8, 0x95, 0x95, 0x7E, 0xBE, 0x11, 0xAA, 0xE9,
        0x1B, 0x68, 0xD8, 0xD7, 0xA1, 0xAF, 0x15, 0xC4, 0x73, 0x65, 0xE5, 0xC6, 0xEC, 0x3A, 0x43, 0xA1, 0xEB, 0x2F, 0x07, 0x22, 0x87, 0x5A, 0x1B, 0x8D,
        0x5D, 0xCE, 0xF7, 0x79, 0x7B, 0xA0, 0x1B, 0x66, 0x8C, 0xC9, 0xCA, 0x5C, 0x51, 0x1C, 0x6A, 0xD1, 0x3F, 0x74, 0xE2, 0x0C, 0x64, 0x1A, 0xC2, 0x86,
        0x7E, 0x07, 0xEB, 0xF0, 0xBF, 0x8F, 0xF7, 0xF1, 0x90, 0x1B, 0x40, 0xF8, 0x56, 0x20, 0x7F, 0x1F, 0x18, 0x2A, 0xD7, 0x27, 0x41, 0x5D, 0x5C, 0x75,
        0x39, 0x23, 0xEB, 0xFE, 0x78, 0x72, 0xC7, 0x36, 0x7B, 0x18, 0x9D, 0x68, 0xD2, 0x6F, 0x96, 0x52, 0xBB, 0xCA, 0x76, 0x0C, 0x05, 0x16, 0xEB, 0x37,
        0x9B, 0x3D, 0xFE, 0xF5, 0xD7, 0x85, 0xCE, 0xBA, 0x59, 0xC9, 0xEC, 0xE7, 0x02, 0x0F, 0xEE, 0x18, 0xF3, 0xF1, 0x3A, 0x22, 0x0D, 0x10, 0x20, 0x2A,
        0xBB, 0xA4, 0x38, 0x8F, 0xFC, 0x41, 0x5E, 0xEE, 0x5A, 0xEA, 0xC7, 0x15, 0x8C, 0x7E, 0x61, 0xC3, 0x03, 0xF1, 0x94, 0xCD, 0x50, 0x51, 0xD9, 0xF8,
        0x91, 0x97, 0x90, 0xE3, 0x15, 0x3E, 0x0E, 0x00, 0x35, 0x29, 0xDD, 0xEE, 0x0A, 0xA4, 0x72, 0x47, 0x21, 0xC8, 0x4C, 0xDF, 0x7D, 0x57, 0x33, 0x46,
        0xFB, 0x60, 0xED, 0xA5, 0xD1, 0x09, 0x05, 0xB4, 0xDA, 0x3C, 0x21, 0x30, 0xC2, 0xBC, 0x46, 0x4E, 0xE1, 0x71, 0x87, 0xD4, 0x30, 0x61, 0x10, 0xED,
        0x39, 0xD8, 0xB1, 0x80, 0x83, 0x1A, 0xC2, 0x7E, 0x76, 0x22, 0x34, 0xC3, 0x8A, 0xD7, 0x55, 0x9B, 0xC3, 0x16, 0x69, 0x39, 0x4A, 0x8E, 0x1A, 0xCA,
        0xD9, 0x5D, 0xDC, 0x89, 0x79, 0x7F, 0xB5, 0xA4, 0x8B, 0x84, 0x8E, 0x5D, 0x21, 0xDF, 0x42, 0xF2, 0xC5, 0xFF, 0x88, 0x70, 0x2F, 0xF3, 0x00, 0xBE,
        0xFE, 0x99, 0xB9, 0x9E, 0x52, 0xB3, 0x0A, 0x23, 0x89, 0xFD, 0xEE, 0x82, 0x6E, 0xFF, 0x03, 0x3D, 0xA4, 0x00, 0x21, 0x44, 0xC3, 0x4C, 0xDB, 0xF6,
        0xDC, 0x5C, 0x34, 0xEC, 0x00,
    ]
}
