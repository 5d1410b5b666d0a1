/*
 * The part of QEMU's TCG plugin API (include/qemu/qemu-plugin.h, plugin API version 4, as shipped with
 * QEMU 9.2 to 10.0) that PlexLab's system-mode plugin uses. Debian's qemu-system-x86 (bookworm-backports,
 * 10.0.2) ships the plugin support but not this header, so the prototypes are declared here; they are
 * resolved at dlopen time against the symbols qemu-system-x86_64 exports. The two GLib containers the
 * API hands over are declared with GLib's public layout (QEMU links GLib; the plugin calls the two GLib
 * functions it needs through the same dynamic symbols).
 */
#ifndef PLEXLAB_QEMU_PLUGIN_API_V4_H
#define PLEXLAB_QEMU_PLUGIN_API_V4_H

#define PLEXLAB_QEMU_PLUGIN 1 /* the shared prototypes too */
#include "qemu_plugin_types.h"

#define QEMU_PLUGIN_VERSION 4

/* GLib's GArray and GByteArray: public structs. */
typedef struct { char *data; unsigned int len; } plexlab_garray;
typedef struct { uint8_t *data; unsigned int len; } plexlab_gbytearray;
plexlab_gbytearray *g_byte_array_new(void);
void g_array_free(plexlab_garray *array, int free_segment);

struct qemu_plugin_hwaddr;
struct qemu_plugin_register;

typedef struct {
    struct qemu_plugin_register *handle;
    const char *name;
    const char *feature;
} qemu_plugin_reg_descriptor;

void qemu_plugin_register_vcpu_init_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_simple_cb_t cb);

/* Version 3 and later: copies the instruction's bytes into dest; returns the count copied. */
size_t qemu_plugin_insn_data(const struct qemu_plugin_insn *insn, void *dest, size_t len);

unsigned int qemu_plugin_mem_size_shift(qemu_plugin_meminfo_t info);
struct qemu_plugin_hwaddr *qemu_plugin_get_hwaddr(qemu_plugin_meminfo_t info, uint64_t vaddr);
bool qemu_plugin_hwaddr_is_io(const struct qemu_plugin_hwaddr *haddr);
uint64_t qemu_plugin_hwaddr_phys_addr(const struct qemu_plugin_hwaddr *haddr);

plexlab_garray *qemu_plugin_get_registers(void);
int qemu_plugin_read_register(struct qemu_plugin_register *handle, plexlab_gbytearray *buf);
bool qemu_plugin_read_memory_vaddr(uint64_t addr, plexlab_gbytearray *data, size_t len);

#endif
