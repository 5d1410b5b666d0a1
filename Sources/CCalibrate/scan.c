/* The scan kernel: plex86-style recursive descent over real code pages with Zydis. */
#define _GNU_SOURCE
#include "ccalibrate.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <Zydis/Zydis.h>
#include <x86intrin.h>
#include <time.h>

#define CC_SCAN_PAGE 4096u
#define CC_SCAN_MAX_ENTRIES 32u

/* Entry points of well-known libc functions: real compiler-generated code, present on every glibc host. */
static const char *const cc_scan_symbols[] = {
    "vfprintf", "malloc", "free", "qsort", "strtod", "getaddrinfo", "fopen", "fread", "regcomp", "regexec",
    "strftime", "mktime", "sscanf", "realloc", "bsearch", "setlocale", "fnmatch", "glob", "getpwnam",
    "strtol", "fwrite", "opendir", "readdir", "qsort_r", "wcstombs", "mbstowcs", "strerror", "popen",
};

typedef struct {
    uint8_t bytes[CC_SCAN_PAGE];
    uint32_t entry; /* offset of the function's entry in the page */
} cc_scan_page;

static inline uint64_t cc_scan_now(cc_clock clock) {
    if (clock == CC_CLOCK_TSC) {
        _mm_lfence();
        uint64_t t = __rdtsc();
        _mm_lfence();
        return t;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One scan of one page from its entry; returns the number of instructions decoded. */
static uint32_t cc_scan_one(const ZydisDecoder *decoder, const cc_scan_page *page, uint64_t *coverage,
                            uint16_t *pending) {
    memset(coverage, 0, CC_SCAN_PAGE / 8);
    uint32_t decoded = 0, top = 0;
    pending[top++] = (uint16_t)page->entry;
    ZydisDecodedInstruction instruction;
    ZydisDecoderContext context;
    while (top > 0) {
        uint32_t offset = pending[--top];
        while (offset < CC_SCAN_PAGE && !((coverage[offset >> 6] >> (offset & 63)) & 1u)) {
            uint32_t available = CC_SCAN_PAGE - offset < 15 ? CC_SCAN_PAGE - offset : 15;
            if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(decoder, &context, page->bytes + offset, available,
                                                             &instruction)))
                break;
            coverage[offset >> 6] |= (uint64_t)1 << (offset & 63);
            decoded++;
            uint32_t next = offset + instruction.length;
            ZydisInstructionCategory category = instruction.meta.category;
            if (category == ZYDIS_CATEGORY_RET || instruction.mnemonic == ZYDIS_MNEMONIC_HLT ||
                instruction.mnemonic == ZYDIS_MNEMONIC_UD2)
                break;
            int relative = instruction.raw.imm[0].is_relative;
            int64_t target = (int64_t)next + (relative ? instruction.raw.imm[0].value.s : 0);
            int in_page = relative && target >= 0 && target < (int64_t)CC_SCAN_PAGE;
            if (category == ZYDIS_CATEGORY_UNCOND_BR) {
                if (!in_page) break; /* indirect, far or off-page: the scan stops here */
                offset = (uint32_t)target;
                continue;
            }
            if ((category == ZYDIS_CATEGORY_COND_BR || category == ZYDIS_CATEGORY_CALL) && in_page &&
                top < CC_SCAN_PAGE)
                pending[top++] = (uint16_t)target;
            offset = next;
        }
    }
    return decoded;
}

static pthread_mutex_t cc_scan_lock = PTHREAD_MUTEX_INITIALIZER;
static cc_scan_page cc_scan_pages[CC_SCAN_MAX_ENTRIES];
static uint16_t cc_scan_pending[CC_SCAN_PAGE];

int cc_measure_scan(cc_clock clock, uint64_t *decoded_per_region, uint64_t *samples, uint32_t count) {
    if (count == 0) return CC_ERR_ARGUMENT;
    pthread_mutex_lock(&cc_scan_lock);
    uint32_t pages = 0;
    for (size_t i = 0; i < sizeof cc_scan_symbols / sizeof *cc_scan_symbols && pages < CC_SCAN_MAX_ENTRIES; i++) {
        void *function = dlsym(RTLD_DEFAULT, cc_scan_symbols[i]);
        if (!function) continue;
        uintptr_t base = (uintptr_t)function & ~(uintptr_t)(CC_SCAN_PAGE - 1);
        /* A copy, as a monitor scans the guest's bytes; the page is mapped whole (text is page-granular). */
        memcpy(cc_scan_pages[pages].bytes, (const void *)base, CC_SCAN_PAGE);
        cc_scan_pages[pages].entry = (uint32_t)((uintptr_t)function - base);
        pages++;
    }
    if (pages == 0) { pthread_mutex_unlock(&cc_scan_lock); return CC_ERR_SYSTEM; }
    ZydisDecoder decoder;
    ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    uint64_t coverage[CC_SCAN_PAGE / 64];
    uint64_t decoded = 0;
    for (uint32_t s = 0; s < count + 3u; s++) {
        decoded = 0;
        uint64_t t0 = cc_scan_now(clock);
        for (uint32_t p = 0; p < pages; p++)
            decoded += cc_scan_one(&decoder, &cc_scan_pages[p], coverage, cc_scan_pending);
        uint64_t t1 = cc_scan_now(clock);
        if (s >= 3u) samples[s - 3u] = t1 - t0;
    }
    *decoded_per_region = decoded;
    pthread_mutex_unlock(&cc_scan_lock);
    return decoded ? 0 : CC_ERR_MISS;
}

#else

int cc_measure_scan(cc_clock clock, uint64_t *decoded_per_region, uint64_t *samples, uint32_t count) {
    (void)clock; (void)decoded_per_region; (void)samples; (void)count;
    return CC_ERR_UNSUPPORTED;
}

#endif
