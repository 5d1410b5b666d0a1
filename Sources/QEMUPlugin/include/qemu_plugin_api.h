/*
 * The part of QEMU's TCG plugin API (include/qemu/qemu-plugin.h, plugin API version 1, as shipped with
 * QEMU 7.2) that PlexLab's plugin uses. Debian's qemu-user ships the plugin support but not this header,
 * so the prototypes are declared here (the shared types in PlexLabWire's qemu_plugin_types.h); they must
 * match QEMU 7.2 exactly (they are resolved at dlopen time against the symbols qemu-user exports).
 */
#ifndef PLEXLAB_QEMU_PLUGIN_API_H
#define PLEXLAB_QEMU_PLUGIN_API_H

#define PLEXLAB_QEMU_PLUGIN 1 /* the shared prototypes too */
#include "qemu_plugin_types.h"

#define QEMU_PLUGIN_VERSION 1

typedef void (*qemu_plugin_vcpu_syscall_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num,
                                              uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                              uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8);

void qemu_plugin_register_vcpu_exit_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_simple_cb_t cb);
void qemu_plugin_register_vcpu_syscall_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_syscall_cb_t cb);

const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
void *qemu_plugin_insn_haddr(const struct qemu_plugin_insn *insn);

#endif
