/*
 * The recording floor (scripts/bench-record.sh, issue 20): the least a per-TB recorder can do under QEMU
 * 7.2's plugin API v1. Its exec callback stores the TB's id into a per-thread ring in memory that wraps
 * and is never read; nothing leaves the process. `plexlab record`'s guest run is measured against this.
 *
 *   gcc -O2 -shared -fPIC -I Sources/QEMUPlugin/include -o floor.so scripts/floor-plugin/floor-plugin.c
 *   qemu-x86_64 -plugin ./floor.so PROGRAM ARGS
 */
#include <stdint.h>
#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define RING_WORDS (1u << 16)
static __thread uint32_t ring[RING_WORDS];
static __thread uint32_t head;
static uint32_t next_id;

static void on_exec(unsigned int index, void *udata)
{
    (void)index;
    ring[head++ & (RING_WORDS - 1)] = (uint32_t)(uintptr_t)udata;
}

static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    uint32_t tb_id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)tb_id);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info; (void)argc; (void)argv;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
    return 0;
}
