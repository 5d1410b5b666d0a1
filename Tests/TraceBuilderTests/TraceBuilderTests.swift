// TraceBuilderTests: tests for TraceBuilder.
