/* Measurement kernels for plexlab calibrate (see include/ccalibrate.h for the contract). */
#define _GNU_SOURCE
#include "ccalibrate.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#define CC_X86_64 1
#else
#define CC_X86_64 0
#endif

/* Untimed regions before the timed ones: page in the handler, the table, the loop. */
#define CC_WARMUP 3u

/* One kernel at a time per process: the signal handlers and their state below are process-wide. */
static pthread_mutex_t cc_lock = PTHREAD_MUTEX_INITIALIZER;

int cc_is_x86_64(void) { return CC_X86_64; }

#if CC_X86_64

static int cc_has_rdtscp(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000001u, &a, &b, &c, &d)) return 0;
    return (d >> 27) & 1u;
}

int cc_tsc_invariant(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000007u, &a, &b, &c, &d)) return 0;
    return (d >> 8) & 1u;
}

int cc_hypervisor_present(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1u, &a, &b, &c, &d)) return 0;
    return (c >> 31) & 1u;
}

/* Set once by cc_tsc_status; read by the timer. 0 = unknown, 1 = rdtscp, 2 = lfence; rdtsc. */
static volatile int cc_tsc_flavor = 0;

static inline uint64_t cc_tsc_start(void) {
    /* lfence before and after: earlier work finished, later work not yet started. */
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
}

static inline uint64_t cc_tsc_end(void) {
    if (cc_tsc_flavor == 1) {
        unsigned aux;
        uint64_t t = __rdtscp(&aux); /* waits for earlier instructions */
        _mm_lfence();
        return t;
    }
    return cc_tsc_start();
}

int cc_tsc_status(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1u, &a, &b, &c, &d) || !((d >> 4) & 1u)) return CC_TSC_NO_CPUID_FLAG;
    int mode = 0;
    if (prctl(PR_GET_TSC, &mode, 0, 0, 0) == 0 && mode == PR_TSC_SIGSEGV) return CC_TSC_DISABLED;
    uint64_t t0 = __rdtsc();
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
    uint64_t t1 = __rdtsc();
    if (t1 <= t0) return CC_TSC_NOT_ADVANCING;
    cc_tsc_flavor = cc_has_rdtscp() ? 1 : 2;
    return CC_TSC_OK;
}

static uint64_t cc_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double cc_tsc_ticks_per_ns(uint64_t duration_ns) {
    if (cc_tsc_status() != CC_TSC_OK) return 0;
    uint64_t n0 = cc_ns(CLOCK_MONOTONIC_RAW), t0 = cc_tsc_start(), n1;
    do { n1 = cc_ns(CLOCK_MONOTONIC_RAW); } while (n1 - n0 < duration_ns);
    uint64_t t1 = cc_tsc_end();
    return (double)(t1 - t0) / (double)(n1 - n0);
}

static inline uint64_t cc_start(cc_clock clock) {
    return clock == CC_CLOCK_TSC ? cc_tsc_start() : cc_ns(CLOCK_MONOTONIC);
}

static inline uint64_t cc_end(cc_clock clock) {
    return clock == CC_CLOCK_TSC ? cc_tsc_end() : cc_ns(CLOCK_MONOTONIC);
}

/* Validates arguments and makes sure the TSC flavor is known before a TSC-timed kernel. */
static int cc_begin(cc_clock clock, uint32_t inner, uint32_t count) {
    if (inner == 0 || count == 0) return CC_ERR_ARGUMENT;
    if (clock == CC_CLOCK_TSC && cc_tsc_flavor == 0 && cc_tsc_status() != CC_TSC_OK) return CC_ERR_UNSUPPORTED;
    pthread_mutex_lock(&cc_lock);
    return 0;
}

static void cc_finish(void) { pthread_mutex_unlock(&cc_lock); }

int cc_measure_timer_overhead(cc_clock clock, uint64_t *samples, uint32_t count) {
    int rc = cc_begin(clock, 1, count);
    if (rc) return rc;
    for (uint32_t s = 0; s < count + CC_WARMUP; s++) {
        uint64_t t0 = cc_start(clock);
        uint64_t t1 = cc_end(clock);
        if (s >= CC_WARMUP) samples[s - CC_WARMUP] = t1 - t0;
    }
    cc_finish();
    return 0;
}

/* ---- int3 ---------------------------------------------------------------------------------- */

static struct sigaction cc_old_trap;
static volatile uintptr_t cc_int3_resume; /* the address right after the int3 being executed */
static volatile uint64_t cc_traps;

static void cc_trap_handler(int sig, siginfo_t *info, void *context) {
    (void)info;
    ucontext_t *uc = context;
    /* #BP is a trap: RIP already points past the int3, so returning resumes after it. */
    if ((uintptr_t)uc->uc_mcontext.gregs[REG_RIP] == cc_int3_resume) {
        cc_traps++;
        return;
    }
    /* Not ours: hand it to whoever had SIGTRAP before. */
    sigaction(SIGTRAP, &cc_old_trap, NULL);
    raise(sig);
}

static inline void cc_int3(void) {
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n\t"
                     "int3\n"
                     "1:\n"
                     : "=m"(cc_int3_resume)
                     :
                     : "rax", "memory");
}

int cc_measure_int3(cc_clock clock, uint32_t inner, uint64_t *samples, uint32_t count) {
    int rc = cc_begin(clock, inner, count);
    if (rc) return rc;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = cc_trap_handler;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGTRAP, &action, &cc_old_trap) != 0) { cc_finish(); return CC_ERR_SYSTEM; }
    cc_traps = 0;
    for (uint32_t s = 0; s < count + CC_WARMUP; s++) {
        uint64_t t0 = cc_start(clock);
        for (uint32_t i = 0; i < inner; i++) cc_int3();
        uint64_t t1 = cc_end(clock);
        if (s >= CC_WARMUP) samples[s - CC_WARMUP] = t1 - t0;
    }
    sigaction(SIGTRAP, &cc_old_trap, NULL);
    rc = cc_traps == (uint64_t)(count + CC_WARMUP) * inner ? 0 : CC_ERR_NO_TRAP;
    cc_finish();
    return rc;
}

/* ---- page faults ---------------------------------------------------------------------------- */

static struct sigaction cc_old_segv;
static char *volatile cc_region;
static volatile size_t cc_region_bytes;
static volatile size_t cc_page_bytes;
static volatile int cc_handler_prot; /* what the SIGSEGV handler grants the faulting page */
static volatile uint64_t cc_faults;

static void cc_segv_handler(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)context;
    char *address = info->si_addr;
    if (cc_region && address >= cc_region && address < cc_region + cc_region_bytes) {
        char *page = (char *)((uintptr_t)address & ~(uintptr_t)(cc_page_bytes - 1));
        if (mprotect(page, cc_page_bytes, cc_handler_prot) == 0) {
            cc_faults++;
            return; /* the faulting access runs again, now allowed */
        }
    }
    /* Not ours (or mprotect failed): restore the previous disposition; the access faults again there. */
    sigaction(SIGSEGV, &cc_old_segv, NULL);
}

/* Maps `pages` populated read-write pages and installs the SIGSEGV handler. */
static int cc_region_open(uint32_t pages, int handler_prot) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t bytes = page * pages;
    char *region = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) return CC_ERR_SYSTEM;
    /* Never let the kernel back it with one huge page: every page must be its own 4 KiB mapping. */
    madvise(region, bytes, MADV_NOHUGEPAGE);
    memset(region, 1, bytes); /* present pages: the faults measured are protection faults only */
    cc_page_bytes = page;
    cc_region_bytes = bytes;
    cc_handler_prot = handler_prot;
    cc_faults = 0;
    cc_region = region;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = cc_segv_handler;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSEGV, &action, &cc_old_segv) != 0) {
        cc_region = NULL;
        munmap(region, bytes);
        return CC_ERR_SYSTEM;
    }
    return 0;
}

static void cc_region_close(void) {
    sigaction(SIGSEGV, &cc_old_segv, NULL);
    char *region = cc_region;
    cc_region = NULL;
    munmap(region, cc_region_bytes);
}

/* Times `pages` accesses (reads or stores) that each fault once; the handler grants `grant`. */
static int cc_measure_faults(cc_clock clock, uint32_t pages, uint64_t *samples, uint32_t count, int protect,
                             int grant, int store) {
    int rc = cc_begin(clock, pages, count);
    if (rc) return rc;
    rc = cc_region_open(pages, grant);
    if (rc) { cc_finish(); return rc; }
    char *region = cc_region;
    size_t page = cc_page_bytes;
    uint64_t sink = 0;
    for (uint32_t s = 0; s < count + CC_WARMUP; s++) {
        if (mprotect(region, cc_region_bytes, protect) != 0) { rc = CC_ERR_SYSTEM; break; }
        uint64_t t0 = cc_start(clock);
        if (store) {
            for (uint32_t p = 0; p < pages; p++) *(volatile char *)(region + (size_t)p * page) = (char)s;
        } else {
            for (uint32_t p = 0; p < pages; p++) sink += *(volatile char *)(region + (size_t)p * page);
        }
        uint64_t t1 = cc_end(clock);
        if (s >= CC_WARMUP) samples[s - CC_WARMUP] = t1 - t0;
    }
    (void)sink;
    if (rc == 0 && cc_faults != (uint64_t)(count + CC_WARMUP) * pages) rc = CC_ERR_NO_TRAP;
    cc_region_close();
    cc_finish();
    return rc;
}

int cc_measure_page_fault(cc_clock clock, uint32_t pages, uint64_t *samples, uint32_t count) {
    return cc_measure_faults(clock, pages, samples, count, PROT_NONE, PROT_READ, 0);
}

int cc_measure_write_fault(cc_clock clock, uint32_t pages, uint64_t *samples, uint32_t count) {
    return cc_measure_faults(clock, pages, samples, count, PROT_READ, PROT_READ | PROT_WRITE, 1);
}

int cc_measure_mprotect(cc_clock clock, uint32_t pages, uint64_t *samples, uint32_t count) {
    int rc = cc_begin(clock, pages, count);
    if (rc) return rc;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t bytes = page * pages;
    char *region = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) { cc_finish(); return CC_ERR_SYSTEM; }
    madvise(region, bytes, MADV_NOHUGEPAGE);
    memset(region, 1, bytes);
    for (uint32_t s = 0; s < count + CC_WARMUP && rc == 0; s++) {
        if (mprotect(region, bytes, PROT_NONE) != 0) { rc = CC_ERR_SYSTEM; break; }
        uint64_t t0 = cc_start(clock);
        for (uint32_t p = 0; p < pages; p++) {
            if (mprotect(region + (size_t)p * page, page, PROT_READ) != 0) rc = CC_ERR_SYSTEM;
        }
        uint64_t t1 = cc_end(clock);
        if (s >= CC_WARMUP) samples[s - CC_WARMUP] = t1 - t0;
    }
    munmap(region, bytes);
    cc_finish();
    return rc;
}

/* ---- syscall, cpuid ------------------------------------------------------------------------- */

int cc_measure_syscall(cc_clock clock, uint32_t inner, uint64_t *samples, uint32_t count) {
    int rc = cc_begin(clock, inner, count);
    if (rc) return rc;
    long sink = 0;
    for (uint32_t s = 0; s < count + CC_WARMUP; s++) {
        uint64_t t0 = cc_start(clock);
        for (uint32_t i = 0; i < inner; i++) sink += syscall(SYS_getppid);
        uint64_t t1 = cc_end(clock);
        if (s >= CC_WARMUP) samples[s - CC_WARMUP] = t1 - t0;
    }
    (void)sink;
    cc_finish();
    return 0;
}

int cc_measure_cpuid(cc_clock clock, uint32_t inner, uint64_t *samples, uint32_t count) {
    int rc = cc_begin(clock, inner, count);
    if (rc) return rc;
    for (uint32_t s = 0; s < count + CC_WARMUP; s++) {
        uint64_t t0 = cc_start(clock);
        for (uint32_t i = 0; i < inner; i++) {
            unsigned a = 0, b, c = 0, d;
            __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
        }
        uint64_t t1 = cc_end(clock);
        if (s >= CC_WARMUP) samples[s - CC_WARMUP] = t1 - t0;
    }
    cc_finish();
    return 0;
}

/* ---- IBTC lookup and return-address stack ---------------------------------------------------- */

static inline uint64_t cc_xorshift(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

typedef struct {
    uint64_t guest; /* tag: the guest target address */
    uint64_t host;  /* the translated code's address */
} cc_ibtc_entry;

static inline uint32_t cc_ibtc_slot(uint64_t guest) {
    return (uint32_t)((guest ^ (guest >> 12)) & (CC_IBTC_ENTRIES - 1));
}

/* Kept opaque to the optimizer: ANDing a loaded value with it creates a real data dependency. */
static volatile uint64_t cc_zero = 0;

#define CC_IBTC_SEQUENCE 8192u

int cc_measure_ibtc_lookup(cc_clock clock, uint32_t inner, uint64_t *samples, uint32_t count) {
    int rc = cc_begin(clock, inner, count);
    if (rc) return rc;
    cc_ibtc_entry *table = aligned_alloc(64, CC_IBTC_ENTRIES * sizeof(cc_ibtc_entry));
    uint64_t *targets = malloc(CC_IBTC_TARGETS * sizeof(uint64_t));
    uint64_t *sequence = malloc(CC_IBTC_SEQUENCE * sizeof(uint64_t));
    if (!table || !targets || !sequence) {
        free(table); free(targets); free(sequence);
        cc_finish();
        return CC_ERR_SYSTEM;
    }
    uint64_t state = 0x9e3779b97f4a7c15ull;
    /* A full table: every slot holds some translation (tags that are not our targets)... */
    for (uint32_t i = 0; i < CC_IBTC_ENTRIES; i++) {
        table[i].guest = 0x7f0000000000ull | (cc_xorshift(&state) & 0xffffffull);
        table[i].host = 0x600000000000ull | (cc_xorshift(&state) & 0xfffff0ull);
    }
    /* ...and the working set: distinct block starts spread over 16 MiB of guest code, one per slot. */
    uint8_t used[CC_IBTC_ENTRIES] = {0};
    for (uint32_t i = 0; i < CC_IBTC_TARGETS;) {
        uint64_t guest = 0x400000ull + (cc_xorshift(&state) & 0xffffffull);
        uint32_t slot = cc_ibtc_slot(guest);
        if (used[slot]) continue;
        used[slot] = 1;
        table[slot].guest = guest;
        table[slot].host = 0x600000000000ull | (cc_xorshift(&state) & 0xfffff0ull);
        targets[i++] = guest;
    }
    /* Realistic skew: 90% of indirect branches go to a hot set of targets, the rest anywhere. */
    for (uint32_t i = 0; i < CC_IBTC_SEQUENCE; i++) {
        uint64_t r = cc_xorshift(&state);
        uint32_t pick = (r % 10u) ? (uint32_t)((r >> 8) % CC_IBTC_HOT_TARGETS)
                                  : (uint32_t)((r >> 8) % CC_IBTC_TARGETS);
        sequence[i] = targets[pick];
    }
    uint64_t zero = cc_zero, misses = 0, sink = 0;
    uint32_t at = 0;
    for (uint32_t s = 0; s < count + CC_WARMUP; s++) {
        uint64_t t0 = cc_start(clock);
        for (uint32_t i = 0; i < inner; i++) {
            uint64_t guest = sequence[at];
            const cc_ibtc_entry *entry = &table[cc_ibtc_slot(guest)];
            misses += entry->guest != guest;
            uint64_t host = entry->host;
            sink += host;
            /* The next lookup waits for this one, as the next indirect branch waits for the jump. */
            at = (at + 1u + (uint32_t)(host & zero)) & (CC_IBTC_SEQUENCE - 1);
        }
        uint64_t t1 = cc_end(clock);
        if (s >= CC_WARMUP) samples[s - CC_WARMUP] = t1 - t0;
    }
    free(table); free(targets); free(sequence);
    cc_zero = sink & 0; /* keep `sink` alive */
    cc_finish();
    return misses ? CC_ERR_MISS : 0;
}

#define CC_RAS_DEPTH 16u

int cc_measure_ras(cc_clock clock, uint32_t inner, uint64_t *samples, uint32_t count) {
    int rc = cc_begin(clock, inner, count);
    if (rc) return rc;
    /* Guest return addresses of call sites and the translated return points (a small program's mix). */
    enum { SITES = 256 };
    uint64_t guest[SITES], host[SITES];
    uint64_t state = 0x2545f4914f6cdd1dull;
    for (uint32_t i = 0; i < SITES; i++) {
        guest[i] = 0x400000ull + (cc_xorshift(&state) & 0xffffffull);
        host[i] = 0x600000000000ull | (cc_xorshift(&state) & 0xfffff0ull);
    }
    /* In memory, as a translator's return-address stack is: no folding the push into the pop. */
    volatile uint64_t ras_guest[CC_RAS_DEPTH], ras_host[CC_RAS_DEPTH];
    uint32_t top = 0;
    uint64_t zero = cc_zero, misses = 0, sink = 0;
    uint32_t site = 0;
    for (uint32_t s = 0; s < count + CC_WARMUP; s++) {
        uint64_t t0 = cc_start(clock);
        for (uint32_t i = 0; i < inner; i++) {
            /* call: push (guest return address, translated return point) */
            ras_guest[top] = guest[site];
            ras_host[top] = host[site];
            top = (top + 1) & (CC_RAS_DEPTH - 1);
            /* ret: pop and compare with the actual guest return target */
            top = (top - 1) & (CC_RAS_DEPTH - 1);
            uint64_t actual = guest[site];
            misses += ras_guest[top] != actual;
            uint64_t target = ras_host[top];
            sink += target;
            site = (site + 1u + (uint32_t)(target & zero)) & (SITES - 1);
        }
        uint64_t t1 = cc_end(clock);
        if (s >= CC_WARMUP) samples[s - CC_WARMUP] = t1 - t0;
    }
    cc_zero = sink & 0;
    cc_finish();
    return misses ? CC_ERR_MISS : 0;
}

/* ---- reference loop ------------------------------------------------------------------------- */

int cc_measure_add_chain(cc_clock clock, uint32_t iterations, uint64_t *samples, uint32_t count) {
    int rc = cc_begin(clock, iterations, count);
    if (rc) return rc;
    for (uint32_t s = 0; s < count + CC_WARMUP; s++) {
        uint64_t value = 0, left = iterations;
        uint64_t t0 = cc_start(clock);
        /* Each add depends on the previous one: one add per core cycle on every x86 since the P6. */
        __asm__ volatile("1:\n\t"
                         ".rept 1000\n\t"
                         "add $1, %0\n\t"
                         ".endr\n\t"
                         "dec %1\n\t"
                         "jnz 1b\n"
                         : "+r"(value), "+r"(left)
                         :
                         : "cc");
        uint64_t t1 = cc_end(clock);
        if (s >= CC_WARMUP) samples[s - CC_WARMUP] = t1 - t0;
    }
    cc_finish();
    return rc;
}

#else /* not x86-64: nothing here is measurable */

int cc_tsc_status(void) { return CC_TSC_NOT_X86_64; }
int cc_tsc_invariant(void) { return -1; }
int cc_hypervisor_present(void) { return 0; }
double cc_tsc_ticks_per_ns(uint64_t duration_ns) { (void)duration_ns; return 0; }
#define CC_UNSUPPORTED(name) \
    int name(cc_clock clock, uint32_t inner, uint64_t *samples, uint32_t count) { \
        (void)clock; (void)inner; (void)samples; (void)count; return CC_ERR_UNSUPPORTED; }
int cc_measure_timer_overhead(cc_clock clock, uint64_t *samples, uint32_t count) {
    (void)clock; (void)samples; (void)count; return CC_ERR_UNSUPPORTED;
}
CC_UNSUPPORTED(cc_measure_int3)
CC_UNSUPPORTED(cc_measure_page_fault)
CC_UNSUPPORTED(cc_measure_write_fault)
CC_UNSUPPORTED(cc_measure_mprotect)
CC_UNSUPPORTED(cc_measure_syscall)
CC_UNSUPPORTED(cc_measure_cpuid)
CC_UNSUPPORTED(cc_measure_ibtc_lookup)
CC_UNSUPPORTED(cc_measure_ras)
CC_UNSUPPORTED(cc_measure_add_chain)

#endif
