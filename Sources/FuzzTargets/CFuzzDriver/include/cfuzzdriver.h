// libFuzzer's driver entry point (compiler-rt, FuzzerDriver.cpp), declared for Swift. It is only referenced
// when the targets are built with -sanitize=fuzzer and -DPLEXLAB_FUZZ (scripts/fuzz.sh), which links it.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
