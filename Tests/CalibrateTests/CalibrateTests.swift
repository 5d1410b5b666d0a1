// CalibrateTests: tests for Calibrate.
