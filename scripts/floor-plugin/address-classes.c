/*
 * How many memory callbacks an exact data-page recorder could skip with static address classes (issue 20,
 * docs/recorder.md "Address classes: measured, not built"). Not part of `plexlab record`: a measurement.
 *
 * Per TB, every instruction is decoded with Zydis and put in one of these kinds:
 * - static: its one memory operand is RIP-relative or absolute (no base, no index, no fs/gs): its address,
 *   hence its page, is known at translation; no callback would be needed at all;
 * - member: its one memory operand has the segment, base and index registers (and scale) of an earlier
 *   instruction of the same TB that needs a callback (the class's representative), with neither register
 *   written in between other than by a statically known amount (push, pop, call, ret on rsp; 64-bit add/sub
 *   of an immediate, inc, dec, lea reg, [reg + disp]): its address is the representative's plus a constant;
 * - representative: the first of its class: it needs a callback;
 * - needed: anything else with memory operands (rep/lock prefixes, more than one memory operand, VSIB, ...).
 * The classification is an upper bound of the saving: a member's access count would still have to be known
 * statically (QEMU splits 16-byte accesses, read-modify-write instructions call back twice, ...).
 *
 *   gcc -O2 -shared -fPIC -DPLEXLAB_QEMU_PLUGIN -I Sources/QEMUPlugin/include -I Sources/PlexLabWire/include \
 *       -o classes.so scripts/floor-plugin/address-classes.c -lZydis
 *   qemu-x86_64 -plugin ./classes.so PROGRAM ARGS           dynamic accesses per kind, on stderr at exit
 *   qemu-x86_64 -plugin ./classes.so,floor=on PROGRAM ARGS  the data floor (floor-plugin.c, mem=on) with a
 *                                                           callback only where one would still be needed
 *
 * rule=runs classifies by consecutive runs instead (run-classes.c beside this file, the planner of the plugin
 * that was built and measured on tag experiment/consecutive-runs; docs/recorder.md, "Consecutive runs"): an
 * instruction is a member (no callback), a representative or plain ("needed"). So the build above also takes
 * that file:
 *   gcc ... -I scripts/floor-plugin -o classes.so scripts/floor-plugin/address-classes.c \
 *       scripts/floor-plugin/run-classes.c -lZydis
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <Zydis/Zydis.h>
#include "qemu_plugin_api.h"
#include "run-classes.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

enum kind { NEEDED, REPRESENTATIVE, MEMBER, STATIC, KINDS };
static const char *kind_names[KINDS] = { "needed", "representative", "member", "static" };

/* Counting mode: one record per translated instruction (never freed: generated code points at it). */
struct insn_stat {
    uint64_t accesses;
    enum kind kind;
    struct insn_stat *next;
};
static struct insn_stat *stats;
static ZydisDecoder decoder;
static int floor_mode, runs_rule;

/* Floor mode: floor-plugin.c's ring and callbacks. */
#include "floor-ring.h"
static uint32_t next_id;

static void on_access_count(unsigned int index, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)index; (void)info; (void)vaddr;
    ((struct insn_stat *)udata)->accesses++;
}

/* 0-15: rax..r15, 16: rip, -1: none, -2: anything else (a segment or vector register as an address). */
static int gpr(ZydisRegister r)
{
    if (r == ZYDIS_REGISTER_NONE) return -1;
    if (r == ZYDIS_REGISTER_RIP) return 16;
    ZydisRegister wide = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
    if (wide >= ZYDIS_REGISTER_RAX && wide <= ZYDIS_REGISTER_R15) return (int)(wide - ZYDIS_REGISTER_RAX);
    return -2;
}

struct class_key { int segment, base, index, scale; };

/* Whether writing register operand `o` of `d` changes it by a statically known amount. */
static int known_delta(const ZydisDecodedInstruction *d, const ZydisDecodedOperand *ops, int o, int reg)
{
    ZydisMnemonic m = d->mnemonic;
    if (reg == 4 && (m == ZYDIS_MNEMONIC_PUSH || m == ZYDIS_MNEMONIC_POP || m == ZYDIS_MNEMONIC_CALL ||
                     m == ZYDIS_MNEMONIC_RET))
        return 1; /* pop rsp itself loads rsp: its explicit operand is not the hidden one */
    if (o != 0 || ops[0].size != 64) return 0;
    if ((m == ZYDIS_MNEMONIC_ADD || m == ZYDIS_MNEMONIC_SUB) && ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) return 1;
    if (m == ZYDIS_MNEMONIC_INC || m == ZYDIS_MNEMONIC_DEC) return 1;
    return m == ZYDIS_MNEMONIC_LEA && ops[1].mem.index == ZYDIS_REGISTER_NONE && gpr(ops[1].mem.base) == reg;
}

static enum kind classify(const ZydisDecodedInstruction *d, const ZydisDecodedOperand *ops, const int *version,
                          struct class_key *reps, int *nreps)
{
    int nmem = 0, odd = 0;
    const ZydisDecodedOperand *mem = NULL;
    for (int o = 0; o < d->operand_count; o++) {
        if (ops[o].type != ZYDIS_OPERAND_TYPE_MEMORY || ops[o].mem.type == ZYDIS_MEMOP_TYPE_AGEN) continue;
        if (ops[o].mem.type != ZYDIS_MEMOP_TYPE_MEM) odd = 1;
        nmem++;
        mem = &ops[o];
    }
    if (nmem == 0) return NEEDED; /* none declared: any access it makes is QEMU's business, keep the callback */
    if (odd || nmem > 1 ||
        (d->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE | ZYDIS_ATTRIB_HAS_LOCK)))
        return NEEDED;
    int base = gpr(mem->mem.base), index = gpr(mem->mem.index);
    int segment = mem->mem.segment == ZYDIS_REGISTER_FS || mem->mem.segment == ZYDIS_REGISTER_GS ? mem->mem.segment : 0;
    if (base == -2 || index == -2) return NEEDED;
    if (!segment && (base == 16 || (base == -1 && index == -1))) return STATIC;
    struct class_key key = { segment, base < 0 ? -1 : version[base], index < 0 ? -1 : version[index],
                             index < 0 ? 0 : mem->mem.scale };
    for (int r = 0; r < *nreps; r++)
        if (!memcmp(&reps[r], &key, sizeof key)) return MEMBER;
    if (*nreps < 64) reps[(*nreps)++] = key;
    return REPRESENTATIVE;
}

static void add_stat(struct qemu_plugin_insn *insn, enum kind kind)
{
    struct insn_stat *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->kind = kind;
    s->next = stats;
    stats = s;
    qemu_plugin_register_vcpu_mem_cb(insn, on_access_count, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, s);
}

/* rule=runs: the consecutive-run plan (run-classes.c); kinds: member, representative, needed (plain). */
static void on_trans_runs(struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    const uint8_t *bytes[1024];
    uint8_t len[1024], role[1024];
    uint64_t vaddr[1024];
    struct rc_run *run[1024];
    if (n > 1024) n = 0;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        bytes[i] = qemu_plugin_insn_data(insn);
        len[i] = (uint8_t)qemu_plugin_insn_size(insn);
        vaddr[i] = qemu_plugin_insn_vaddr(insn);
    }
    rc_plan(n, bytes, len, vaddr, role, run);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        enum kind kind = role[i] == RC_MEMBER ? MEMBER : role[i] == RC_REPRESENTATIVE ? REPRESENTATIVE : NEEDED;
        if (!floor_mode) add_stat(insn, kind);
        else if (kind != MEMBER)
            qemu_plugin_register_vcpu_mem_cb(insn, on_access, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, NULL);
    }
}

static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    uint32_t tb_id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
    if (floor_mode) qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)tb_id);
    if (runs_rule) {
        on_trans_runs(tb);
        return;
    }
    int version[17], next_version = 17, nreps = 0;
    for (int r = 0; r < 17; r++) version[r] = r;
    struct class_key reps[64];
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        ZydisDecodedInstruction d;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        enum kind kind = NEEDED;
        int decoded = ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, qemu_plugin_insn_data(insn),
                                                          qemu_plugin_insn_size(insn), &d, ops));
        if (decoded) {
            kind = classify(&d, ops, version, reps, &nreps);
            for (int o = 0; o < d.operand_count; o++) {
                if (ops[o].type != ZYDIS_OPERAND_TYPE_REGISTER || !(ops[o].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
                    continue;
                int reg = gpr(ops[o].reg.value);
                if (reg >= 0 && reg < 16 && !known_delta(&d, ops, o, reg)) version[reg] = next_version++;
            }
        } else {
            for (int r = 0; r < 16; r++) version[r] = next_version++;
        }
        if (floor_mode) {
            if (kind == NEEDED || kind == REPRESENTATIVE)
                qemu_plugin_register_vcpu_mem_cb(insn, on_access, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, NULL);
            continue;
        }
        add_stat(insn, kind);
    }
}

static void report(qemu_plugin_id_t id, void *udata)
{
    (void)id; (void)udata;
    if (floor_mode) return;
    uint64_t per_kind[KINDS] = { 0 }, total = 0;
    for (const struct insn_stat *s = stats; s; s = s->next) {
        per_kind[s->kind] += s->accesses;
        total += s->accesses;
    }
    double t = total ? (double)total : 1.0;
    fprintf(stderr, "address classes: %llu accesses\n", (unsigned long long)total);
    for (int k = 0; k < KINDS; k++)
        fprintf(stderr, "  %-15s %12llu %5.1f %%\n", kind_names[k], (unsigned long long)per_kind[k], 100.0 * per_kind[k] / t);
    fprintf(stderr, "  callbacks still needed: %.1f %%\n", 100.0 * (per_kind[NEEDED] + per_kind[REPRESENTATIVE]) / t);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "floor=on") == 0) floor_mode = 1;
        else if (strcmp(argv[i], "rule=runs") == 0) runs_rule = 1;
    ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
    qemu_plugin_register_atexit_cb(id, report, NULL);
    return 0;
}
