/*
 * Consecutive runs: the translation-time plan (run-classes.h says what a run is). Decoding with the system
 * libZydis; nothing here runs per access. A measurement tool's (address-classes.c rule=runs); the plugin that
 * used it, exact and tested but no faster, is kept on tag experiment/consecutive-runs.
 */
#include "run-classes.h"

#include <stdlib.h>
#include <string.h>
#include <Zydis/Zydis.h>

/* 0-15: rax..r15; 16: rip; 17: the flags; -1: none; -2: anything else (segment, vector, control register...). */
enum { REG_RSP = 4, REG_RIP = 16, REG_FLAGS = 17 };
static int gpr(ZydisRegister r)
{
    if (r == ZYDIS_REGISTER_NONE) return -1;
    if (r == ZYDIS_REGISTER_RIP) return REG_RIP;
    if (r == ZYDIS_REGISTER_RFLAGS || r == ZYDIS_REGISTER_EFLAGS || r == ZYDIS_REGISTER_FLAGS) return REG_FLAGS;
    ZydisRegister wide = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
    if (wide >= ZYDIS_REGISTER_RAX && wide <= ZYDIS_REGISTER_R15) return (int)(wide - ZYDIS_REGISTER_RAX);
    return -2;
}

/* Register-only instructions that cannot raise (so no fault can come between a representative and a member). */
static int quiet_mnemonic(ZydisMnemonic m)
{
    switch (m) {
    case ZYDIS_MNEMONIC_MOV: case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX: case ZYDIS_MNEMONIC_MOVSXD:
    case ZYDIS_MNEMONIC_LEA: case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_ADC: case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_CMP: case ZYDIS_MNEMONIC_TEST: case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC:
    case ZYDIS_MNEMONIC_NEG: case ZYDIS_MNEMONIC_NOT: case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_IMUL:
    case ZYDIS_MNEMONIC_NOP: case ZYDIS_MNEMONIC_CDQ: case ZYDIS_MNEMONIC_CDQE: case ZYDIS_MNEMONIC_CQO:
    case ZYDIS_MNEMONIC_CWDE: case ZYDIS_MNEMONIC_CWD: case ZYDIS_MNEMONIC_BSWAP:
        return 1;
    default:
        return (m >= ZYDIS_MNEMONIC_CMOVB && m <= ZYDIS_MNEMONIC_CMOVZ) ||
               (m >= ZYDIS_MNEMONIC_SETB && m <= ZYDIS_MNEMONIC_SETZ && m != ZYDIS_MNEMONIC_SETSSBSY);
    }
}

/* What one instruction does to memory, as far as runs care. */
enum shape { OTHER, QUIET, CERTAIN };
struct access_shape {
    int segment, base, index, scale; /* the operand's class key (segment: an fs/gs register, or 0) */
    int is_static;                   /* RIP-relative or absolute: `address` is its address */
    uint64_t address;
    int64_t off;                     /* its address minus its base and index part: the displacement, -8 for push */
    int rmw, store;                  /* rmw: load then store; else one access, a store when `store` */
    int size;
};

static enum shape shape_of(const ZydisDecodedInstruction *d, const ZydisDecodedOperand *ops, uint64_t vaddr,
                           struct access_shape *a)
{
    const ZydisDecodedOperand *mem = NULL;
    int nmem = 0;
    for (int o = 0; o < d->operand_count; o++) {
        const ZydisDecodedOperand *op = &ops[o];
        if (op->type == ZYDIS_OPERAND_TYPE_REGISTER && gpr(op->reg.value) == -2) return OTHER;
        if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type == ZYDIS_MEMOP_TYPE_AGEN) continue;
        if (op->mem.type != ZYDIS_MEMOP_TYPE_MEM) return OTHER;
        mem = op;
        nmem++;
    }
    if (d->attributes & (ZYDIS_ATTRIB_HAS_LOCK | ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE))
        return OTHER;
    ZydisMnemonic m = d->mnemonic;
    if (nmem == 0) return quiet_mnemonic(m) && m != ZYDIS_MNEMONIC_CALL ? QUIET : OTHER;
    if (nmem != 1 || d->address_width != 64 || mem->size == 0 || mem->size > 64) return OTHER;
    memset(a, 0, sizeof(*a));
    a->size = mem->size / 8;
    int reads = (mem->actions & ZYDIS_OPERAND_ACTION_MASK_READ) != 0;
    int writes = (mem->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
    switch (m) {
    case ZYDIS_MNEMONIC_PUSH: case ZYDIS_MNEMONIC_CALL: case ZYDIS_MNEMONIC_POP: case ZYDIS_MNEMONIC_RET: {
        if (d->operand_width != 64 || mem->visibility != ZYDIS_OPERAND_VISIBILITY_HIDDEN) return OTHER;
        if (m == ZYDIS_MNEMONIC_POP && (ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER || gpr(ops[0].reg.value) == REG_RSP))
            return OTHER; /* pop rsp loads rsp itself */
        int pushes = m == ZYDIS_MNEMONIC_PUSH || m == ZYDIS_MNEMONIC_CALL;
        a->base = REG_RSP;
        a->index = -1;
        a->off = pushes ? -8 : 0;
        a->store = pushes;
        return CERTAIN;
    }
    case ZYDIS_MNEMONIC_MOV: case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX: case ZYDIS_MNEMONIC_MOVSXD:
    case ZYDIS_MNEMONIC_CMP: case ZYDIS_MNEMONIC_TEST: case ZYDIS_MNEMONIC_IMUL:
        if (reads == writes) return OTHER;
        a->store = writes;
        if (m != ZYDIS_MNEMONIC_MOV && writes) return OTHER;
        break;
    case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_ADC: case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC: case ZYDIS_MNEMONIC_NEG: case ZYDIS_MNEMONIC_NOT:
        if (!reads) return OTHER;
        a->rmw = writes;
        break;
    default:
        return OTHER;
    }
    if (mem->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT) return OTHER;
    int segment = mem->mem.segment == ZYDIS_REGISTER_FS || mem->mem.segment == ZYDIS_REGISTER_GS ? (int)mem->mem.segment : 0;
    int base = gpr(mem->mem.base), index = gpr(mem->mem.index);
    if (base == -2 || index == -2 || base == REG_FLAGS || index >= 16) return OTHER;
    if (!segment && (base == REG_RIP || (base == -1 && index == -1))) {
        ZyanU64 at;
        if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(d, mem, vaddr, &at))) return OTHER;
        a->is_static = 1;
        a->address = at;
        return CERTAIN;
    }
    if (base == REG_RIP) return OTHER; /* fs:[rip + x]: keep it simple */
    a->segment = segment;
    a->base = base;
    a->index = index;
    a->scale = index < 0 ? 0 : mem->mem.scale;
    a->off = mem->mem.disp.has_displacement ? mem->mem.disp.value : 0;
    return CERTAIN;
}

/* The run being planned. */
struct open_run {
    int rep;                         /* its representative's instruction, -1: none open */
    int is_static;                   /* every access of it is static (the representative's too) */
    int segment, base, index, scale;
    int64_t delta;                   /* how far the base register moved since the representative started */
    int64_t rep_off;
    int rep_rmw;
    int n;
    struct { int64_t at; uint8_t store, size, absolute; } m[RC_MAX_MEMBERS];
};

static int close_run(struct open_run *r, uint8_t *role, struct rc_run **run)
{
    int rep = r->rep, n = r->n;
    r->rep = -1;
    if (rep < 0) return 0;
    if (n == 0) return 0; /* a representative alone stays a plain access */
    struct rc_run *d = calloc(1, sizeof(*d) + (size_t)n * sizeof(d->at[0]));
    if (!d) return -1;
    d->rep_off = r->rep_off;
    d->rep_rmw = (uint8_t)r->rep_rmw;
    d->n = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        d->at[i] = r->m[i].at;
        d->size[i] = r->m[i].size;
        d->stores |= (uint16_t)(r->m[i].store << i);
        d->absolute |= (uint16_t)(r->m[i].absolute << i);
    }
    role[rep] = RC_REPRESENTATIVE;
    run[rep] = d;
    return n;
}

/* Whether a write of register operand `o` moves the run's base by a known amount (*by). */
static int known_move(const ZydisDecodedInstruction *d, const ZydisDecodedOperand *ops, int o, int64_t *by)
{
    ZydisMnemonic m = d->mnemonic;
    const ZydisDecodedOperand *op = &ops[o];
    if (op->visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN && gpr(op->reg.value) == REG_RSP &&
        (m == ZYDIS_MNEMONIC_PUSH || m == ZYDIS_MNEMONIC_POP || m == ZYDIS_MNEMONIC_CALL)) {
        *by = m == ZYDIS_MNEMONIC_POP ? 8 : -8;
        return d->operand_width == 64;
    }
    if (o != 0 || op->size != 64 || op->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT) return 0;
    if ((m == ZYDIS_MNEMONIC_ADD || m == ZYDIS_MNEMONIC_SUB) && ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        int64_t v = (int64_t)ops[1].imm.value.s;
        *by = m == ZYDIS_MNEMONIC_ADD ? v : -v;
        return 1;
    }
    if (m == ZYDIS_MNEMONIC_INC || m == ZYDIS_MNEMONIC_DEC) {
        *by = m == ZYDIS_MNEMONIC_INC ? 1 : -1;
        return 1;
    }
    if (m == ZYDIS_MNEMONIC_LEA && ops[1].mem.index == ZYDIS_REGISTER_NONE && ops[1].mem.segment != ZYDIS_REGISTER_FS &&
        ops[1].mem.segment != ZYDIS_REGISTER_GS && gpr(ops[1].mem.base) == gpr(op->reg.value) && d->address_width == 64) {
        *by = ops[1].mem.disp.value;
        return 1;
    }
    return 0;
}

/* The instruction's register writes: a run whose base moved by a known amount follows it; any other write of
   its base or index ends it. */
static int apply_writes(const ZydisDecodedInstruction *d, const ZydisDecodedOperand *ops, struct open_run *r,
                        uint8_t *role, struct rc_run **run)
{
    if (r->rep < 0 || r->is_static) return 0;
    for (int o = 0; o < d->operand_count; o++) {
        if (ops[o].type != ZYDIS_OPERAND_TYPE_REGISTER || !(ops[o].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
        int reg = gpr(ops[o].reg.value);
        if (reg < 0 || reg >= 16 || (reg != r->base && reg != r->index)) continue;
        int64_t by;
        if (reg == r->base && reg != r->index && known_move(d, ops, o, &by)) {
            r->delta += by;
            continue;
        }
        return close_run(r, role, run);
    }
    return 0;
}

int rc_plan(size_t n, const uint8_t *const *insns, const uint8_t *len, const uint64_t *vaddr, uint8_t *role,
            struct rc_run **run)
{
    static ZydisDecoder decoder; /* read-only once made; made under the caller's lock the first time */
    static int made;
    if (!made) {
        ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
        made = 1;
    }
    memset(role, RC_PLAIN, n);
    for (size_t i = 0; i < n; i++) run[i] = NULL;
    struct open_run r = { .rep = -1 };
    int total = 0, failed = 0;
#define CLOSED(x) do { int got_ = (x); if (got_ < 0) failed = 1; else total += got_; } while (0)
    for (size_t i = 0; i < n && !failed; i++) {
        ZydisDecodedInstruction d;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        struct access_shape a;
        enum shape s = OTHER;
        if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, insns[i], len[i], &d, ops)) && d.length == len[i])
            s = shape_of(&d, ops, vaddr[i], &a);
        if (s == OTHER) {
            CLOSED(close_run(&r, role, run));
            continue;
        }
        if (s == CERTAIN) {
            int accesses = a.rmw ? 2 : 1;
            int joins = r.rep >= 0 && r.n + accesses <= RC_MAX_MEMBERS &&
                        (a.is_static || (!r.is_static && a.segment == r.segment && a.base == r.base &&
                                         a.index == r.index && a.scale == r.scale));
            if (joins) {
                for (int k = 0; k < accesses; k++) {
                    typeof(&r.m[0]) e = &r.m[r.n++];
                    e->absolute = (uint8_t)a.is_static;
                    e->at = a.is_static ? (int64_t)a.address : r.delta + a.off;
                    e->store = (uint8_t)(a.rmw ? k : a.store);
                    e->size = (uint8_t)a.size;
                }
                role[i] = RC_MEMBER;
            } else {
                CLOSED(close_run(&r, role, run));
                r.rep = (int)i;
                r.is_static = a.is_static;
                r.segment = a.segment;
                r.base = a.base;
                r.index = a.index;
                r.scale = a.scale;
                r.delta = 0;
                r.rep_off = a.off;
                r.rep_rmw = a.rmw;
                r.n = 0;
            }
        }
        CLOSED(apply_writes(&d, ops, &r, role, run));
    }
    if (!failed) CLOSED(close_run(&r, role, run));
#undef CLOSED
    if (failed) {
        memset(role, RC_PLAIN, n);
        for (size_t i = 0; i < n; i++) run[i] = NULL; /* the ones made stay allocated: rare, and harmless */
        return -1;
    }
    return total;
}
