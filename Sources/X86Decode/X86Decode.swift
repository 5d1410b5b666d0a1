// X86Decode: see README.md for this module's place in the architecture.
