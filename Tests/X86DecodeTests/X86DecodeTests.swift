// X86DecodeTests: tests for X86Decode.
