// RecorderTests: tests for Recorder.
