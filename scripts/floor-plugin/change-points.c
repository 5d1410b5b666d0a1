/*
 * The change-point floor (issue 20, docs/recorder.md "Change points: measured, not built"): the least a
 * data-page recorder costs on the guest's thread if every access whose page is known at translation gets no
 * callback, and every other access only tells when the thread's page changes. Not part of `plexlab record`:
 * a measurement.
 *
 * Per TB, every instruction is decoded with Zydis. One whose memory operands are all RIP-relative or absolute
 * (no base, no index, no fs/gs) is static: no memory callback. Every other instruction gets one whose data is
 * its index in the TB (its static slot); the callback compares the access's page with the thread's last
 * dynamic page and, only when it differs, appends (slot, page) to the thread's ring: the data floor's work
 * (floor-plugin.c, mem=on) plus one word. The exec callback is the floor's (the TB id into the same ring), so
 * a reader of the ring would have every TB execution and every change point in order.
 *
 *   gcc -O2 -shared -fPIC -DPLEXLAB_QEMU_PLUGIN -I Sources/QEMUPlugin/include -I Sources/PlexLabWire/include \
 *       -o change-points.so scripts/floor-plugin/change-points.c -lZydis
 *   qemu-x86_64 -plugin ./change-points.so PROGRAM ARGS            the change-point floor
 *   qemu-x86_64 -plugin ./change-points.so,stats=on PROGRAM ARGS   and, on stderr at exit, the last thread's
 *                                                                  words: TB executions + 2 x change points
 *   qemu-x86_64 -plugin ./change-points.so,reconstruct=on PROGRAM ARGS
 *
 * reconstruct=on (one guest thread only: a measurement of the cost, not a recorder) replaces the wrapping ring
 * by one the guest never overwrites (the exec callback waits while fewer than HEADROOM words are free) and
 * starts a second thread that rebuilds every TB execution's touch list from the TB's static slot table
 * (per instruction: static page or not, loads and stores per execution as Zydis declares them: the same work
 * as with QEMU's own profile) and the change points, in first-access order, compares it with a 4096-slot
 * cache (tb id mod 4096, as the plugin's touch cache) and writes protocol-6-sized words into a buffer that
 * wraps: the off-thread work a change-point recorder would do before its recorder gets the stream.
 * reconstruct=inline does the same rebuild on the guest's thread, at the next TB's exec callback, from the
 * change points kept in a small per-thread array (no ring, no second thread).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <Zydis/Zydis.h>
#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#include "floor-ring.h"

static ZydisDecoder decoder;
static uint32_t next_id;
static int stats;
static uint64_t static_insns, dynamic_insns;

/* The change point: the thread's page changed at the access of slot `udata` of the executing TB. */
static void on_change_access(unsigned int index, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)index; (void)info;
    struct ring *r = tls_ring;
    if (__builtin_expect(r == NULL, 0)) return; /* before the thread's first TB callback */
    uint64_t page = vaddr >> 12;
    if (__builtin_expect(page == r->last_page, 1)) return;
    r->last_page = page;
    uint32_t h = r->head;
    r->words[h & (RING_WORDS - 1)] = (uint32_t)(uintptr_t)udata;
    r->words[(h + 1) & (RING_WORDS - 1)] = (uint32_t)page;
    r->head = h + 2;
}

/* Whether every memory operand of the instruction has an address known at translation. */
static int is_static(const ZydisDecodedInstruction *d, const ZydisDecodedOperand *ops)
{
    int nmem = 0;
    for (int o = 0; o < d->operand_count; o++) {
        const ZydisDecodedOperand *op = &ops[o];
        if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type == ZYDIS_MEMOP_TYPE_AGEN) continue;
        if (op->mem.type != ZYDIS_MEMOP_TYPE_MEM) return 0;
        if (op->mem.segment == ZYDIS_REGISTER_FS || op->mem.segment == ZYDIS_REGISTER_GS) return 0;
        int rip = op->mem.base == ZYDIS_REGISTER_RIP && op->mem.index == ZYDIS_REGISTER_NONE;
        int absolute = op->mem.base == ZYDIS_REGISTER_NONE && op->mem.index == ZYDIS_REGISTER_NONE;
        if (!rip && !absolute) return 0;
        nmem++;
    }
    return nmem > 0 && !(d->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE));
}

static int reconstruct; /* 1: on a second thread, 2: inline */
static void make_table(uint32_t tb_id, struct qemu_plugin_tb *tb);
static void on_exec_rq(unsigned int index, void *udata);
static void on_access_rq(unsigned int index, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata);
static void on_exec_inline(unsigned int index, void *udata);
static void on_access_inline(unsigned int index, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata);

static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    uint32_t tb_id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
    if (reconstruct) make_table(tb_id, tb);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, reconstruct == 2 ? on_exec_inline : reconstruct ? on_exec_rq : on_exec,
                                         QEMU_PLUGIN_CB_NO_REGS,
                                         (void *)(uintptr_t)tb_id);
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        ZydisDecodedInstruction d;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, qemu_plugin_insn_data(insn), qemu_plugin_insn_size(insn),
                                                &d, ops)) && is_static(&d, ops)) {
            static_insns++;
            continue;
        }
        dynamic_insns++;
        qemu_plugin_register_vcpu_mem_cb(insn, reconstruct == 2 ? on_access_inline : reconstruct ? on_access_rq : on_change_access, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW,
                                         (void *)(uintptr_t)i);
    }
}

/* ---- reconstruct=on ---- */
#define RWORDS (1u << 22)
#define HEADROOM 8192u
#define CP_FLAG 0x80000000u
struct access { uint8_t insn, store; uint64_t page; }; /* page: static page, or ~0 = dynamic */
struct slot_table { uint32_t n; struct access a[]; };
static struct slot_table **tables;
static uint32_t tables_cap;
/* head (the guest's), tail (the rebuilding thread's) and the producer's copy of tail on lines of their own:
   sharing one line made both threads wait on it whenever they really ran in parallel. */
static struct {
    _Alignas(64) volatile uint32_t head;
    _Alignas(64) volatile uint32_t tail;
    _Alignas(64) uint32_t tail_seen; /* the guest's last read of tail */
    uint32_t done;
    _Alignas(64) uint32_t words[RWORDS];
} *rq;
static uint64_t lists_sent, executions, out_words;
static double consumer_cpu; /* the reconstructing thread's CPU seconds, at its end */

static void rq_wait(uint32_t head)
{
    while (head - (rq->tail_seen = __atomic_load_n(&rq->tail, __ATOMIC_ACQUIRE)) > RWORDS - HEADROOM) {
        struct timespec t = { 0, 20000 };
        nanosleep(&t, NULL);
    }
}

static void on_exec_rq(unsigned int index, void *udata)
{
    (void)index;
    uint32_t h = rq->head;
    if (__builtin_expect(h - rq->tail_seen > RWORDS - HEADROOM, 0)) rq_wait(h);
    rq->words[h & (RWORDS - 1)] = (uint32_t)(uintptr_t)udata;
    __atomic_store_n(&rq->head, h + 1, __ATOMIC_RELEASE);
}

/* The (one) guest thread's last dynamic page: whether `vaddr` is a change point, for both reconstruct modes. */
static uint64_t last_dynamic;
static inline __attribute__((always_inline)) int page_changes(uint64_t vaddr, uint64_t *page)
{
    *page = vaddr >> 12;
    if (__builtin_expect(*page == last_dynamic, 1)) return 0;
    last_dynamic = *page;
    return 1;
}

static void on_access_rq(unsigned int index, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)index; (void)info;
    uint64_t page;
    if (!page_changes(vaddr, &page)) return;
    uint32_t h = rq->head;
    rq->words[h & (RWORDS - 1)] = (uint32_t)(uintptr_t)udata | CP_FLAG;
    rq->words[(h + 1) & (RWORDS - 1)] = (uint32_t)page;
    __atomic_store_n(&rq->head, h + 2, __ATOMIC_RELEASE);
}

struct touchc { uint64_t page; uint32_t loads, stores; };
static struct { uint32_t n; struct touchc t[16]; } cache[4096];
static uint32_t out[1 << 16];

/* The inputs of a slot's last rebuild: equal inputs give an equal list, so the list is not rebuilt. */
static struct { uint32_t id, ncp; uint64_t last; uint32_t cps[8]; } inputs[4096];
static uint64_t rebuilt;

/* One TB execution's list, rebuilt from its table and its change points (cps: slot, page pairs). */
static void rebuild(uint32_t id, const uint32_t *cps, uint32_t ncp, uint64_t *last)
{
    uint32_t is = id & 4095;
    int same = inputs[is].id == id + 1 && inputs[is].ncp == ncp && inputs[is].last == *last;
    for (uint32_t i = 0; same && i < 2 * ncp; i++) same = i < 8 && inputs[is].cps[i] == cps[i];
    if (same) {
        executions++;
        if (ncp) *last = cps[2 * ncp - 1];
        return;
    }
    rebuilt++;
    inputs[is].id = ncp <= 4 ? id + 1 : 0;
    inputs[is].ncp = ncp;
    inputs[is].last = *last;
    if (ncp <= 4) memcpy(inputs[is].cps, cps, 2 * ncp * sizeof *cps);
    const struct slot_table *t = tables[id];
    struct touchc list[16];
    uint32_t n = 0, c = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        const struct access *a = &t->a[i];
        uint64_t page = a->page;
        if (page == ~0ull) {
            if (c < ncp && (cps[2 * c] & ~CP_FLAG) == a->insn) *last = cps[2 * c++ + 1];
            page = *last;
        }
        uint32_t j = 0;
        while (j < n && list[j].page != page) j++;
        if (j == n) {
            if (n == 16) { n = 0; j = 0; }
            list[n++] = (struct touchc){ page, 0, 0 };
        }
        if (a->store) list[j].stores++; else list[j].loads++;
    }
    executions++;
    uint32_t s = id & 4095;
    same = cache[s].n == n + 1;
    for (uint32_t j = 0; same && j < n; j++)
        same = cache[s].t[j].page == list[j].page && cache[s].t[j].loads == list[j].loads &&
               cache[s].t[j].stores == list[j].stores;
    if (same) return;
    cache[s].n = n + 1;
    memcpy(cache[s].t, list, n * sizeof list[0]);
    lists_sent++;
    out[out_words++ & 0xffff] = 0xFFFFFF10u + n;
    for (uint32_t j = 0; j < n; j++) {
        out[out_words++ & 0xffff] = (uint32_t)list[j].page;
        out[out_words++ & 0xffff] = list[j].loads | list[j].stores << 14;
    }
}

static void *consumer(void *arg)
{
    (void)arg;
    uint32_t cps[4096], ncp = 0, id = ~0u;
    uint64_t last = 0;
    for (;;) {
        uint32_t head = __atomic_load_n(&rq->head, __ATOMIC_ACQUIRE), tail = rq->tail;
        if (head == tail) {
            if (__atomic_load_n(&rq->done, __ATOMIC_ACQUIRE)) break;
            struct timespec t = { 0, 50000 };
            nanosleep(&t, NULL);
            continue;
        }
        for (; tail != head; tail++) {
            uint32_t w = rq->words[tail & (RWORDS - 1)];
            if (w & CP_FLAG) {
                if (ncp < 2048) { cps[2 * ncp] = w; cps[2 * ncp + 1] = rq->words[(tail + 1) & (RWORDS - 1)]; ncp++; }
                tail++;
                continue;
            }
            if (id != ~0u) rebuild(id, cps, ncp, &last);
            id = w;
            ncp = 0;
        }
        __atomic_store_n(&rq->tail, tail, __ATOMIC_RELEASE);
    }
    if (id != ~0u) rebuild(id, cps, ncp, &last);
    struct timespec cpu;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    consumer_cpu = cpu.tv_sec + cpu.tv_nsec * 1e-9;
    return NULL;
}
static pthread_t consumer_thread;

/* reconstruct=inline: the executing TB's change points, rebuilt at the next TB's start. */
static uint32_t inline_cps[4096], inline_ncp, inline_id = ~0u;
static uint64_t inline_last;
static void on_access_inline(unsigned int index, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)index; (void)info;
    uint64_t page;
    if (!page_changes(vaddr, &page)) return;
    if (inline_ncp < 2048) {
        inline_cps[2 * inline_ncp] = (uint32_t)(uintptr_t)udata | CP_FLAG;
        inline_cps[2 * inline_ncp + 1] = (uint32_t)page;
        inline_ncp++;
    }
}
static void on_exec_inline(unsigned int index, void *udata)
{
    (void)index;
    if (inline_id != ~0u) rebuild(inline_id, inline_cps, inline_ncp, &inline_last);
    inline_id = (uint32_t)(uintptr_t)udata;
    inline_ncp = 0;
}

/* The TB's static slot table: its accesses in order, from Zydis's operands (read, then write). */
static void make_table(uint32_t tb_id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    struct access acc[1024];
    uint32_t na = 0;
    for (size_t i = 0; i < n && na < 1000; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        ZydisDecodedInstruction d;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, qemu_plugin_insn_data(insn), qemu_plugin_insn_size(insn),
                                                 &d, ops))) continue;
        int st = is_static(&d, ops);
        for (int o = 0; o < d.operand_count; o++) {
            const ZydisDecodedOperand *op = &ops[o];
            if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type == ZYDIS_MEMOP_TYPE_AGEN) continue;
            uint64_t page = ~0ull;
            if (st) page = ((op->mem.base == ZYDIS_REGISTER_RIP ? qemu_plugin_insn_vaddr(insn) + d.length : 0) +
                            (uint64_t)op->mem.disp.value) >> 12;
            if (op->actions & ZYDIS_OPERAND_ACTION_MASK_READ) acc[na++] = (struct access){ (uint8_t)i, 0, page };
            if (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) acc[na++] = (struct access){ (uint8_t)i, 1, page };
        }
    }
    struct slot_table *t = malloc(sizeof *t + na * sizeof(struct access));
    if (!t) abort();
    t->n = na;
    memcpy(t->a, acc, na * sizeof(struct access));
    if (tb_id >= tables_cap) {
        uint32_t cap = tables_cap ? tables_cap * 2 : 1 << 16;
        while (cap <= tb_id) cap *= 2;
        struct slot_table **grown = calloc(cap, sizeof *grown);
        if (!grown) abort();
        if (tables) memcpy(grown, tables, tables_cap * sizeof *grown);
        /* the old array is never freed: the consumer may be reading it */
        __atomic_store_n(&tables, grown, __ATOMIC_RELEASE);
        tables_cap = cap;
    }
    __atomic_store_n(&tables[tb_id], t, __ATOMIC_RELEASE);
}

static void report(qemu_plugin_id_t id, void *udata)
{
    (void)id; (void)udata;
    if (reconstruct) {
        if (reconstruct == 1) {
            __atomic_store_n(&rq->done, 1, __ATOMIC_RELEASE);
            pthread_join(consumer_thread, NULL);
        }
        if (stats)
            fprintf(stderr, "reconstructed (%s): %llu executions, %llu rebuilt, %llu lists, %llu words; %.3f s CPU\n",
                    reconstruct == 1 ? "second thread" : "inline",
                    (unsigned long long)executions, (unsigned long long)rebuilt,
                    (unsigned long long)lists_sent, (unsigned long long)out_words, consumer_cpu);
        return;
    }
    if (!stats || !plexlab_floor_last) return;
    fprintf(stderr, "change points: %u words in the last thread's ring; translated insns %llu static, %llu not\n",
            plexlab_floor_last->head, (unsigned long long)static_insns, (unsigned long long)dynamic_insns);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "stats=on") == 0) stats = 1;
        else if (strcmp(argv[i], "reconstruct=on") == 0) reconstruct = 1;
        else if (strcmp(argv[i], "reconstruct=inline") == 0) reconstruct = 2;
    if (reconstruct == 1) {
        rq = aligned_alloc(64, sizeof *rq);
        if (rq) memset(rq, 0, sizeof *rq);
        if (!rq || pthread_create(&consumer_thread, NULL, consumer, NULL) != 0) abort();
    }
    ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
    qemu_plugin_register_atexit_cb(id, report, NULL);
    return 0;
}
