// ReplayTests: tests for Replay.
