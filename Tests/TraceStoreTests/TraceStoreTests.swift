// TraceStoreTests: tests for TraceStore.
