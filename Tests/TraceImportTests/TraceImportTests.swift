// TraceImportTests: tests for TraceImport.
