/* Measurement kernels for `plexlab calibrate`.
 *
 * Everything that traps (int3, page faults, write-protect faults) happens here in C, with the signal
 * handlers installed for the duration of one kernel call and the previous handlers restored afterwards.
 * Kernels are serialized by a process-wide lock: two calibrations never share handlers.
 *
 * Every kernel fills `samples[0..count)` with the raw duration of one timed region, in ticks of the
 * chosen clock (TSC ticks or nanoseconds). A timed region holds `inner` operations; the caller subtracts
 * the timer overhead (cc_measure_timer_overhead) and divides by `inner`. A few untimed warm-up regions
 * run first. Kernels return 0 on success or a negative CC_ERR_* code.
 */
#ifndef CCALIBRATE_H
#define CCALIBRATE_H

#include <stdint.h>

/** Which clock a kernel reads around its timed region. */
typedef enum {
    CC_CLOCK_TSC = 0,          /* rdtscp (or lfence; rdtsc), fenced */
    CC_CLOCK_MONOTONIC_NS = 1, /* clock_gettime(CLOCK_MONOTONIC), nanoseconds */
} cc_clock;

/** Why the TSC cannot be used (cc_tsc_status). */
typedef enum {
    CC_TSC_OK = 0,
    CC_TSC_NOT_X86_64 = 1,        /* not an x86-64 host */
    CC_TSC_NO_CPUID_FLAG = 2,     /* CPUID.1:EDX.TSC clear */
    CC_TSC_DISABLED = 3,          /* prctl(PR_GET_TSC) says rdtsc raises SIGSEGV in this process */
    CC_TSC_NOT_ADVANCING = 4,     /* two reads 1 ms apart did not increase */
} cc_tsc_status_code;

enum {
    CC_ERR_UNSUPPORTED = -1,  /* not measurable on this architecture */
    CC_ERR_SYSTEM = -2,       /* mmap/mprotect/sigaction failed (errno is left set) */
    CC_ERR_NO_TRAP = -3,      /* the handler did not run as often as the kernel trapped */
    CC_ERR_MISS = -4,         /* the lookup table missed where every lookup must hit */
    CC_ERR_ARGUMENT = -5,     /* count or inner is zero */
};

/** 1 on x86-64 (the only architecture whose kernels are implemented), else 0. */
int cc_is_x86_64(void);
/** Whether rdtsc works in this process (a cc_tsc_status_code). */
int cc_tsc_status(void);
/** 1 when CPUID.80000007H:EDX[8] (invariant TSC) is set, 0 when clear, -1 off x86-64. */
int cc_tsc_invariant(void);
/** 1 when CPUID.1:ECX[31] (running under a hypervisor) is set, 0 otherwise. */
int cc_hypervisor_present(void);
/** TSC ticks per nanosecond of CLOCK_MONOTONIC_RAW over a busy-wait of `duration_ns`; 0 on failure. */
double cc_tsc_ticks_per_ns(uint64_t duration_ns);

/** An empty timed region: the cost of reading the clock twice. */
int cc_measure_timer_overhead(cc_clock clock, uint64_t *samples, uint32_t count);
/** `inner` executions of int3 per region; the SIGTRAP handler only counts (RIP is already past int3). */
int cc_measure_int3(cc_clock clock, uint32_t inner, uint64_t *samples, uint32_t count);
/** `pages` reads of PROT_NONE pages per region; the SIGSEGV handler mprotects the page PROT_READ.
 *  The whole region is re-protected PROT_NONE before each timed region, outside it. */
int cc_measure_page_fault(cc_clock clock, uint32_t pages, uint64_t *samples, uint32_t count);
/** `pages` stores to PROT_READ pages per region; the handler mprotects the page read-write. */
int cc_measure_write_fault(cc_clock clock, uint32_t pages, uint64_t *samples, uint32_t count);
/** `pages` direct mprotect(page, PROT_NONE -> PROT_READ) calls per region, on the same kind of region as
 *  cc_measure_page_fault, so the handler's share of a page-fault round trip can be subtracted. */
int cc_measure_mprotect(cc_clock clock, uint32_t pages, uint64_t *samples, uint32_t count);
/** `inner` syscall(SYS_getppid) per region. */
int cc_measure_syscall(cc_clock clock, uint32_t inner, uint64_t *samples, uint32_t count);
/** `inner` cpuid(0) per region (a VM exit when running under a hypervisor). */
int cc_measure_cpuid(cc_clock clock, uint32_t inner, uint64_t *samples, uint32_t count);
/** `inner` dependent lookups per region in a direct-mapped 4096-entry table (see CC_IBTC_*). */
int cc_measure_ibtc_lookup(cc_clock clock, uint32_t inner, uint64_t *samples, uint32_t count);
/** `inner` push/pop-and-compare pairs per region on a 16-entry return-address stack. */
int cc_measure_ras(cc_clock clock, uint32_t inner, uint64_t *samples, uint32_t count);
/** `iterations` passes of the reference loop per region (CC_ADD_CHAIN_INSNS_PER_ITERATION each). */
int cc_measure_add_chain(cc_clock clock, uint32_t iterations, uint64_t *samples, uint32_t count);
/** A plex86-style page scan (recursive descent with Zydis, coverage bitmap, worklist) of the pages holding
 *  the entry points of a fixed list of libc functions, each from its entry. `*decoded_per_region` gets the
 *  instructions decoded per region (the same every region). */
int cc_measure_scan(cc_clock clock, uint64_t *decoded_per_region, uint64_t *samples, uint32_t count);

/** The IBTC kernel's shape: table entries, distinct guest targets, targets in the hot set. */
#define CC_IBTC_ENTRIES 4096u
#define CC_IBTC_TARGETS 1024u
#define CC_IBTC_HOT_TARGETS 64u
/** Reference loop: 1000 dependent `add $1, %rax`, then `dec %rcx; jnz` = 1002 instructions. */
#define CC_ADD_CHAIN_ADDS 1000u
#define CC_ADD_CHAIN_INSNS_PER_ITERATION 1002u

#endif
