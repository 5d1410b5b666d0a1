/*
 * Consecutive runs (docs/recorder.md, "Consecutive runs"; issue 20): which loads and stores of a translated
 * block need no memory callback of their own because their page follows from an earlier access's address.
 *
 * Within one TB, a run is a representative (an access whose callback QEMU makes) and the members that follow
 * it directly: each member's memory operand has the representative's segment, base, index and scale (the
 * base moved since only by amounts known at translation: push, pop, call, ret on rsp, add/sub of an
 * immediate, inc, dec, lea reg, [reg + disp]; the index not written at all), or is RIP-relative or absolute
 * (its address known at translation). Between the representative and a member, and between members, there is
 * no other memory access and no instruction outside a small list that cannot raise (register moves and ALU,
 * lea, setcc, cmov reg-reg, ...). Representatives and members are only instructions whose access count and
 * kinds under QEMU 7.2 are certain: a plain load or store of at most 8 bytes (mov, movzx, movsx, ALU with a
 * memory source, cmp, test, imul), a read-modify-write (ALU with a memory destination, inc, dec, neg, not:
 * one load, then one store, to the same address, as QEMU 7.2 calls back), push reg/imm, pop reg, call, ret.
 * No lock or rep prefix, no address-size override, no SSE, x87, string, xchg, cmpxchg, bit-test or shift of
 * memory.
 *
 * The representative's callback then appends its own access and each member's, in program order: the access
 * sequence is the one per-access callbacks give. Pure: decoding only, no QEMU or recorder state.
 */
#ifndef PLEXLAB_RUN_CLASSES_H
#define PLEXLAB_RUN_CLASSES_H
#include <stddef.h>
#include <stdint.h>

/* A run's member accesses at most (a read-modify-write member is two). */
#define RC_MAX_MEMBERS 12

/* A representative's descriptor: its memory callbacks' data. Member access i's address is base0 + at[i] (base0 =
   the representative's address - rep_off), or at[i] itself when bit i of `absolute` is set; it is a store when
   bit i of `stores` is set. Laid out for the callback's loop: bit masks and 8 bytes a member. */
struct rc_run {
    int64_t rep_off;  /* the representative's address minus base0 (its displacement; -8 for push and call) */
    uint8_t rep_rmw;  /* it loads, then stores: its members follow its store's callback */
    uint8_t n;        /* member accesses */
    uint16_t stores;
    uint16_t absolute;
    uint8_t size[RC_MAX_MEMBERS]; /* bytes: the fault handler matches a fault address against [address, + size) */
    int64_t at[];
};

enum rc_role {
    RC_PLAIN = 0,     /* a callback per access, as without runs */
    RC_REPRESENTATIVE,
    RC_MEMBER,        /* no callback: its representative's counts it */
};

/* Plans one TB of x86-64 code: role[i] per instruction and, for each representative, *run[i] (malloc'd, never
   freed: generated code keeps pointing at it; NULL for other roles). insns[i] points at instruction i's bytes,
   len[i] is its length, vaddr[i] its guest address. Returns the member accesses planned (0: nothing to save,
   every instruction RC_PLAIN, no run allocated); -1 when out of memory (every instruction RC_PLAIN). */
int rc_plan(size_t n, const uint8_t *const *insns, const uint8_t *len, const uint64_t *vaddr, uint8_t *role,
            struct rc_run **run);

#endif
