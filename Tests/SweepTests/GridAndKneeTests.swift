import Sweep
import Testing

@Suite struct GridTests {
    @Test func valuesAreCheckedSpeltAsTheReplaySpellsThemAndSorted() throws {
        let grid = try SweepGrid(arguments: ["ibtc-size=4096,16,0064,16", "legacy-policy=map-data,not-present"])
        #expect(grid.keys == ["ibtc-size", "legacy-policy"])
        #expect(grid.axes[0].values == ["16", "64", "4096"])
        #expect(grid.axes[1].values == ["map-data", "not-present"])
        // 3 x 2 combinations over both keys, 3 over ibtc-size alone, one empty one over neither.
        #expect(grid.points(over: ["ibtc-size", "legacy-policy"]).count == 6)
        #expect(grid.points(over: ["ibtc-size", "page-size"]) == [["ibtc-size": "16"], ["ibtc-size": "64"], ["ibtc-size": "4096"]])
        #expect(grid.points(over: ["page-size"]) == [[:]])
    }

    @Test(arguments: [
        (["ibtc-size=100"], [], "--grid: parameter ibtc-size=100: must be a power of two from 1 to 16777216"),
        (["cache=1,2"], [], "--grid: unknown parameter \"cache\" (page-size, ibtc-size, ras-depth, code-cache, legacy-policy)"),
        (["ibtc-size=16,,64"], [], "grid ibtc-size: empty value in \"16,,64\""),
        (["ibtc-size"], [], "grid \"ibtc-size\" is not key=v1,v2,..."),
        (["ras-depth=1", "ras-depth=2"], [], "grid key ras-depth is given twice"),
        (["ras-depth=1,2"], ["ras-depth=4"], "ras-depth is both swept (--grid) and fixed (--param)"),
    ])
    func badGridsAreOneLineErrors(arguments: [String], fixed: [String], message: String) {
        #expect(throws: SweepError(message)) { try SweepGrid(arguments: arguments, fixed: fixed) }
    }
}

@Suite struct KneeTests {
    @Test func theKneeIsTheFirstPointBeyondWhichTheMetricImprovesByAtMostTheFraction() {
        // 100 -> 28.4 at the end: from 30 still 1.6 to gain (> 5 % of 30 = 1.5); from 29 only 0.6 (<= 1.45).
        #expect(Knee.index([100, 50, 30, 29, 28.4], fraction: 0.05) == 3)
        // With 10 %: from 30, 1.6 <= 3.
        #expect(Knee.index([100, 50, 30, 29, 28.4], fraction: 0.10) == 2)
        // A drop after a plateau: the plateau is not the knee.
        #expect(Knee.index([10, 10, 5], fraction: 0.05) == 2)
        // Flat and rising curves: nothing to gain beyond the first point.
        #expect(Knee.index([0, 0, 0], fraction: 0.05) == 0)
        #expect(Knee.index([1, 2, 3], fraction: 0.05) == 0)
        // Fraction 0: the first point that reaches the minimum of what follows.
        #expect(Knee.index([9, 7, 7, 7], fraction: 0) == 1)
    }
}
