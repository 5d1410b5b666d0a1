// GateTests: tests for Gate.
