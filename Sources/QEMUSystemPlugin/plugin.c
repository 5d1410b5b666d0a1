/*
 * PlexLab's QEMU TCG plugin for whole-system recording (qemu-system-x86_64 10.x, plugin API v4, one vCPU).
 * It reports what the vCPU executes, kernel and user, in the protocol of plexlab_plugin.h (PlexLabWire):
 * SYSTEM_TB records (virtual and physical addresses), PAGE records by physical page, and one thread's
 * EVENTS (executed TB ids, syscalls, interrupts, exceptions, page-table stores, code writes). How each
 * event is found, and its limits, is written down in docs/recorder.md, "System traces".
 *
 * Arguments (-plugin libPlexLabQEMUSystemPlugin.so,fd=N,syscall=HEX,idt=HEX[,window=command|boot|all]
 *            [,clear-page=HEX ...]):
 *   fd          the pipe's write end, inherited from the recorder
 *   syscall     entry_SYSCALL_64 (the kernel's MSR_LSTAR target, from its System.map)
 *   idt         idt_table: the IDT the kernel loads; its gates name the entry of every vector
 *   page-offset the kernel's variable page_offset_base (its value is the direct map of physical memory,
 *               read at the first page-table walk)
 *   clear-page  a clear_page_* routine (up to 4): a page being zeroed is being reallocated, so it stops
 *               being a page table
 *   window      what is recorded: from the init's START mark to its STOP mark (command, the default),
 *               from the first kernel instruction to the START mark (boot), or from the first kernel
 *               instruction until power-off (all)
 *
 * Hot paths: the TB-exec callback appends one u32; the kernel store callback tests two bitmaps.
 * Everything else happens at translation, at first execution of a TB in the window, and at events.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "include/qemu_plugin_api_v4.h"
#include "plexlab_plugin.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define PAGE_MASK (~(uint64_t)(PLEXLAB_PAGE_SIZE - 1))
#define KERNEL_HALF 0xffff800000000000ull /* x86-64 Linux: kernel code runs in the upper canonical half */
#define FRAME_MASK 0x000ffffffffff000ull
#define MAX_PHYS_PAGES (1u << 22)          /* 16 GiB of guest RAM in the bitmaps */
#define BUF_WORDS 65536
#define MAX_EVENT_WORDS 16
#define NO_ID 0xFFFFFFFFu
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

enum window { WINDOW_COMMAND, WINDOW_BOOT, WINDOW_ALL };
enum role { ROLE_PLAIN, ROLE_SYSCALL, ROLE_GATE, ROLE_CLEAR_PAGE };

/* One translation; sent to the recorder at its first execution inside the window. */
struct tb_info {
    uint64_t vaddr;
    uint64_t phys;        /* of the first byte; ~0 when the walk failed */
    uint64_t next_phys;   /* physical page of the second page, 0 when the TB fits in one */
    uint32_t len;
    uint32_t insns;
    uint32_t wire_id;     /* NO_ID until sent */
    uint8_t role;
    uint8_t vector;       /* ROLE_GATE */
    uint8_t *sizes;       /* instruction lengths */
};

/* A physical page whose bytes were sent; `copy` is what was sent last. */
struct sent_page {
    uint64_t page;
    uint8_t *copy;
};

static struct {
    int fd;
    int disabled;
    int finished;
    enum window window;
    int recording;        /* inside the window */
    int seen_kernel;      /* a kernel-half TB has run (the kernel is in 64-bit mode at its own addresses) */
    uint64_t syscall_entry, idt, page_offset_var, page_offset;
    uint64_t clear_page[4];
    int nclear;
    uint64_t gates[256];  /* entry address of each vector, 0 unknown */
    uint32_t next_wire_id;
    uint64_t executed_insns, recorded_insns;
    struct qemu_plugin_register *reg_rax, *reg_rdi, *reg_cr2, *reg_cr3;
    plexlab_gbytearray *regbuf, *membuf;
    uint8_t *pt_pages;    /* bitmap: physical pages in use as page tables */
    uint8_t *code_pages;  /* bitmap: physical pages holding translated code */
    struct sent_page *pages;
    size_t npages, cappages;
    uint32_t n;           /* words in buf */
    uint32_t buf[BUF_WORDS];
    uint8_t out[1 << 18];
    size_t outlen;
    uint8_t scratch[1 << 16];
} S = { .fd = -1 };

/* ---- output ---- */

static void write_all(const void *bytes, size_t n)
{
    const uint8_t *at = bytes;
    while (n > 0 && !S.disabled) {
        ssize_t w = write(S.fd, at, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            S.disabled = 1; /* the recorder is gone: the guest runs on, nothing more is recorded */
            return;
        }
        at += w;
        n -= (size_t)w;
    }
}

static void out_flush(void)
{
    if (S.outlen) write_all(S.out, S.outlen);
    S.outlen = 0;
}

static void emit(uint32_t kind, const void *a, size_t alen, const void *b, size_t blen, const void *c, size_t clen,
                 const void *d, size_t dlen)
{
    if (S.disabled || S.finished) return;
    uint32_t header[2] = { kind, (uint32_t)(alen + blen + clen + dlen) };
    size_t total = 8 + alen + blen + clen + dlen;
    if (total > sizeof(S.out) - S.outlen) out_flush();
    if (total > sizeof(S.out)) { /* a full events buffer: straight to the pipe, in order */
        write_all(header, 8);
        write_all(a, alen); write_all(b, blen); write_all(c, clen); write_all(d, dlen);
        return;
    }
    S.outlen += plexlab_record_put(S.out + S.outlen, kind, a, alen, b, blen, c, clen, d, dlen);
}

/* Sends the buffered events (the vCPU thread is the only writer). */
static __attribute__((noinline)) void flush_events(void)
{
    if (S.n) {
        uint32_t head[2] = { 0, 0 };
        emit(PLEXLAB_REC_EVENTS, head, 8, S.buf, (size_t)S.n * 4, NULL, 0, NULL, 0);
    }
    S.n = 0;
}

static inline uint32_t room(uint32_t words)
{
    if (unlikely(S.n + words > BUF_WORDS)) flush_events();
    return S.n;
}

static void finish(void)
{
    if (S.finished) return;
    flush_events();
    uint32_t head[2] = { PLEXLAB_END_EXIT, 1 };
    uint64_t counts[2] = { S.executed_insns, S.recorded_insns };
    emit(PLEXLAB_REC_END, head, 8, counts, 16, NULL, 0, NULL, 0);
    out_flush();
    S.finished = 1;
}

/* ---- guest state ---- */

static uint64_t read_reg(struct qemu_plugin_register *reg)
{
    if (!reg) return 0;
    S.regbuf->len = 0; /* the API appends */
    int n = qemu_plugin_read_register(reg, S.regbuf);
    uint64_t value = 0;
    if (n > 0) memcpy(&value, S.regbuf->data, n < 8 ? (size_t)n : 8);
    return value;
}

static int read_virtual(uint64_t address, void *into, size_t n)
{
    if (!qemu_plugin_read_memory_vaddr(address, S.membuf, n) || S.membuf->len < n) return 0;
    memcpy(into, S.membuf->data, n);
    return 1;
}

static inline void bit_set(uint8_t *map, uint64_t page) { if (page < MAX_PHYS_PAGES) map[page >> 3] |= (uint8_t)(1u << (page & 7)); }
static inline void bit_clear(uint8_t *map, uint64_t page) { if (page < MAX_PHYS_PAGES) map[page >> 3] &= (uint8_t)~(1u << (page & 7)); }
static inline int bit_test(const uint8_t *map, uint64_t page)
{
    return page < MAX_PHYS_PAGES && (map[page >> 3] >> (page & 7)) & 1;
}

/*
 * Walks the 4-level page tables from CR3 for `va`, reading entries through the kernel's direct map, and
 * marks every table on the path as a page-table page. Returns the physical address, or ~0 when a level
 * is not present (or the walk cannot read it).
 */
static uint64_t walk(uint64_t cr3, uint64_t va)
{
    if (!S.page_offset && !read_virtual(S.page_offset_var, &S.page_offset, 8)) return ~0ull;
    uint64_t table = cr3 & FRAME_MASK;
    static const int shifts[4] = { 39, 30, 21, 12 };
    for (int level = 0; level < 4; level++) {
        bit_set(S.pt_pages, table >> 12);
        uint64_t entry = 0;
        uint64_t index = (va >> shifts[level]) & 511;
        if (!read_virtual(S.page_offset + table + index * 8, &entry, 8)) return ~0ull;
        if (!(entry & 1)) return ~0ull;
        if ((level == 1 || level == 2) && (entry & 0x80)) { /* a 1 GiB or 2 MiB page */
            uint64_t span = 1ull << shifts[level];
            return ((entry & FRAME_MASK) & ~(span - 1)) | (va & (span - 1));
        }
        table = entry & FRAME_MASK;
    }
    return table | (va & 0xfff);
}

/* Rereads the IDT (the kernel fills it in stages during boot). */
static void read_idt(void)
{
    static uint8_t idt[256 * 16];
    if (!S.idt || !read_virtual(S.idt, idt, sizeof(idt))) return;
    for (int v = 0; v < 256; v++) {
        const uint8_t *g = idt + v * 16;
        uint64_t offset = (uint64_t)g[0] | (uint64_t)g[1] << 8 | (uint64_t)g[6] << 16 | (uint64_t)g[7] << 24 |
                          (uint64_t)g[8] << 32 | (uint64_t)g[9] << 40 | (uint64_t)g[10] << 48 | (uint64_t)g[11] << 56;
        int present = g[5] & 0x80;
        S.gates[v] = present ? offset : 0;
    }
}

/* ---- sending translations ---- */

static struct sent_page *sent_page(uint64_t page)
{
    for (size_t i = 0; i < S.npages; i++) if (S.pages[i].page == page) return &S.pages[i];
    return NULL;
}

/* Sends the physical page `page` (whose bytes are at virtual `vpage` now) if it was never sent or changed. */
static void capture(uint64_t page, uint64_t vpage)
{
    static uint8_t bytes[PLEXLAB_PAGE_SIZE];
    if (!read_virtual(vpage, bytes, sizeof(bytes))) return;
    struct sent_page *known = sent_page(page);
    if (known && memcmp(known->copy, bytes, sizeof(bytes)) == 0) return;
    if (!known) {
        if (S.npages == S.cappages) {
            size_t cap = S.cappages ? S.cappages * 2 : 1024;
            struct sent_page *grown = realloc(S.pages, cap * sizeof(*grown));
            if (!grown) return;
            S.pages = grown;
            S.cappages = cap;
        }
        known = &S.pages[S.npages++];
        known->page = page;
        known->copy = malloc(PLEXLAB_PAGE_SIZE);
        if (!known->copy) { S.npages--; return; }
    }
    memcpy(known->copy, bytes, sizeof(bytes));
    emit(PLEXLAB_REC_PAGE, &page, 8, bytes, sizeof(bytes), NULL, 0, NULL, 0);
}

/* First execution of `tb` inside the window: its pages (if new or changed), then its record. */
static __attribute__((noinline)) void send_tb(struct tb_info *tb)
{
    if (tb->len > sizeof(S.scratch) || !read_virtual(tb->vaddr, S.scratch, tb->len)) {
        tb->wire_id = NO_ID - 1; /* never sendable: its executions are skipped (docs/recorder.md) */
        return;
    }
    flush_events(); /* the TB record must precede the events naming it */
    capture(tb->phys & PAGE_MASK, tb->vaddr & PAGE_MASK);
    if (tb->next_phys) capture(tb->next_phys, (tb->vaddr & PAGE_MASK) + PLEXLAB_PAGE_SIZE);
    tb->wire_id = S.next_wire_id++;
    uint32_t head[2] = { tb->wire_id, tb->insns };
    struct { uint64_t vaddr; uint32_t len; uint64_t phys; uint64_t next_phys; } __attribute__((packed)) where =
        { tb->vaddr, tb->len, tb->phys, tb->next_phys };
    emit(PLEXLAB_REC_SYSTEM_TB, head, 8, &where, sizeof(where), tb->sizes, tb->insns, S.scratch, tb->len);
}

/* ---- execution ---- */

static inline void executed(struct tb_info *tb)
{
    S.executed_insns += tb->insns;
    if (!S.recording) return;
    if (unlikely(tb->wire_id >= NO_ID - 1)) {
        if (tb->wire_id == NO_ID - 1) return;
        send_tb(tb);
        if (tb->wire_id == NO_ID - 1) return;
    }
    uint32_t n = room(1);
    S.buf[n] = tb->wire_id;
    S.n = n + 1;
    S.recorded_insns += tb->insns;
}

static void on_tb_exec(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    executed(udata);
}

/* Side events are written before the entry TB's own id: they belong to the TB executed last. */
static void side_event(uint32_t marker, uint32_t a, uint64_t b, int words)
{
    if (!S.recording || S.n == 0) return; /* nothing executed yet in the window: no block to attach to */
    uint32_t n = room(MAX_EVENT_WORDS);
    S.buf[n] = marker;
    S.buf[n + 1] = a;
    if (words >= 3) S.buf[n + 2] = (uint32_t)b;
    if (words >= 4) S.buf[n + 3] = (uint32_t)(b >> 32);
    S.n = n + (uint32_t)words;
}

static void start_window(void)
{
    S.recording = 1;
    S.n = 0;
}

static void on_syscall_entry(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    uint64_t number = read_reg(S.reg_rax);
    if (number == PLEXLAB_MARK_SYSCALL) {
        uint64_t mark = read_reg(S.reg_rdi);
        if (mark == PLEXLAB_MARK_START && S.window == WINDOW_COMMAND && !S.recording) start_window();
        else if (mark == PLEXLAB_MARK_START && S.window == WINDOW_BOOT && S.recording) { finish(); S.recording = 0; }
        else if (mark == PLEXLAB_MARK_STOP && S.window == WINDOW_COMMAND && S.recording) { finish(); S.recording = 0; }
        executed(udata);
        return;
    }
    if (S.recording && S.n > 0) {
        /* SYSCALL: marker, number lo, number hi (plexlab_plugin.h) */
        uint32_t n = room(MAX_EVENT_WORDS);
        S.buf[n] = PLEXLAB_EV_SYSCALL;
        S.buf[n + 1] = (uint32_t)number;
        S.buf[n + 2] = (uint32_t)(number >> 32);
        S.n = n + 3;
    }
    executed(udata);
}

static void on_gate(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    struct tb_info *tb = udata;
    uint8_t v = tb->vector;
    /* Vectors 0-31 are the CPU's exceptions (2, NMI, is asynchronous); the rest are interrupts. */
    if (v < 32 && v != 2) {
        uint64_t address = 0;
        if (v == 14) {
            address = read_reg(S.reg_cr2);
            walk(read_reg(S.reg_cr3), address); /* the tables on the faulting path are page tables */
        }
        side_event(PLEXLAB_EV_EXCEPTION, v, address, 4);
    } else {
        side_event(PLEXLAB_EV_INTERRUPT, v, 0, 2);
    }
    executed(tb);
}

static void on_clear_page(unsigned int vcpu, void *udata)
{
    (void)vcpu;
    uint64_t va = read_reg(S.reg_rdi);
    if (S.page_offset && va >= S.page_offset) bit_clear(S.pt_pages, (va - S.page_offset) >> 12);
    executed(udata);
}

static void on_kernel_store(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)vcpu; (void)udata;
    if (!S.recording) return;
    struct qemu_plugin_hwaddr *hw = qemu_plugin_get_hwaddr(info, vaddr);
    if (!hw || qemu_plugin_hwaddr_is_io(hw)) return;
    uint64_t phys = qemu_plugin_hwaddr_phys_addr(hw);
    uint64_t page = phys >> 12;
    if (unlikely(bit_test(S.pt_pages, page))) side_event(PLEXLAB_EV_PT_STORE, (uint32_t)phys, phys >> 32, 3);
    if (unlikely(bit_test(S.code_pages, page))) {
        /* The first store to a code page since code was last translated there (as qemu-user's plugin). */
        bit_clear(S.code_pages, page);
        if (S.recording && S.n > 0) {
            uint32_t n = room(MAX_EVENT_WORDS);
            S.buf[n] = PLEXLAB_EV_CODE_WRITE;
            S.buf[n + 1] = (uint32_t)phys;
            S.buf[n + 2] = (uint32_t)(phys >> 32);
            S.buf[n + 3] = 1u << qemu_plugin_mem_size_shift(info);
            S.n = n + 4;
        }
    }
}

/* ---- translation ---- */

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
    int kernel = vaddr >= KERNEL_HALF;
    if (kernel && !S.seen_kernel) {
        S.seen_kernel = 1;
        if (S.window != WINDOW_COMMAND) start_window();
    }
    /* Before the kernel runs at its own addresses: firmware, real and protected mode, the decompressor,
       the identity-mapped start of the kernel. Not recorded (docs/recorder.md). */
    if (!S.seen_kernel || n == 0 || S.disabled || S.finished) return;

    struct tb_info *info = calloc(1, sizeof(*info)); /* never freed: generated code points at it */
    if (!info) return;
    info->sizes = malloc(n);
    if (!info->sizes) { free(info); return; }
    uint32_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t size = qemu_plugin_insn_size(qemu_plugin_tb_get_insn(tb, i));
        info->sizes[i] = (uint8_t)size;
        len += (uint32_t)size;
    }
    info->vaddr = vaddr;
    info->len = len;
    info->insns = (uint32_t)n;
    info->wire_id = NO_ID;
    uint64_t cr3 = read_reg(S.reg_cr3);
    info->phys = walk(cr3, vaddr);
    uint64_t last_page = (vaddr + len - 1) & PAGE_MASK;
    if (last_page != (vaddr & PAGE_MASK)) {
        uint64_t next = walk(cr3, last_page);
        info->next_phys = next == ~0ull ? 0 : next & PAGE_MASK;
        if (next == ~0ull) info->phys = ~0ull;
    }
    if (info->phys == ~0ull) info->wire_id = NO_ID - 1; /* no physical page: cannot be stored */
    else {
        bit_set(S.code_pages, info->phys >> 12);
        if (info->next_phys) bit_set(S.code_pages, info->next_phys >> 12);
    }

    info->role = ROLE_PLAIN;
    if (kernel) {
        read_idt();
        if (vaddr == S.syscall_entry) info->role = ROLE_SYSCALL;
        for (int i = 0; i < S.nclear; i++) if (vaddr == S.clear_page[i]) info->role = ROLE_CLEAR_PAGE;
        for (int v = 0; v < 256 && info->role == ROLE_PLAIN; v++) {
            if (S.gates[v] == vaddr) { info->role = ROLE_GATE; info->vector = (uint8_t)v; }
        }
        for (size_t i = 0; i < n; i++)
            qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, i), on_kernel_store, QEMU_PLUGIN_CB_NO_REGS,
                                             QEMU_PLUGIN_MEM_W, NULL);
    }
    switch (info->role) {
    case ROLE_SYSCALL:
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_syscall_entry, QEMU_PLUGIN_CB_R_REGS, info);
        break;
    case ROLE_GATE:
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_gate, QEMU_PLUGIN_CB_R_REGS, info);
        break;
    case ROLE_CLEAR_PAGE:
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_clear_page, QEMU_PLUGIN_CB_R_REGS, info);
        break;
    default:
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS, info);
    }
}

/* ---- lifetime ---- */

static void on_vcpu_init(qemu_plugin_id_t id, unsigned int vcpu)
{
    (void)id; (void)vcpu;
    plexlab_garray *regs = qemu_plugin_get_registers();
    if (!regs) return;
    qemu_plugin_reg_descriptor *d = (qemu_plugin_reg_descriptor *)regs->data;
    for (unsigned int i = 0; i < regs->len; i++) {
        if (strcmp(d[i].name, "rax") == 0) S.reg_rax = d[i].handle;
        else if (strcmp(d[i].name, "rdi") == 0) S.reg_rdi = d[i].handle;
        else if (strcmp(d[i].name, "cr2") == 0) S.reg_cr2 = d[i].handle;
        else if (strcmp(d[i].name, "cr3") == 0) S.reg_cr3 = d[i].handle;
    }
    g_array_free(regs, 1);
}

static void on_exit_cb(qemu_plugin_id_t id, void *udata)
{
    (void)id; (void)udata;
    finish();
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    uint64_t fd = (uint64_t)-1;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        if (!eq) goto bad;
        size_t klen = (size_t)(eq - arg);
        const char *value = eq + 1;
        uint64_t number = 0;
        if (klen == 2 && strncmp(arg, "fd", 2) == 0) {
            if (!plexlab_parse_u64(value, 0, &fd)) goto bad;
        } else if (klen == 7 && strncmp(arg, "syscall", 7) == 0) {
            if (!plexlab_parse_u64(value, 0, &S.syscall_entry)) goto bad;
        } else if (klen == 3 && strncmp(arg, "idt", 3) == 0) {
            if (!plexlab_parse_u64(value, 0, &S.idt)) goto bad;
        } else if (klen == 11 && strncmp(arg, "page-offset", 11) == 0) {
            if (!plexlab_parse_u64(value, 0, &S.page_offset_var)) goto bad;
        } else if (klen == 10 && strncmp(arg, "clear-page", 10) == 0) {
            if (!plexlab_parse_u64(value, 0, &number) || S.nclear == 4) goto bad;
            S.clear_page[S.nclear++] = number;
        } else if (klen == 6 && strncmp(arg, "window", 6) == 0) {
            if (strcmp(value, "command") == 0) S.window = WINDOW_COMMAND;
            else if (strcmp(value, "boot") == 0) S.window = WINDOW_BOOT;
            else if (strcmp(value, "all") == 0) S.window = WINDOW_ALL;
            else goto bad;
        } else {
            goto bad;
        }
        continue;
    bad:
        fprintf(stderr, "plexlab system plugin: bad argument '%s'\n", argv[i]);
        return -1;
    }
    if (!info || !info->system_emulation || strcmp(info->target_name, "x86_64") != 0) {
        fprintf(stderr, "plexlab system plugin: needs qemu-system-x86_64\n");
        return -1;
    }
    if (info->system.smp_vcpus != 1 || info->system.max_vcpus != 1) {
        fprintf(stderr, "plexlab system plugin: records one vCPU (-smp 1)\n");
        return -1;
    }
    if (fd == (uint64_t)-1 || fcntl((int)fd, F_GETFD) < 0 || !S.syscall_entry || !S.idt || !S.page_offset_var) {
        fprintf(stderr, "plexlab system plugin: needs fd=N, syscall=ADDR, idt=ADDR and page-offset=ADDR\n");
        return -1;
    }
    S.fd = (int)fd;
    fcntl(S.fd, F_SETFD, FD_CLOEXEC);
    S.regbuf = g_byte_array_new();
    S.membuf = g_byte_array_new();
    S.pt_pages = calloc(MAX_PHYS_PAGES / 8, 1);
    S.code_pages = calloc(MAX_PHYS_PAGES / 8, 1);
    if (!S.regbuf || !S.membuf || !S.pt_pages || !S.code_pages) return -1;

    uint32_t flags[2] = { PLEXLAB_PROTOCOL_VERSION, PLEXLAB_FLAG_SYSTEM };
    uint64_t limits[2] = { 0, 0 };
    emit(PLEXLAB_REC_HELLO, flags, 8, limits, 16, "x86_64", 6, NULL, 0);
    out_flush();

    qemu_plugin_register_vcpu_init_cb(id, on_vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
