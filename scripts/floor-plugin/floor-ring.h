/*
 * The floor plugins' ring (floor-plugin.c, address-classes.c with floor=on): per thread, reached through an
 * initial-exec thread-local pointer, and stores the compiler cannot drop (floor-plugin.c says why both
 * matter). on_exec stores the TB's id; on_access compares the access's page with the thread's last one.
 */
#ifndef PLEXLAB_FLOOR_RING_H
#define PLEXLAB_FLOOR_RING_H
#include <stdint.h>
#include <stdlib.h>
#include "qemu_plugin_api.h"

#define RING_WORDS (1u << 16)
struct ring {
    uint32_t head;
    uint64_t last_page;
    uint32_t words[RING_WORDS];
};
static __thread struct ring *tls_ring __attribute__((tls_model("initial-exec")));
/* The last ring made: exported, so the stores into the rings are observable and stay in the code. */
QEMU_PLUGIN_EXPORT struct ring *plexlab_floor_last;

/* A thread's first callback: its ring is made (out of line, so that on_exec stays a leaf). */
static __attribute__((noinline)) void first(void *udata)
{
    struct ring *r = calloc(1, sizeof(*r));
    if (!r) abort();
    tls_ring = r;
    plexlab_floor_last = r;
    r->words[r->head++ & (RING_WORDS - 1)] = (uint32_t)(uintptr_t)udata;
}

static void on_exec(unsigned int index, void *udata)
{
    (void)index;
    struct ring *r = tls_ring;
    if (__builtin_expect(r == NULL, 0)) {
        first(udata);
        return;
    }
    r->words[r->head++ & (RING_WORDS - 1)] = (uint32_t)(uintptr_t)udata;
}

static void on_access(unsigned int index, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)index; (void)info; (void)udata;
    struct ring *r = tls_ring;
    if (__builtin_expect(r == NULL, 0)) return; /* before the thread's first TB callback */
    uint64_t page = vaddr >> 12;
    if (__builtin_expect(page == r->last_page, 1)) return;
    r->last_page = page;
    r->words[r->head++ & (RING_WORDS - 1)] = (uint32_t)page;
}

#endif
