/*
 * The wire protocol between PlexLab's QEMU plugin and the recorder: the one definition of its constants
 * and of the shared-memory ring (docs/recorder.md explains both in prose). The plugin (C) includes this
 * file; the recorder imports it as the header-only C module PlexLabWire, as ChampSim's tracer and
 * simulator share inc/trace_instruction.h, so the two sides cannot drift apart.
 *
 * The plugin writes a stream of records into a ring in shared memory (below), or into a pipe when it is
 * given none. Every record is an 8-byte header
 *     u32 kind, u32 payload length in bytes
 * followed by the payload. Integers are little-endian (plugin and recorder share the host), and nothing
 * is aligned. Records from different guest threads are serialised under one lock; within one thread
 * events keep their order.
 */
#ifndef PLEXLAB_PLUGIN_PROTOCOL_H
#define PLEXLAB_PLUGIN_PROTOCOL_H

#include <stdint.h>
#include <string.h>

#define PLEXLAB_PROTOCOL_VERSION 6
/* The oldest version a reader still accepts: version 3 is version 4 without RUN words (below), version 4 is
   version 5 without DATA_LIST (its data pages come as DATA words, which readers still take), version 5 is
   version 6 without DATA_PAGES (the short form of a DATA_LIST, below). */
#define PLEXLAB_PROTOCOL_OLDEST 3
#define PLEXLAB_PAGE_SIZE 4096

enum plexlab_record_kind {
    /* u32 protocol version, u32 flags (PLEXLAB_FLAG_*), u64 max-insns (0 = none), u64 skip-insns,
       then the QEMU target name (the rest of the payload, no terminator). First record of a stream. */
    PLEXLAB_REC_HELLO = 1,
    /* A translation block as QEMU translated it: u32 tb id (dense from 0, one per translation),
       u32 instruction count n, u64 guest address, u32 byte length b, then n u8 instruction lengths,
       then the b code bytes. Always precedes the first execution of that id. */
    PLEXLAB_REC_TB = 2,
    /* u64 page-aligned guest address, then PLEXLAB_PAGE_SIZE bytes: a code page as it is now. Sent when
       code is first translated on the page and again when its bytes changed (a store hit it, or a
       translation found bytes that differ from the last capture). Precedes the TB records it serves. */
    PLEXLAB_REC_PAGE = 3,
    /* One guest thread's events, in order: u32 thread, u32 zero, then u32 words (see below). */
    PLEXLAB_REC_EVENTS = 4,
    /* A file-backed mapping holding executed code: u64 start, u64 end (guest addresses), u64 file
       offset, then the path (the rest of the payload). */
    PLEXLAB_REC_MODULE = 5,
    /* u32 thread, u32 zero: the guest thread exited; its events are complete. */
    PLEXLAB_REC_THREAD_END = 6,
    /* Last record: u32 reason (PLEXLAB_END_*), u32 threads seen, u64 instructions executed (skipped ones
       included), u64 instructions whose blocks were recorded. */
    PLEXLAB_REC_END = 7,
    /* Which process this stream is (second record of every stream): u32 pid, u32 parent pid,
       u32 origin (PLEXLAB_ORIGIN_*), u32 fork serial (origin fork: the FORK record of the parent this
       child comes from), u32 next tb id (origin fork: ids below it were defined by the parent), u32 zero,
       then QEMU's command line as /proc/self/cmdline has it (NUL-separated). */
    PLEXLAB_REC_PROCESS = 8,
    /* Sent by a process just before fork, with every thread flushed: u32 fork serial (1, 2, ... per
       process), u32 forking thread. The child's stream starts from the state at this point. */
    PLEXLAB_REC_FORK = 9,
    /* The guest is about to be replaced by execve of a followed program (u32 zero, u32 zero); if the exec
       fails the stream goes on. */
    PLEXLAB_REC_EXEC = 10,
    /* The guest called exit_group (or exit): u32 status, u32 zero. */
    PLEXLAB_REC_EXIT = 11,
    /* The guest's wait4/waitpid/waitid reaped a child: u32 pid, u32 wait status as wait4 gives it (exit
       code << 8, or the signal number, with 0x80 when it dumped core). Only exits and deaths. */
    PLEXLAB_REC_REAPED = 12,
    /* The guest calls execve of a program the plugin cannot follow: u32 zero, u32 zero, then why (text).
       QEMU's own execve runs it unrecorded (or fails, and the stream goes on). */
    PLEXLAB_REC_EXEC_UNFOLLOWED = 13,
    /* System mode (QEMUSystemPlugin, docs/recorder.md "System traces"): a translation block as TB, with
       its guest physical addresses: u32 tb id, u32 instruction count n, u64 guest virtual address, u32 byte
       length b, u64 physical address of the first byte, u64 physical page of the TB's second page (0 when it
       fits in one page), then n u8 instruction lengths, then the b code bytes. PAGE records of a system
       stream carry physical page addresses. */
    PLEXLAB_REC_SYSTEM_TB = 14,
};

enum plexlab_origin {
    PLEXLAB_ORIGIN_START = 0, /* the program the recorder started */
    PLEXLAB_ORIGIN_FORK = 1,  /* a fork (or vfork, or clone without CLONE_VM) of a recorded process */
    PLEXLAB_ORIGIN_EXEC = 2,  /* a program a recorded process started with execve */
};

enum plexlab_flags {
    PLEXLAB_FLAG_DATA_PAGES = 1,
    PLEXLAB_FLAG_SYSTEM = 2, /* a whole-system stream (qemu-system): SYSTEM_TB records, physical pages */
    PLEXLAB_FLAG_TOUCH_CACHE = 4, /* with data pages: a TB execution without DATA_LIST repeats its cached touches */
};

enum plexlab_end_reason {
    PLEXLAB_END_EXIT = 0,      /* the guest exited or died of a signal (the recorder sees which) */
    PLEXLAB_END_MAX_INSNS = 1, /* --max-insns reached: the plugin ended the guest with exit status 0 */
};

/*
 * The words of an EVENTS record. A word below PLEXLAB_EV_FIRST_MARKER is the id of a TB that started
 * executing. A marker word starts a side event that belongs to the TB executed last:
 *   CODE_WRITE: addr lo, addr hi, size               (4 words in all)
 *   SYSCALL:    number lo, number hi                 (3 words)
 *   DATA:       page lo, page hi, reads, writes      (5 words)
 * A code write is the first store to a page holding translated code since code was last translated
 * there (QEMU write-protects such pages; the plugin sees the protection fault). The address is the
 * first byte that faulted and the size is 1: the fault does not tell the access size. DATA words
 * appear only in streams of protocol 3 and 4; protocol 5 sends DATA_LIST (below). The reader still
 * accepts them: per executed TB and page, the loads and stores it made (summed per page).
 *
 * Data pages, protocol 5 (docs/recorder.md, "Data pages on the wire"):
 *   DATA_LIST:  n, then n times (page lo, page hi, reads, writes)     (2 + 4n words)
 * the loads and stores per page of the TB executed last, pages in the order of their first access. The
 * plugin sends a TB execution's lists after its side events and before the thread's next TB id (a list
 * never ends a code write's restart window: the reader keeps the code write as the last event). A TB
 * touching more than PLEXLAB_TOUCH_PENDING pages sends several lists; the reader sums them per page.
 * Without PLEXLAB_FLAG_TOUCH_CACHE a TB that touched nothing sends no list. With it (the default), each
 * thread keeps a direct-mapped cache of PLEXLAB_TOUCH_CACHE_SLOTS entries, slot = tb id mod slots, on both
 * sides, and this rule decides everything:
 *   - a TB execution followed by exactly one list of at most PLEXLAB_TOUCH_CACHE_PAGES pages stores that
 *     list (possibly empty) in its slot, tagged with the tb id; one followed by a longer list or by several
 *     lists empties the slot;
 *   - a TB execution followed by no list before the thread's next TB id touched exactly what its slot
 *     holds, and the slot holds this tb id's list (the plugin sends a list whenever that is not so).
 * A TB execution that is the thread's last one (thread exit, process exit, execve) always gets a list:
 * at the end of a stream no next id tells the reader that nothing followed on purpose. A thread killed by
 * a signal may lose its last TB's touches. Slots start empty for every new thread (and in a forked child).
 */
#define PLEXLAB_EV_DATA_LIST 0xFFFFFFF8u /* F4-F6 are system events */
#define PLEXLAB_TOUCH_CACHE_SLOTS 4096u
#define PLEXLAB_TOUCH_CACHE_PAGES 4u
#define PLEXLAB_TOUCH_PENDING 16u
/*
 * DATA_PAGES (protocol 6): the short form of a DATA_LIST, the same list in 1 + 2n words instead of 2 + 4n:
 *   DATA_PAGES + n (n = 0 ... PLEXLAB_TOUCH_PENDING), then n times
 *     page number lo (page >> 12, low 32 bits),
 *     reads | writes << 14 | (page number >> 32) << 28
 * for lists whose counts are below 2^14 and whose pages are below 2^48 (any other list goes as DATA_LIST). It
 * is a list in every rule above. Reader and writer: plexlab_data_pages_fits, plexlab_data_page_word.
 */
#define PLEXLAB_EV_DATA_PAGES 0xFFFFFF10u /* to 0xFFFFFF20 */
#define PLEXLAB_DATA_PAGES_COUNT_BITS 14u

static inline int plexlab_data_pages_fits(uint64_t page, uint32_t reads, uint32_t writes)
{
    return (page >> 48) == 0 && reads < (1u << PLEXLAB_DATA_PAGES_COUNT_BITS) &&
           writes < (1u << PLEXLAB_DATA_PAGES_COUNT_BITS);
}

/* The second word of a DATA_PAGES entry. */
static inline uint32_t plexlab_data_page_word(uint64_t page, uint32_t reads, uint32_t writes)
{
    return reads | writes << PLEXLAB_DATA_PAGES_COUNT_BITS | (uint32_t)(page >> 44) << (2 * PLEXLAB_DATA_PAGES_COUNT_BITS);
}

#define PLEXLAB_EV_FIRST_MARKER 0xFFFFFF00u
/*
 * RUN (protocol 4, user mode):  count                (2 words)
 * `count` TBs executed, each the one its thread's successor table predicts (issue 20: the stream shrinks
 * at the source). Every thread of a stream keeps a table of PLEXLAB_SUCCESSOR_SLOTS u32, all 0 when its
 * first event comes (a new thread, and the one thread of a forked child), and `prev`, 0 likewise. For every
 * executed TB id t, given as a word or by a RUN, the writer and every reader do
 *     slot = prev & (PLEXLAB_SUCCESSOR_SLOTS - 1); next[slot] = t; prev = t
 * and a RUN stands for ids t = next[prev & mask] one after another, so reading it needs only the table.
 * The plugin writes a RUN when next[slot] already equals the id, a plain word otherwise. Side events are
 * never inside a run: a side event after hits closes the RUN, and later hits start a new one. Two RUNs in
 * a row add up (a signal-time flush may send a run that is still growing; its later hits follow as a RUN).
 * With runs=off the plugin writes every id as a word (the table is kept by readers all the same).
 */
#define PLEXLAB_EV_RUN 0xFFFFFFF0u
#define PLEXLAB_SUCCESSOR_SLOTS 32768u
#define PLEXLAB_EV_CODE_WRITE 0xFFFFFFF1u
#define PLEXLAB_EV_SYSCALL 0xFFFFFFF2u
#define PLEXLAB_EV_DATA 0xFFFFFFF3u
/*
 * System-mode side events (they belong to the TB executed last, like the others):
 *   INTERRUPT:  vector                               (2 words) asynchronous delivery through the IDT
 *   EXCEPTION:  vector, address lo, address hi       (4 words) address = CR2 for #PF (vector 14), else 0
 *   PT_STORE:   physical address lo, hi              (3 words) a store to a page used as a page table
 * In a system stream CODE_WRITE carries a physical address and SYSCALL the guest's RAX at entry.
 */
#define PLEXLAB_EV_INTERRUPT 0xFFFFFFF4u
#define PLEXLAB_EV_EXCEPTION 0xFFFFFFF5u
#define PLEXLAB_EV_PT_STORE 0xFFFFFFF6u

/* The guest init's window marks: syscall(PLEXLAB_MARK_SYSCALL, PLEXLAB_MARK_START or _STOP) (an unused
   number: the kernel answers ENOSYS). */
#define PLEXLAB_MARK_SYSCALL 0x504C58u
#define PLEXLAB_MARK_START 1u
#define PLEXLAB_MARK_STOP 2u

/* Lays out one record, its header then up to four pieces of payload (a NULL piece has length 0), at `at`;
   returns its size. Both plugins buffer their small records this way. */
static inline size_t plexlab_record_put(uint8_t *at, uint32_t kind, const void *a, size_t alen, const void *b,
                                        size_t blen, const void *c, size_t clen, const void *d, size_t dlen)
{
    uint32_t header[2] = { kind, (uint32_t)(alen + blen + clen + dlen) };
    memcpy(at, header, 8);
    size_t n = 8;
    if (alen) { memcpy(at + n, a, alen); n += alen; }
    if (blen) { memcpy(at + n, b, blen); n += blen; }
    if (clen) { memcpy(at + n, c, clen); n += clen; }
    if (dlen) { memcpy(at + n, d, dlen); n += dlen; }
    return n;
}

/* The largest payload a reader accepts (the plugin's largest record, a TB, is under 70 KiB). */
#define PLEXLAB_MAX_PAYLOAD (1u << 22)

/*
 * The ring: one per recorded process, a shared memory file (memfd) the recorder creates and hands to the
 * plugin as ring=FD, beside the pipe fd=FD that then carries no data and only tells the recorder when the
 * process is gone (end of file). Layout: this 4096-byte header, then `capacity` bytes (a power of two)
 * holding the stream at offsets modulo capacity. One producer (the plugin, under its lock) and one
 * consumer (the recorder): `head` counts bytes ever published, `tail` bytes ever consumed; each side
 * writes only its own counter (release) and reads the other's (acquire). Bytes are published in any
 * pieces, records may wrap. The producer waits while the ring is full (no system call per batch
 * otherwise); the consumer polls the pipe with a short timeout while it is empty.
 *
 * Process trees (plugin argument rings=on with sock=): a forked child or an exec'd program creates its own
 * ring (a memfd of PLEXLAB_RING_CAPACITY, header filled in), connects to the recorder's socket and sends,
 * as the first message on it, the u32 PLEXLAB_RING_MAGIC with the ring's descriptor attached (SCM_RIGHTS).
 * The stream then goes into that ring and the connection, like the pipe, only says when the process is gone.
 */
#define PLEXLAB_RING_MAGIC 0x474E5252u /* "RRNG" */
/* What a ring holds when the plugin creates it itself (below) and what the recorder gives the first process. */
#define PLEXLAB_RING_CAPACITY (32u << 20)
#define PLEXLAB_RING_VERSION 1u
#define PLEXLAB_RING_HEADER_SIZE 4096u

struct plexlab_ring_header {
    uint32_t magic;
    uint32_t version;
    uint64_t capacity;
    uint64_t pad0[6];
    uint64_t head;      /* own cache line: written by the producer only */
    uint64_t pad1[7];
    uint64_t tail;      /* own cache line: written by the consumer only */
    uint64_t pad2[7];
};

/* The recorder's side of a ring handed over a connection: waits up to `timeout_ms` for the first message and
   returns the descriptor it carries (close-on-exec), or -1 (the process went away first, or sent something else).
   Defined in plexlab_wire.c. */
int plexlab_receive_ring(int sock, int timeout_ms);
/* The pid of the process at the other end of a Unix socket connection (SO_PEERCRED), or 0. */
int plexlab_peer_pid(int sock);

static inline uint64_t plexlab_ring_load_head(const struct plexlab_ring_header *ring)
{
    return __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
}

static inline uint64_t plexlab_ring_load_tail(const struct plexlab_ring_header *ring)
{
    return __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
}

static inline void plexlab_ring_store_head(struct plexlab_ring_header *ring, uint64_t value)
{
    __atomic_store_n(&ring->head, value, __ATOMIC_RELEASE);
}

static inline void plexlab_ring_store_tail(struct plexlab_ring_header *ring, uint64_t value)
{
    __atomic_store_n(&ring->tail, value, __ATOMIC_RELEASE);
}

#endif
