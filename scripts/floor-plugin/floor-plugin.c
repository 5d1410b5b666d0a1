/*
 * The recording floor (scripts/bench-record.sh, issue 20): the least a per-TB recorder can do under QEMU
 * 7.2's plugin API v1. Its exec callback stores the TB's id into a per-thread ring in memory that wraps;
 * nothing leaves the process. `plexlab record`'s guest run is measured against this.
 *
 * Two things make it an honest floor (the first version measured neither the store nor a cheap TLS access):
 * - The ring is on the heap, reached through an initial-exec thread-local pointer: one %fs-relative load, as
 *   in the recorder's plugin. A plain `static __thread` in a dlopen'd .so is general-dynamic TLS, a call to
 *   __tls_get_addr per callback (measured: that alone made gzip 2.0x plain instead of 1.3x).
 * - The store cannot be removed: the ring is reachable from an exported global, so the compiler must assume
 *   someone reads it (gcc -O2 deleted the stores into a static ring that was never read, and the "floor" only
 *   counted). Measured with the store: gzip about 1.5x plain.
 *
 *   gcc -O2 -shared -fPIC -DPLEXLAB_QEMU_PLUGIN -I Sources/QEMUPlugin/include -I Sources/PlexLabWire/include \
 *       -o floor.so scripts/floor-plugin/floor-plugin.c
 *   qemu-x86_64 -plugin ./floor.so PROGRAM ARGS
 *   qemu-x86_64 -plugin ./floor.so,mem=on PROGRAM ARGS
 *
 * With mem=on it is the floor of a data-page recorder (`record --data-pages`): every load and store also calls
 * a memory callback (QEMU 7.2 offers no inline operation that sees the address, so a call per access is the
 * least any data-page recorder pays), which compares the access's page with the thread's last one and stores
 * it into the same ring only when it differs. That is less than an exact recorder can do (it keeps no count
 * and no store bit): a store per access, with its index kept in memory, measured 3.6x plain on gzip against
 * 2.4x for this compare, because the index's read-modify-write chains every callback to the previous one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#include "floor-ring.h"

static uint32_t next_id;
static int with_memory;

static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    uint32_t tb_id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)tb_id);
    if (!with_memory) return;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++)
        qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, i), on_access, QEMU_PLUGIN_CB_NO_REGS,
                                         QEMU_PLUGIN_MEM_RW, NULL);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "mem=on") == 0) with_memory = 1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
    return 0;
}
