/*
 * PlexLab's QEMU TCG plugin (QEMU 7.2, plugin API v1, user mode). It reports translations, code pages,
 * executed TBs per guest thread, code writes, syscalls, optional data-page touches and module mappings
 * to the recorder through a shared-memory ring (or a pipe), in the protocol of plexlab_plugin.h (PlexLabWire).
 *
 * Arguments (-plugin libPlexLabQEMUPlugin.so,fd=N[,ring=N][,max-insns=N][,errfd=N][,skip-insns=N][,data-pages=on]):
 *   fd          the pipe's write end, inherited from the recorder (moved to a high number at install); with
 *               ring= it carries no data: its end tells the recorder that the process is gone
 *   ring        a shared memory file laid out as plexlab_plugin.h's ring: the stream goes there, with no
 *               system call unless the ring is full
 *   max-insns   stop after this many recorded instructions: flush, send END and exit the guest (status 0)
 *   skip-insns  send no executed TBs (nor side events) before this many instructions; translations and
 *               page captures are still sent, so the first recorded TB can be decoded
 *   data-pages  also count loads and stores per executed TB and data page
 *   touch-cache with data-pages: off sends every TB execution's touches (the default, on, sends only those
 *               that differ from the TB's last execution on the thread: plexlab_plugin.h, DATA_LIST)
 *   errfd       a pipe to the recorder that stands in for stderr until the first translation: what QEMU
 *               writes while loading the program (e.g. "Invalid ELF image") reaches the recorder, which
 *               puts it in its own error line; the guest never runs with it (stderr is restored first)
 *   sock        follow the process tree (process.c): the recorder's Unix socket, which forked children
 *               and exec'd programs connect to for their own stream; qemu64= and qemu32= name the
 *               qemu-user binaries an execve is rewritten to. Without fd, the stream is opened on sock.
 *   rings       with sock: each forked child and exec'd program makes its own ring and hands it to the
 *               recorder over its connection (plexlab_plugin.h); without it their stream goes into the socket
 *   runs        off: every executed TB as its id word (protocol 3's stream); default on: TBs that the
 *               thread's successor table predicts are counted in RUN words (plexlab_plugin.h)
 *
 * Hot paths: the TB-exec callback looks up the thread's successor table and either adds one to the open
 * run's count or appends one u32 to the thread's buffer; the store callback tests one bit of a filter of
 * code pages. Everything that allocates or writes to the pipe happens at translation, at buffer flushes and
 * in rare events. With data pages every load and store calls on_access_bit (QEMU 7.2 has no cheaper way to
 * see an address). Calling back only once per static address class of a TB (accesses through the same base
 * and index registers, a constant apart) was measured and not built: it would skip 61 % of gzip's callbacks
 * and 34-40 % of python3's and sqlite3's, too little for 3x plain (docs/recorder.md, "Address classes";
 * scripts/floor-plugin/address-classes.c). Its exact form, consecutive runs, was built and measured no faster
 * (docs/recorder.md, "Consecutive runs"; tag experiment/consecutive-runs).
 *
 * The state is one static struct: a plugin is loaded once per QEMU process.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <limits.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include "include/qemu_plugin_api.h"
#include "plexlab_plugin.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define PAGE_MASK (~(uint64_t)(PLEXLAB_PAGE_SIZE - 1))
#define MAX_VCPUS 4096
#define BUF_WORDS 16384          /* 64 KiB per thread before a flush */
#define MAX_EVENT_WORDS 16       /* kept free after every executed TB (code writes need no flush) */
#define TB_SLAB 4096
#define HIGH_FD 900
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Handed to the exec callback of one translation. */
struct tb_info {
    uint32_t id;
    uint32_t insns;
};

/* A page on which code was translated; `copy` is its last captured content. */
struct code_page {
    uint64_t page;
    uint8_t *copy;
    uint32_t dirty; /* a store hit the page since the last capture */
};

/* Open-addressing set of code pages. Grown by copying; old tables are never freed because the SIGSEGV
   handler on another thread may still be probing one. */
struct page_table {
    size_t mask;
    size_t count;
    struct {
        uint64_t key; /* page | 1, 0 = empty */
        struct code_page *page;
    } *slots;
};

/* Data pages: one page's loads (rw[0]) and stores (rw[1]) in one TB execution. */
struct touch {
    uint64_t page;
    union {
        uint32_t rw[2];
        uint64_t both; /* counted and compared as one word: a 64-bit load of two 32-bit stores would stall */
    };
};

/* Data pages: the first SEQ_CAP accesses of one TB execution are kept as they come, page | 1 for a store,
   straight into the TB's slot of the thread's touch cache, each compared with the value it overwrites
   (compare as you go: no loop at the TB's end). A longer execution is summed per page in `pending` instead
   (note_access_long). */
#define SEQ_CAP 15

/* A thread's touch cache (plexlab_plugin.h, DATA_LIST): PLEXLAB_TOUCH_CACHE_SLOTS slots of 128 bytes, 64-byte
   aligned, each a tag and a sequence of SEQ_CAP values, so that the tag and a short sequence share one cache
   line. A tag is (tb id + 1) << 8 | k: the slot's first k values are that TB's last execution's access
   sequence, whose touch list the reader's slot holds (equal sequences give equal lists); 0 = empty. */
#define TAG_BITS 8
#define SLOT_WORDS (1 + SEQ_CAP)

struct vcpu {
    uint32_t n;         /* words in buf (published with release stores for the exit-time flushers) */
    uint32_t sent;      /* words of buf already sent by a signal-time flush (under S.lock) */
    uint32_t prev;      /* successor table: the TB executed last (0 before the first) */
    uint32_t run_at;    /* the open RUN's count word in buf (the last word), 0 = no run open */
    uint32_t signal_run;   /* buf[sent - 1] is the count of a RUN a signal-time flush sent while it was open, */
    uint32_t signal_count; /* with this count: hits it got since then are sent as a RUN of their own */
    uint32_t thread;    /* PlexLab thread id: serial of vCPU creation (QEMU reuses vCPU indices) */
    uint32_t recording; /* past skip-insns */
    uint64_t insns;     /* instructions of recorded TBs */
    struct vcpu *next_free; /* on S.free_vcpus: an exited thread's, for the next new thread */
    /* Data pages: the accesses of the TB executing now (tb id + 1 in pending_tb; 0 = none, e.g. before
       skip-insns), written over its cache slot's sequence (`seq`) as they come; `differ` is the OR of every
       access XOR the value it replaced, so the next TB's start tests one word, the tag, and nothing else. */
    uint32_t pending_tb;
    uint32_t k;          /* accesses so far; SEQ_CAP + 1: a long execution, summed in pending */
    uint64_t differ;     /* 0, or 1 when an access differed from its slot's value */
    uint64_t *seq;       /* the pending TB's slot's sequence (its tag is seq[-1]), or scratch + 1 (no cache, or
                            no TB pending: scratch[0] = 0, a tag that matches nothing) */
    uint64_t *touch_cache; /* the slots (SLOT_WORDS above), with data pages and the cache on; else NULL */
    uint32_t npending;
    uint32_t spilled;    /* lists sent for the pending TB already (it touched more than PLEXLAB_TOUCH_PENDING pages) */
    uint64_t scratch[SLOT_WORDS];
    struct touch pending[PLEXLAB_TOUCH_PENDING];
    uint32_t buf[BUF_WORDS + 2]; /* + 2: code writes may fill it to BUF_WORDS during a TB (note_code_write), and
                                    the next exec callback appends (an id, or RUN 1) before it flushes */
    uint32_t next[PLEXLAB_SUCCESSOR_SLOTS]; /* successor table (plexlab_plugin.h, RUN) */
};

struct mapping {
    uint64_t start, end, offset; /* guest addresses */
    char *path;                  /* NULL for anonymous */
};

static struct {
    pthread_mutex_t lock; /* pipe writes, translation bookkeeping, vCPU creation */
    int fd;
    struct plexlab_ring_header *ring; /* the shared-memory ring, or NULL: the stream goes into fd */
    uint8_t *ring_data;
    uint64_t ring_mask;
    int saved_stderr; /* the real stderr while errfd stands in for it, else -1 */
    int disabled;  /* forked child or broken pipe: write nothing */
    int finished;  /* END sent */
    int data_pages;
    int store_bit;   /* data pages: the meminfo's store bit is read directly (on_access_bit) */
    int touch_cache; /* data pages: touches repeated from the thread's cache are not sent (touch-cache=off: all are) */
    int limited;   /* max-insns or skip-insns given */
    int64_t execve_number, execveat_number; /* the guest's syscall numbers */
    int wrapped_signals;
    uint64_t max_insns, skip_insns;
    uint64_t executed;      /* with limits: every executed instruction (atomic) */
    uint64_t exited_insns;  /* with limits: recorded instructions of threads that exited */
    uint32_t next_tb_id;
    uint32_t next_thread;
    int have_guest_base;
    uint64_t guest_base;    /* host address - guest address (constant in user mode) */
    struct vcpu *vcpus[MAX_VCPUS];
    struct vcpu *free_vcpus; /* exited threads' records, reused: memory follows the live threads */
    struct page_table *pages;
    struct tb_info *slab;
    size_t slab_used;
    uint8_t scratch[1 << 16];   /* TB bytes during translation */
    uint8_t out[1 << 18];       /* records not sent yet */
    size_t outlen;
    uint8_t sizes[1024];        /* TB instruction lengths */
    struct mapping *maps;       /* last read of /proc/self/maps */
    size_t nmaps;
    struct mapping *sent;       /* modules already sent */
    size_t nsent, capsent;
    int64_t exit_number, exit_group_number;
    const char *target;
    /* Process following (process.c): */
    char *sock_path;           /* NULL: not following (forked children record nothing, execve is QEMU's) */
    char *qemu64, *qemu32;     /* what a followed execve runs */
    char *plugin_spec;         /* this plugin and its arguments, for the -plugin option of an exec'd QEMU */
    uint32_t forks;            /* FORK records sent by this process */
    char *tree_arch;           /* the recorded tree's target; a process of another one is foreign */
    int foreign;               /* another architecture: only how it ends and what it starts is sent */
    int64_t wait4_number, waitpid_number, waitid_number;
    int rings;                 /* rings=on: processes on the socket make their own ring */
    int no_runs;               /* runs=off: every executed TB as its id word */
} S = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1, .saved_stderr = -1, .touch_cache = 1 };

static void touches_finish(struct vcpu *v, int locked);
static void touch_cache_clear(struct vcpu *v);
static void touch_cache_alloc(struct vcpu *v);

/* Puts the real stderr back (before any guest code runs); the recorder then sees EOF on errfd. */
static void restore_stderr(void)
{
    if (S.saved_stderr < 0) return;
    dup2(S.saved_stderr, 2);
    close(S.saved_stderr);
    S.saved_stderr = -1;
}

/* ---- output ---- */

/* Whether the recorder is gone: the read end of the pipe was closed (a write would fail). */
static int recorder_gone(void)
{
    struct pollfd p = { .fd = S.fd, .events = 0 };
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

static void write_all(const struct iovec *iov, int n);

/* Maps the ring in `fd` (closed here) as the stream's destination; 0 if it is not a PlexLab ring. */
static int ring_map(int fd)
{
    struct plexlab_ring_header header;
    void *map = MAP_FAILED;
    if (pread(fd, &header, sizeof(header), 0) == (ssize_t)sizeof(header) && header.magic == PLEXLAB_RING_MAGIC &&
        header.version == PLEXLAB_RING_VERSION && header.capacity >= 4096 &&
        (header.capacity & (header.capacity - 1)) == 0)
        map = mmap(NULL, PLEXLAB_RING_HEADER_SIZE + header.capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return 0;
    S.ring = map;
    S.ring_data = (uint8_t *)map + PLEXLAB_RING_HEADER_SIZE;
    S.ring_mask = header.capacity - 1;
    return 1;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#define POPULATE_STEP (1u << 20)
#define POPULATE_AHEAD (4u << 20)

/* Faults the ring's pages in ahead of the writer, on a thread of its own: otherwise the guest's thread takes
   a page fault (a fresh zeroed page) for every 4 KiB of the ring's first pass, 8192 faults for a 32 MiB ring
   (perf of gzip's guest run: 30-40 ms of the guest thread's kernel time; the floor plugin has none). It stays
   ahead of the ring's head by 1 MiB plus what was written so far, at most POPULATE_AHEAD, so a short process
   populates little (populating 8 MiB at once cost /bin/true 6 ms), and ends once the whole ring is in.
   Touches nothing but the ring's page tables (MADV_POPULATE_WRITE keeps the bytes) and reads the head. */
static void *populate_ring(void *arg)
{
    struct plexlab_ring_header *ring = arg;
    uint8_t *data = (uint8_t *)ring + PLEXLAB_RING_HEADER_SIZE;
    uint64_t capacity = ring->capacity;
    long wait = 1000000; /* ns; doubled up to 16 ms while the writer is far behind (a slow or idle guest) */
    for (uint64_t done = 0; done < capacity;) {
        uint64_t head = plexlab_ring_load_head(ring);
        uint64_t ahead = head + POPULATE_STEP < POPULATE_AHEAD ? head + POPULATE_STEP : POPULATE_AHEAD;
        if (done >= head + ahead) {
            struct timespec pause = { 0, wait };
            nanosleep(&pause, NULL);
            if (wait < 16000000) wait *= 2;
            continue;
        }
        wait = 1000000;
        uint64_t step = capacity - done < POPULATE_STEP ? capacity - done : POPULATE_STEP;
        if (madvise(data + done, step, MADV_POPULATE_WRITE) != 0) break; /* an older kernel: faults as before */
        done += step;
    }
    return NULL;
}

/* Starts populate_ring on the ring in use (at install: the first process's ring, or an exec'd program's).
   Every signal is blocked on that thread, so QEMU's handlers never run on a thread that is not a vCPU's. */
static void start_ring_populate(void)
{
    if (!S.ring) return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_t thread;
    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 << 10);
        pthread_create(&thread, &attr, populate_ring, S.ring);
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Drops the ring mapping (a forked child must never write into its parent's ring). */
static void ring_unmap(void)
{
    if (S.ring) munmap(S.ring, PLEXLAB_RING_HEADER_SIZE + S.ring_mask + 1);
    S.ring = NULL;
}

/* Copies bytes into the ring and publishes them. Caller holds S.lock (or is the signal-time flusher that
   took it). Waits only while the ring is full; async-signal-safe. */
static void ring_write(const uint8_t *bytes, size_t n)
{
    struct plexlab_ring_header *ring = S.ring;
    uint64_t capacity = S.ring_mask + 1;
    uint64_t head = ring->head; /* only this side writes it */
    unsigned waits = 0;
    while (n > 0 && !S.disabled) {
        uint64_t room = capacity - (head - plexlab_ring_load_tail(ring));
        if (room == 0) {
            /* Full: the recorder is behind. Check now and then that it still exists; if it is gone, the rest
               goes to the pipe, which fails as it did without a ring (SIGPIPE to the guest, or EPIPE and
               nothing more is recorded), so a guest never runs on unseen for long after its recorder died. */
            if ((++waits & 255) == 0 && recorder_gone()) {
                S.ring = NULL;
                struct iovec rest = { (void *)bytes, n };
                write_all(&rest, 1);
                return;
            }
            struct timespec pause = { 0, 20000 };
            nanosleep(&pause, NULL);
            continue;
        }
        uint64_t at = head & S.ring_mask;
        size_t piece = n;
        if (piece > room) piece = (size_t)room;
        if (piece > capacity - at) piece = (size_t)(capacity - at);
        memcpy(S.ring_data + at, bytes, piece);
        head += piece;
        plexlab_ring_store_head(ring, head);
        bytes += piece;
        n -= piece;
    }
}

static void write_all(const struct iovec *iov, int n)
{
    if (S.ring) {
        int i = 0;
        for (; i < n && S.ring; i++) ring_write(iov[i].iov_base, iov[i].iov_len);
        if (i < n && !S.ring) write_all(iov + i, n - i); /* the recorder went away: the pipe says so */
        return;
    }
    struct iovec v[6];
    memcpy(v, iov, sizeof(v[0]) * n);
    int i = 0;
    while (i < n && !S.disabled) {
        ssize_t w = writev(S.fd, v + i, n - i);
        if (w < 0) {
            if (errno == EINTR) continue;
            S.disabled = 1; /* the recorder is gone; keep the guest running, record nothing */
            return;
        }
        while (i < n && (size_t)w >= v[i].iov_len) { w -= v[i].iov_len; i++; }
        if (i < n) { v[i].iov_base = (char *)v[i].iov_base + w; v[i].iov_len -= w; }
    }
}

/* Caller holds S.lock. Sends what `emit4` buffered. */
static void out_flush(void)
{
    if (S.outlen && !S.disabled) {
        struct iovec iov = { S.out, S.outlen };
        write_all(&iov, 1);
    }
    S.outlen = 0;
}

/* Caller holds S.lock. Small records (translations, pages) collect in S.out, so that a translation costs
   no system call; a record that does not fit goes out together with the buffer in one writev. Records
   keep their order either way. */
static void emit4(uint32_t kind, const void *a, size_t alen, const void *b, size_t blen, const void *c, size_t clen,
                  const void *d, size_t dlen)
{
    if (S.disabled || S.finished) return;
    uint32_t header[2] = { kind, (uint32_t)(alen + blen + clen + dlen) };
    size_t total = 8 + alen + blen + clen + dlen;
    if (total <= sizeof(S.out) - S.outlen) {
        S.outlen += plexlab_record_put(S.out + S.outlen, kind, a, alen, b, blen, c, clen, d, dlen);
        return;
    }
    struct iovec iov[6] = { { S.out, S.outlen }, { header, 8 }, { (void *)a, alen }, { (void *)b, blen },
                            { (void *)c, clen }, { (void *)d, dlen } };
    write_all(iov, 6);
    S.outlen = 0;
}

static void emit(uint32_t kind, const void *a, size_t alen, const void *b, size_t blen, const void *c, size_t clen)
{
    emit4(kind, a, alen, b, blen, c, clen, NULL, 0);
}

/* The vCPU of the calling host thread (each guest thread runs on its own host thread), for the SIGSEGV
   handler; initial-exec so that reading it from a signal handler never allocates. */
static __thread struct vcpu *tls_vcpu __attribute__((tls_model("initial-exec")));

/*
 * Caller holds S.lock. Sends v's published words past v->sent as one EVENTS record and moves v->sent past
 * them. `quiet`: v's exec callback is not running (the caller is v's own thread, or the other threads are
 * stopped), so every word goes, an open RUN included; otherwise the open RUN (its count still growing on
 * v's thread) stays for later. The open RUN's count word is only ever changed by one `add` instruction, so
 * a signal handler on v's thread reads it whole. A RUN sent open is noted (signal_run); the hits it got
 * since are sent first the next time, as a RUN of their own.
 */
static void send_events(struct vcpu *v, int quiet)
{
    uint32_t n = __atomic_load_n(&v->n, __ATOMIC_ACQUIRE);
    uint32_t open = __atomic_load_n(&v->run_at, __ATOMIC_ACQUIRE);
    int open_last = open != 0 && open + 1 == n; /* the open RUN is the last published word */
    uint32_t end = !quiet && open_last && n - 2 >= v->sent ? n - 2 : n;
    uint32_t extra[2] = { PLEXLAB_EV_RUN, 0 };
    if (v->signal_run && (quiet || end > v->sent)) {
        /* Words after it (end > sent) mean that RUN was closed: its count is final. */
        uint32_t now = v->buf[v->sent - 1];
        extra[1] = now - v->signal_count;
        v->signal_count = now;
        if (end > v->sent || !open_last) v->signal_run = 0;
    }
    if (end > v->sent || extra[1] != 0) {
        uint32_t head[2] = { v->thread, 0 };
        emit(PLEXLAB_REC_EVENTS, head, 8, extra, extra[1] ? 8 : 0, v->buf + v->sent, (size_t)(end - v->sent) * 4);
    }
    if (quiet && open_last && end > v->sent) {
        v->signal_run = 1;
        v->signal_count = v->buf[n - 1];
    }
    v->sent = end;
}

/* Caller holds S.lock, and v's exec callback is not running. Sends the thread's buffered events and empties
   the buffer (an open RUN is closed: the next hit opens another). */
static void flush_locked(struct vcpu *v)
{
    send_events(v, 1);
    v->sent = 0;
    v->run_at = 0;
    v->signal_run = 0;
    __atomic_store_n(&v->n, 0, __ATOMIC_RELEASE);
}

/* From a signal handler: sends every thread's events so far without resetting any buffer (the
   interrupted code may be appending to one), then the pending records. The lock is only tried: the
   interrupted thread may hold it, and then nothing is sent. Other threads' open RUNs stay for them. */
static void flush_for_signal(void)
{
    if (S.disabled || S.finished || pthread_mutex_trylock(&S.lock) != 0) return;
    for (int i = 0; i < MAX_VCPUS; i++) {
        struct vcpu *v = S.vcpus[i];
        if (v) send_events(v, v == tls_vcpu);
    }
    out_flush();
    pthread_mutex_unlock(&S.lock);
}

static __attribute__((noinline)) void flush_vcpu(struct vcpu *v)
{
    pthread_mutex_lock(&S.lock);
    flush_locked(v);
    pthread_mutex_unlock(&S.lock);
}

static uint64_t recorded_insns_locked(void)
{
    uint64_t total = S.exited_insns;
    for (int i = 0; i < MAX_VCPUS; i++) if (S.vcpus[i]) total += S.vcpus[i]->insns;
    return total;
}

/* Caller holds S.lock: flushes every thread and sends END; nothing is sent afterwards. */
static void finish_locked(uint32_t reason)
{
    if (S.finished) return;
    uint32_t threads = 0;
    /* QEMU has unregistered the callbacks by now (or this is max-insns' last TB): every TB has ended. */
    for (int i = 0; i < MAX_VCPUS; i++) if (S.vcpus[i]) touches_finish(S.vcpus[i], 1);
    for (int i = 0; i < MAX_VCPUS; i++) if (S.vcpus[i]) flush_locked(S.vcpus[i]);
    threads = S.next_thread;
    uint64_t recorded = recorded_insns_locked();
    /* Without limits every executed TB is recorded (data pages count no skipped ones). */
    uint64_t executed = S.limited ? __atomic_load_n(&S.executed, __ATOMIC_RELAXED) : recorded;
    uint32_t head[2] = { reason, threads };
    uint64_t counts[2] = { executed, recorded };
    emit(PLEXLAB_REC_END, head, 8, counts, 16, NULL, 0);
    out_flush();
    S.finished = 1;
}

/* ---- threads ---- */

/* Runs on the vCPU's own thread (lazily, from its first callback); out of line, so that the exec
   callback's fast path stays a leaf without register saves. */
static __attribute__((noinline)) struct vcpu *vcpu_create(unsigned int index)
{
    if (index >= MAX_VCPUS) return NULL;
    pthread_mutex_lock(&S.lock);
    struct vcpu *v = S.vcpus[index];
    if (!v) {
        v = S.free_vcpus;
        if (v) {
            S.free_vcpus = v->next_free;
            uint64_t *cache = v->touch_cache;
            memset(v, 0, sizeof(*v));
            v->touch_cache = cache;
        } else {
            v = calloc(1, sizeof(*v));
        }
        if (v) touch_cache_alloc(v); /* empty, as the reader's cache for a new thread starts */
        if (v) {
            v->thread = S.next_thread++;
            v->recording = !S.limited || S.skip_insns == 0;
            __atomic_store_n(&S.vcpus[index], v, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&S.lock);
    tls_vcpu = v;
    return v;
}

static inline struct vcpu *vcpu_of(unsigned int index)
{
    if (likely(index < MAX_VCPUS)) {
        struct vcpu *v = S.vcpus[index];
        if (likely(v != NULL)) return v;
    }
    return vcpu_create(index);
}

static void on_vcpu_exit(qemu_plugin_id_t id, unsigned int index)
{
    (void)id;
    if (index >= MAX_VCPUS) return;
    pthread_mutex_lock(&S.lock);
    struct vcpu *v = S.vcpus[index];
    if (v) {
        touches_finish(v, 1);
        flush_locked(v);
        uint32_t head[2] = { v->thread, 0 };
        emit(PLEXLAB_REC_THREAD_END, head, 8, NULL, 0, NULL, 0);
        S.exited_insns += v->insns;
        S.vcpus[index] = NULL; /* the index may be reused by a new thread: it gets a new serial */
        /* Every other thread reaches v through S.vcpus under S.lock, so from here on only this exiting
           thread could (its signal handler, through tls_vcpu): cleared, v can serve the next new thread. */
        if (tls_vcpu == v) tls_vcpu = NULL;
        v->next_free = S.free_vcpus;
        S.free_vcpus = v;
    }
    pthread_mutex_unlock(&S.lock);
}

/* ---- code pages ---- */

static inline uint64_t mix(uint64_t page)
{
    return (page >> 12) * 0x9E3779B97F4A7C15ull;
}

static struct code_page *page_lookup(uint64_t page)
{
    struct page_table *t = __atomic_load_n(&S.pages, __ATOMIC_ACQUIRE);
    if (!t) return NULL;
    size_t i = (size_t)(mix(page) >> 20) & t->mask;
    for (;;) {
        uint64_t key = __atomic_load_n(&t->slots[i].key, __ATOMIC_ACQUIRE);
        if (key == (page | 1)) return t->slots[i].page;
        if (key == 0) return NULL;
        i = (i + 1) & t->mask;
    }
}

static void table_put(struct page_table *t, struct code_page *p)
{
    size_t i = (size_t)(mix(p->page) >> 20) & t->mask;
    while (t->slots[i].key) i = (i + 1) & t->mask;
    t->slots[i].page = p;
    __atomic_store_n(&t->slots[i].key, p->page | 1, __ATOMIC_RELEASE);
    t->count++;
}

/* Caller holds S.lock. */
static struct code_page *page_insert(uint64_t page)
{
    struct page_table *t = S.pages;
    if (!t || (t->count + 1) * 2 > t->mask + 1) {
        size_t size = t ? (t->mask + 1) * 2 : 1024;
        struct page_table *n = calloc(1, sizeof(*n));
        if (!n) return NULL;
        n->slots = calloc(size, sizeof(n->slots[0]));
        if (!n->slots) return NULL;
        n->mask = size - 1;
        if (t) for (size_t i = 0; i <= t->mask; i++) if (t->slots[i].key) table_put(n, t->slots[i].page);
        __atomic_store_n(&S.pages, n, __ATOMIC_RELEASE);
        t = n;
    }
    struct code_page *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->page = page;
    p->copy = malloc(PLEXLAB_PAGE_SIZE);
    if (!p->copy) return NULL;
    table_put(t, p);
    return p;
}

/* Caller holds S.lock. Copies the page's current bytes; sends them if they differ from the last capture. */
static void capture(struct code_page *p, int fresh)
{
    const uint8_t *host = (const uint8_t *)(uintptr_t)(p->page + S.guest_base);
    __atomic_store_n(&p->dirty, 0, __ATOMIC_RELAXED);
    if (!fresh && memcmp(p->copy, host, PLEXLAB_PAGE_SIZE) == 0) return;
    /* This thread's executed TBs so far ran the old bytes: send them first, so the recorder decodes
       them before it sees the new version (other threads' buffered TBs are handled by the recorder). */
    if (!fresh && tls_vcpu) flush_locked(tls_vcpu);
    memcpy(p->copy, host, PLEXLAB_PAGE_SIZE);
    emit(PLEXLAB_REC_PAGE, &p->page, 8, p->copy, PLEXLAB_PAGE_SIZE, NULL, 0);
}

/* ---- modules ---- */

static void read_maps_locked(void)
{
    for (size_t i = 0; i < S.nmaps; i++) free(S.maps[i].path);
    S.nmaps = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return;
    char line[4096 + 256];
    size_t cap = 0;
    struct mapping *maps = S.maps;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long start, end, offset;
        char perms[8];
        int pathpos = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset, &pathpos) < 4) continue;
        if (start < S.guest_base) continue;
        char *path = pathpos ? line + pathpos : NULL;
        if (path) {
            path[strcspn(path, "\n")] = 0;
            if (path[0] != '/') path = NULL;
        }
        if (S.nmaps == cap) {
            cap = cap ? cap * 2 : 256;
            struct mapping *m = realloc(maps, cap * sizeof(*m));
            if (!m) break;
            maps = m;
        }
        maps[S.nmaps++] = (struct mapping){ start - S.guest_base, end - S.guest_base, offset,
                                            path ? strdup(path) : NULL };
    }
    S.maps = maps;
    fclose(f);
}

static struct mapping *mapping_at(uint64_t page)
{
    for (size_t i = 0; i < S.nmaps; i++)
        if (S.maps[i].start <= page && page < S.maps[i].end) return &S.maps[i];
    return NULL;
}

/* Caller holds S.lock. Sends the file-backed mapping holding `page` the first time code runs in it. */
static void note_module(uint64_t page, int force_reread)
{
    struct mapping *m = force_reread ? NULL : mapping_at(page);
    if (!m) {
        read_maps_locked();
        m = mapping_at(page);
    }
    if (!m || !m->path) return;
    for (size_t i = 0; i < S.nsent; i++) {
        struct mapping *s = &S.sent[i];
        if (s->start == m->start && s->end == m->end && s->offset == m->offset && strcmp(s->path, m->path) == 0)
            return;
    }
    if (S.nsent == S.capsent) {
        size_t cap = S.capsent ? S.capsent * 2 : 64;
        struct mapping *n = realloc(S.sent, cap * sizeof(*n));
        if (!n) return;
        S.sent = n;
        S.capsent = cap;
    }
    S.sent[S.nsent] = (struct mapping){ m->start, m->end, m->offset, strdup(m->path) };
    S.nsent++;
    uint64_t head[3] = { m->start, m->end, m->offset };
    emit(PLEXLAB_REC_MODULE, head, 24, m->path, strlen(m->path), NULL, 0);
}

/* Caller holds S.lock. Makes sure every page under [vaddr, vaddr+len) was captured as it is now. */
static void check_pages(uint64_t vaddr, uint32_t len)
{
    for (uint64_t page = vaddr & PAGE_MASK; page < vaddr + len; page += PLEXLAB_PAGE_SIZE) {
        struct code_page *p = page_lookup(page);
        if (!p) {
            p = page_insert(page);
            if (!p) continue;
            capture(p, 1);
            note_module(page, 0);
            continue;
        }
        if (__atomic_load_n(&p->dirty, __ATOMIC_RELAXED)) {
            capture(p, 0);
            continue;
        }
        /* Bytes changed without a store we saw (mmap over the page, a read() into it): recapture. */
        uint64_t lo = vaddr > page ? vaddr : page;
        uint64_t hi = vaddr + len < page + PLEXLAB_PAGE_SIZE ? vaddr + len : page + PLEXLAB_PAGE_SIZE;
        if (memcmp(p->copy + (lo - page), S.scratch + (lo - vaddr), hi - lo) != 0) {
            capture(p, 0);
            note_module(page, 1);
        }
    }
}

/* ---- execution callbacks (hot) ---- */

static inline void publish(struct vcpu *v, uint32_t n)
{
    __atomic_store_n(&v->n, n, __ATOMIC_RELEASE);
}

/* Where a side event of `words` words goes; keeps MAX_EVENT_WORDS free for the SIGSEGV handler. The event
   closes an open RUN (hits after it start a new one, so the event stays after the TB it belongs to). */
static inline uint32_t room(struct vcpu *v, uint32_t words)
{
    if (v->n + words > BUF_WORDS - MAX_EVENT_WORDS) flush_vcpu(v);
    v->run_at = 0;
    return v->n;
}

static void on_tb_exec(unsigned int index, void *udata);
static void on_tb_exec_plain(unsigned int index, void *udata);

/* A thread's first executed TB: its vCPU record is made, then the TB appended as usual. `used` here and on
   the slow paths below: the exec callback's assembly jumps to them. */
static __attribute__((noinline, used)) void on_tb_exec_first(unsigned int index, void *udata)
{
    if (!vcpu_create(index)) return;
    if (S.no_runs) on_tb_exec_plain(index, udata);
    else on_tb_exec(index, udata);
}

/* Appends a TB id (a miss of the successor table, or runs=off): closes an open RUN. */
static inline void append_id(struct vcpu *v, uint32_t id)
{
    uint32_t n = v->n;
    v->buf[n++] = id;
    v->run_at = 0;
    publish(v, n);
    if (unlikely(n > BUF_WORDS - MAX_EVENT_WORDS)) flush_vcpu(v);
}

/* A hit with no RUN open (or one whose count is full): opens a RUN of one. Out of line: once per run. */
static __attribute__((noinline, used)) void run_open(struct vcpu *v)
{
    uint32_t n = v->n;
    v->buf[n] = PLEXLAB_EV_RUN;
    v->buf[n + 1] = 1;
    __atomic_store_n(&v->run_at, n + 1, __ATOMIC_RELEASE); /* before the words are published (send_events) */
    publish(v, n + 2);
    if (unlikely(n + 2 > BUF_WORDS - MAX_EVENT_WORDS)) flush_vcpu(v);
}

/* The open RUN's count went past 2^32 - 1 (a TB spinning for minutes): it stays full, the hit opens another. */
static __attribute__((noinline, used)) void run_full(struct vcpu *v)
{
    v->buf[v->run_at] = UINT32_MAX;
    run_open(v);
}

/* A miss of the successor table (its slot already updated): the id is appended. */
static __attribute__((noinline, used)) void run_miss(struct vcpu *v, uint32_t id)
{
    append_id(v, id);
}

/*
 * The common case (no limits, no data pages): the thread's successor table (plexlab_plugin.h, RUN) says
 * whether this TB follows the last one as it did last time; a hit adds one to the open RUN's count in place,
 * a miss appends the id. On gzip 9 in 10 blocks are hits, so the stream the buffer, the ring and the recorder
 * carry shrinks to about a fifth. The TB id is the callback's data itself (no load through a pointer), the
 * thread's record comes from thread-local storage (one %fs-relative load, as the floor plugin's ring), and
 * every slow path is a jump out of line. The count is raised by one `add` to memory, so a signal handler on
 * this thread reads it before or after, never torn.
 *
 * Assembly (a naked function), because SwiftPM compiles C with -fno-omit-frame-pointer after the target's own
 * flags: in C this callback got a frame (push, mov, pop: 11 % of its samples on gzip) and a call, not a jump,
 * to its miss path. It is exactly this C (note_executed below, which the counting and data-page callbacks
 * use), each slow path a tail call:
 *     v = tls_vcpu; if (!v) return on_tb_exec_first(index, udata);
 *     slot = &v->next[v->prev & (SLOTS - 1)]; v->prev = id;
 *     if (*slot != id) { *slot = id; return run_miss(v, id); }
 *     if (v->run_at == 0) return run_open(v);
 *     if (++v->buf[v->run_at] wrapped to 0) return run_full(v);
 */
__attribute__((naked)) static void on_tb_exec(unsigned int index, void *udata)
{
    __asm__ volatile(
        "movq tls_vcpu@gottpoff(%%rip), %%rax\n\t"
        "movq %%fs:(%%rax), %%rdx\n\t"
        "testq %%rdx, %%rdx\n\t"
        "jz on_tb_exec_first\n\t" /* (index, udata) still in place */
        "movl %c[prev](%%rdx), %%eax\n\t"
        "andl %[mask], %%eax\n\t"
        "movl %%esi, %c[prev](%%rdx)\n\t"
        "cmpl %%esi, %c[next](%%rdx,%%rax,4)\n\t"
        "jne 1f\n\t"
        "movl %c[run_at](%%rdx), %%eax\n\t"
        "testl %%eax, %%eax\n\t"
        "jz 2f\n\t"
        "addl $1, %c[buf](%%rdx,%%rax,4)\n\t"
        "jc 3f\n\t"
        "ret\n"
        "1:\n\t" /* a miss: the slot takes the id, run_miss(v, id) appends it */
        "movl %%esi, %c[next](%%rdx,%%rax,4)\n\t"
        "movq %%rdx, %%rdi\n\t"
        "jmp run_miss\n"
        "2:\n\t"
        "movq %%rdx, %%rdi\n\t"
        "jmp run_open\n"
        "3:\n\t"
        "movq %%rdx, %%rdi\n\t"
        "jmp run_full\n"
        :
        : [prev] "i"(offsetof(struct vcpu, prev)), [next] "i"(offsetof(struct vcpu, next)),
          [run_at] "i"(offsetof(struct vcpu, run_at)), [buf] "i"(offsetof(struct vcpu, buf)),
          [mask] "i"(PLEXLAB_SUCCESSOR_SLOTS - 1));
}

/* runs=off: one u32 per executed TB, the stream of protocol 3. */
static void on_tb_exec_plain(unsigned int index, void *udata)
{
    struct vcpu *v = tls_vcpu;
    if (unlikely(!v)) {
        on_tb_exec_first(index, udata);
        return;
    }
    append_id(v, (uint32_t)(uintptr_t)udata);
}

static void stop_at_limit(void)
{
    pthread_mutex_lock(&S.lock);
    finish_locked(PLEXLAB_END_MAX_INSNS);
    _exit(0); /* ends every guest thread; the lock is never released on purpose */
}

/* ---- data pages (plexlab_plugin.h, DATA_LIST) ---- */

/* Empties the thread's touch cache (a new thread, a forked child: the reader's starts empty) and points the
   accesses that come before the next TB at the scratch sequence. */
static void touch_cache_clear(struct vcpu *v)
{
    if (v->touch_cache) memset(v->touch_cache, 0, PLEXLAB_TOUCH_CACHE_SLOTS * SLOT_WORDS * sizeof(uint64_t));
    v->pending_tb = 0;
    v->k = 0;
    v->seq = v->scratch + 1;
}

/* With data pages and the cache on: the thread's cache, made once per vCPU record (kept for the next thread
   when this one exits). Without memory for one the thread sends every list, which the reader's rule allows. */
static void touch_cache_alloc(struct vcpu *v)
{
    if (S.data_pages && S.touch_cache && !v->touch_cache)
        v->touch_cache = aligned_alloc(64, (size_t)PLEXLAB_TOUCH_CACHE_SLOTS * SLOT_WORDS * sizeof(uint64_t));
    touch_cache_clear(v);
}

/* Where `words` words go; flushes first when they would not leave MAX_EVENT_WORDS free. */
static inline uint32_t room_for(struct vcpu *v, uint32_t words, int locked)
{
    if (v->n + words > BUF_WORDS - MAX_EVENT_WORDS) {
        if (locked) flush_locked(v);
        else flush_vcpu(v);
    }
    return v->n;
}

/* Publishes a DATA_LIST of n touches laid out at buf[at + 2...]. A list closes an open RUN (the TB ids after it
   are counted in a new one, so the list stays after its TB). */
static inline void publish_touch_list(struct vcpu *v, uint32_t at, uint32_t n)
{
    v->buf[at] = PLEXLAB_EV_DATA_LIST;
    v->buf[at + 1] = n;
    v->run_at = 0;
    publish(v, at + 2 + 4 * n);
}

/* Sends pending[0..n) as one DATA_LIST. */
static void send_touch_list(struct vcpu *v, uint32_t n, int locked)
{
    uint32_t at = room_for(v, 2 + 4 * n, locked);
    uint32_t *w = v->buf + at + 2;
    for (uint32_t i = 0; i < n; i++) {
        const struct touch *t = &v->pending[i];
        *w++ = (uint32_t)t->page;
        *w++ = (uint32_t)(t->page >> 32);
        *w++ = t->rw[0];
        *w++ = t->rw[1];
    }
    publish_touch_list(v, at, n);
}

/* A short execution's list (k <= SEQ_CAP accesses: at most k pages, one list), counted from the sequence, then
   written as DATA_PAGES (plexlab_plugin.h: 2 words a page; its counts are at most SEQ_CAP) when every page is
   below 2^48, else as DATA_LIST; published when the cache is on or it is not empty. Returns its pages. */
static inline uint32_t send_short_list(struct vcpu *v, const uint64_t *seq, uint32_t k, int locked)
{
    uint64_t pages[SEQ_CAP], high = 0;
    uint32_t counts[SEQ_CAP][2], n = 0;
    for (uint32_t i = 0; i < k; i++) {
        uint64_t page = seq[i] & PAGE_MASK;
        uint32_t j = 0;
        while (j < n && pages[j] != page) j++;
        if (j == n) {
            pages[n] = page;
            counts[n][0] = counts[n][1] = 0;
            high |= page;
            n++;
        }
        counts[j][seq[i] & 1]++;
    }
    if (!n && !S.touch_cache) return 0;
    if (unlikely(high >> 48)) {
        for (uint32_t j = 0; j < n; j++) {
            v->pending[j].page = pages[j];
            v->pending[j].rw[0] = counts[j][0];
            v->pending[j].rw[1] = counts[j][1];
        }
        send_touch_list(v, n, locked);
        return n;
    }
    uint32_t at = room_for(v, 1 + 2 * n, locked), *w = v->buf + at;
    *w++ = PLEXLAB_EV_DATA_PAGES + n;
    for (uint32_t j = 0; j < n; j++) {
        *w++ = (uint32_t)(pages[j] >> 12);
        *w++ = plexlab_data_page_word(pages[j], counts[j][0], counts[j][1]);
    }
    v->run_at = 0; /* the list closes an open RUN, as publish_touch_list says */
    publish(v, at + 1 + 2 * n);
    return n;
}

/* Counts one access on its page among the pending touches; when all PLEXLAB_TOUCH_PENDING are taken, they go
   out as a list first (the reader sums the lists of one execution). */
static void add_touch(struct vcpu *v, uint64_t page, int store, int locked)
{
    uint32_t n = v->npending;
    for (uint32_t i = 0; i < n; i++) {
        if (v->pending[i].page == page) {
            v->pending[i].both += (uint64_t)1 << (32 * store);
            return;
        }
    }
    if (n == PLEXLAB_TOUCH_PENDING) {
        send_touch_list(v, n, locked);
        v->spilled = 1;
        n = 0;
    }
    v->pending[n].page = page;
    v->pending[n].both = (uint64_t)1 << (32 * store);
    v->npending = n + 1;
}

/* The pending TB's execution has ended and its touches go out as a list (the caller found that its slot does
   not repeat them, or no TB id follows in this stream: the thread's end, an execve, the limit). The slot's sequence already holds this
   execution's (written as the accesses came); its tag then names it when the reader's rule caches the list
   sent (one list of at most PLEXLAB_TOUCH_CACHE_PAGES pages), else the slot is emptied: a tag naming a TB
   always means the reader's slot holds that TB's list. */
static __attribute__((noinline)) void touches_finish(struct vcpu *v, int locked)
{
    if (!v->pending_tb) return;
    uint32_t tb = v->pending_tb - 1, k = v->k;
    const uint64_t *seq = v->seq;
    v->pending_tb = 0;
    v->k = 0;
    v->seq = v->scratch + 1; /* accesses before the next TB (none should come) touch no slot */
    int cached;
    if (k <= SEQ_CAP) { /* a short execution: its list from the sequence */
        cached = send_short_list(v, seq, k, locked) <= PLEXLAB_TOUCH_CACHE_PAGES;
    } else { /* a long one: summed in pending as it went, maybe partly sent already (spilled) */
        uint32_t n = v->npending;
        if (n || S.touch_cache) send_touch_list(v, n, locked);
        cached = 0;
    }
    if (!S.touch_cache || !v->touch_cache) return; /* without the cache nothing is cached */
    v->touch_cache[(size_t)(tb & (PLEXLAB_TOUCH_CACHE_SLOTS - 1)) * SLOT_WORDS] =
        cached ? ((uint64_t)(tb + 1) << TAG_BITS) | k : 0;
}

/* The previous TB's execution is over: whether its accesses repeat its slot. They were compared with the slot's as
   they came (`differ`); when none differed and the tag names that TB with as many accesses, the reader repeats
   the slot's list and nothing is sent (one load and one test here). A long execution (k = SEQ_CAP + 1) never
   matches a tag; with no TB pending (pending_tb 0) there is nothing to send either. */
static inline int touches_repeat(const struct vcpu *v)
{
    uint32_t pending = v->pending_tb;
    uint64_t want = ((uint64_t)pending << TAG_BITS) | v->k;
    return pending == 0 || ((v->seq[-1] ^ want) | v->differ) == 0;
}

/* TB `id` starts: its accesses go over its own slot (fetched now: the first access, or the test at its end,
   comes a few guest instructions later). */
static inline void touches_begin(struct vcpu *v, uint32_t id)
{
    v->pending_tb = id + 1;
    v->k = 0;
    v->differ = 0;
    uint64_t *slot = v->touch_cache;
    if (likely(slot != NULL)) {
        slot += (size_t)(id & (PLEXLAB_TOUCH_CACHE_SLOTS - 1)) * SLOT_WORDS;
        __builtin_prefetch(slot, 1);
    } else {
        slot = v->scratch;
    }
    v->seq = slot + 1;
}

/* An executed TB's id into the thread's stream through the successor table (on_tb_exec's body, shared with the
   counting and data-page callbacks): a hit adds one to the open RUN, a miss appends the id. Every slow path is
   a tail call to an out-of-line function (the miss through run_miss, not an inlined append_id, whose flush is
   a real call): so on_tb_exec_data, which ends in it, gets no frame despite SwiftPM's -fno-omit-frame-pointer
   (it had a push/mov/pop of %rbp on every execution: gzip's plugin CPU 4.40x -> 4.23x plain without it). */
static inline void note_executed(struct vcpu *v, uint32_t id)
{
    uint32_t *slot = &v->next[v->prev & (PLEXLAB_SUCCESSOR_SLOTS - 1)];
    v->prev = id;
    if (likely(*slot == id)) {
        uint32_t at = v->run_at;
        if (unlikely(at == 0)) {
            run_open(v);
            return;
        }
        asm goto("addl $1, %0\n\tjc %l[full]" : : "m"(v->buf[at]) : "memory", "cc" : full);
        return;
    full:
        run_full(v);
        return;
    }
    *slot = id;
    run_miss(v, id);
}

/* The counting and data-page callbacks' id: through the successor table, or (runs=off) appended. */
static inline void note_id(struct vcpu *v, uint32_t id)
{
    if (unlikely(S.no_runs)) run_miss(v, id);
    else note_executed(v, id);
}

/* --max-insns/--skip-insns: counts every executed instruction; 0 while skipping. At the limit the thread's
   touches end (nothing follows) and the guest with them. */
static __attribute__((noinline)) int within_limits(struct vcpu *v, const struct tb_info *tb)
{
    uint64_t before = __atomic_fetch_add(&S.executed, tb->insns, __ATOMIC_RELAXED);
    if (before < S.skip_insns) {
        v->recording = 0;
        return 0;
    }
    if (S.max_insns && before - S.skip_insns >= S.max_insns) {
        touches_finish(v, 0);
        stop_at_limit();
    }
    return 1;
}

static void on_tb_exec_counting(unsigned int index, void *udata);

static __attribute__((noinline)) void on_tb_exec_counting_first(unsigned int index, void *udata)
{
    if (vcpu_create(index)) on_tb_exec_counting(index, udata);
}

/* With --max-insns/--skip-insns (udata: the TB's tb_info): counts the TB's instructions; with data pages, ends
   the previous TB's touches (a DATA_LIST closes an open RUN) and starts this one's; then the id as on_tb_exec. */
static void on_tb_exec_counting(unsigned int index, void *udata)
{
    const struct tb_info *tb = udata;
    struct vcpu *v = tls_vcpu;
    if (unlikely(!v)) {
        on_tb_exec_counting_first(index, udata);
        return;
    }
    if (!within_limits(v, tb)) return;
    v->recording = 1;
    v->insns += tb->insns;
    if (S.data_pages) {
        if (!touches_repeat(v)) touches_finish(v, 0);
        touches_begin(v, tb->id);
    }
    note_id(v, tb->id);
}

static void on_tb_exec_data(unsigned int index, void *udata);

static __attribute__((noinline)) void on_tb_exec_data_first(unsigned int index, void *udata)
{
    if (vcpu_create(index)) on_tb_exec_data(index, udata);
}

/* The previous TB's touches differ from its slot: sent, then TB `id` starts. Out of line, so that
   on_tb_exec_data keeps no registers across a call. */
static __attribute__((noinline)) void on_tb_exec_data_send(struct vcpu *v, uint32_t id)
{
    touches_finish(v, 0);
    touches_begin(v, id);
    note_id(v, id);
}

/* --data-pages without limits (udata: the TB id, as on_tb_exec; END then counts no instructions, as there): the
   previous TB's touches are tested against its slot (sent only when they differ), this TB's begin, and the
   id goes through the successor table. */
static void on_tb_exec_data(unsigned int index, void *udata)
{
    struct vcpu *v = tls_vcpu;
    if (unlikely(!v)) {
        on_tb_exec_data_first(index, udata);
        return;
    }
    uint32_t id = (uint32_t)(uintptr_t)udata;
    if (unlikely(!touches_repeat(v))) {
        on_tb_exec_data_send(v, id);
        return;
    }
    touches_begin(v, id);
    note_id(v, id);
}

/*
 * Code writes. QEMU user mode write-protects every host page that holds translated code; the first store
 * to such a page raises a host SIGSEGV that QEMU's handler resolves (it invalidates the page's TBs,
 * unprotects the page and retries the store, or restarts the current TB at the store when the TB itself
 * was on the page). Wrapping that handler shows us exactly those stores, at no cost to other stores:
 * the first store to a code page since code was last translated on it. Later stores to the page before
 * code runs there again cannot matter to any strategy (the page is unprotected in all of them), and a
 * per-store callback would double the recording time.
 */
static struct sigaction qemu_actions[NSIG];

/* A write to a page holding translated code: notes the code write. Returns 0 for any other fault. */
static int note_code_write(const siginfo_t *info)
{
    if (info->si_code != SEGV_ACCERR || !S.have_guest_base) return 0;
    uint64_t guest = (uint64_t)(uintptr_t)info->si_addr - S.guest_base;
    struct code_page *p = page_lookup(guest & PAGE_MASK);
    if (!p) return 0;
    __atomic_store_n(&p->dirty, 1, __ATOMIC_RELAXED);
    struct vcpu *v = tls_vcpu;
    /* The exec callback keeps MAX_EVENT_WORDS free, so no flush (and no lock) here. */
    if (v && v->recording && v->n + 4 <= BUF_WORDS) {
        uint32_t n = v->n;
        v->run_at = 0; /* the write belongs after the hits so far */
        v->buf[n] = PLEXLAB_EV_CODE_WRITE;
        v->buf[n + 1] = (uint32_t)guest;
        v->buf[n + 2] = (uint32_t)(guest >> 32);
        v->buf[n + 3] = 1;
        publish(v, n + 4);
    }
    return 1;
}

/*
 * Wraps QEMU's host signal handlers. Besides code writes (above), any other signal may be about to
 * end the guest: when the guest's action is the default one, QEMU kills itself with the signal without
 * calling the plugin's exit callback. So every such signal first sends what is buffered; the trace is
 * then whole up to the signal. Guests that install handlers make QEMU replace these wrappers (except
 * for SIGSEGV and SIGBUS), and then the guest decides.
 */
static void on_signal(int sig, siginfo_t *info, void *context)
{
    if (!(sig == SIGSEGV && note_code_write(info))) flush_for_signal();
    struct sigaction *qemu = &qemu_actions[sig];
    if (qemu->sa_flags & SA_SIGINFO) {
        qemu->sa_sigaction(sig, info, context);
    } else if (qemu->sa_handler != SIG_DFL && qemu->sa_handler != SIG_IGN) {
        qemu->sa_handler(sig);
    } else {
        /* Not caught by QEMU: the default action, as it would have been. */
        sigaction(sig, qemu, NULL);
        raise(sig);
    }
}

/* Called at the first translation, after QEMU installed its handlers. */
static void wrap_signal_handlers(void)
{
    static const int wrapped[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS, SIGQUIT, SIGHUP,
                                   SIGINT, SIGPIPE, SIGALRM, SIGTERM, SIGUSR1, SIGUSR2, SIGXCPU, SIGXFSZ,
                                   SIGVTALRM, SIGPROF, SIGIO, SIGPWR };
    for (size_t i = 0; i < sizeof(wrapped) / sizeof(wrapped[0]); i++) {
        int sig = wrapped[i];
        if (sigaction(sig, NULL, &qemu_actions[sig]) != 0) continue;
        if (!(qemu_actions[sig].sa_flags & SA_SIGINFO) && qemu_actions[sig].sa_handler == SIG_IGN) continue;
        struct sigaction action;
        memset(&action, 0, sizeof(action));
        action.sa_sigaction = on_signal;
        action.sa_mask = qemu_actions[sig].sa_mask;
        action.sa_flags = (qemu_actions[sig].sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
        sigaction(sig, &action, NULL);
    }
}

/* An access past the first SEQ_CAP of an execution: the sequence so far is summed into the pending touches
   once, and from then on every access is counted there. */
static __attribute__((noinline)) void note_access_long(struct vcpu *v, uint64_t page, int store)
{
    if (!v->pending_tb) return; /* skipping, or between a thread's last TB and its end */
    if (v->k == SEQ_CAP) {
        v->npending = 0;
        v->spilled = 0;
        const uint64_t *seq = v->seq;
        for (uint32_t i = 0; i < SEQ_CAP; i++) add_touch(v, seq[i] & PAGE_MASK, (int)(seq[i] & 1), 0);
        v->k = SEQ_CAP + 1;
    }
    add_touch(v, page, store, 0);
}

/* One load or store of the TB executing: appended to its sequence (page | 1 for a store); no test of the page
   and nothing written to the stream. One callback for loads and stores: QEMU 7.2 calls a callback registered
   for stores only on loads too (measured: a store-only callback counted every return's stack read as a
   write), so it asks which. */
static inline void note_access(uint64_t vaddr, int store)
{
    struct vcpu *v = tls_vcpu;
    if (unlikely(!v)) return;
    uint32_t k = v->k;
    if (likely(k < SEQ_CAP)) {
        uint64_t value = (vaddr & PAGE_MASK) | (uint64_t)store, *seq = v->seq;
        v->k = k + 1;
        if (unlikely(seq[k] != value)) { /* stored only when it changes: no read-modify-write chain otherwise */
            seq[k] = value;
            v->differ = 1;
        }
        return;
    }
    note_access_long(v, vaddr & PAGE_MASK, store);
}

static void on_access(unsigned int index, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)index; (void)udata;
    note_access(vaddr, qemu_plugin_mem_is_store(info) ? 1 : 0);
}

/* QEMU 7.2 passes the access kind in bits 16 and up of the meminfo (QEMU_PLUGIN_MEM_W there): reading the bit
   saves a call per access. Used only when qemu_plugin_mem_is_store agrees at install (store_bit_agrees). */
#define STORE_BIT 17
static void on_access_bit(unsigned int index, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)index; (void)udata;
    note_access(vaddr, (int)(((uint32_t)info >> STORE_BIT) & 1));
}

static int store_bit_agrees(void)
{
    uint32_t load = (uint32_t)QEMU_PLUGIN_MEM_R << 16, store = (uint32_t)QEMU_PLUGIN_MEM_W << 16;
    return (1u << STORE_BIT) == store && !qemu_plugin_mem_is_store(load) && qemu_plugin_mem_is_store(store) &&
           qemu_plugin_mem_is_store(store | 3) && !qemu_plugin_mem_is_store(load | 3);
}

/* ---- process tree (docs/recorder.md, "Process trees") ----
 *
 * With sock=PATH every process of the guest's tree has its own stream. A forked QEMU (fork, vfork and
 * clone without CLONE_VM: QEMU turns all three into fork) inherits this plugin, its translations and
 * its page captures: the parent sends FORK with every thread flushed, and the child connects to the
 * recorder's socket and starts its stream with PROCESS (origin fork, the FORK's serial, the next TB id),
 * so the recorder gives it a copy of the parent's state at that point. An execve of the guest is done
 * here, in the syscall callback: the program (and its #! interpreters, as the kernel would run them) is
 * started as `qemu -plugin THIS,... -0 ARGV0 PROGRAM ARGS` with the same pid, descriptors and
 * environment; the new plugin connects to the socket (origin exec). execveat relative to a directory
 * descriptor and of a descriptor (fexecve) run the file at the descriptor's path. Whatever this code cannot
 * follow (a memfd or deleted file, a program that is neither an x86 ELF nor a #! script, no qemu-user for
 * it) is left to QEMU's own execve, after EXEC_UNFOLLOWED says why; a program of the other architecture
 * runs under its own qemu with this plugin in foreign mode (no code recorded, tree-arch=). */

/* rings=on: this process's own ring, made here and handed to the recorder as the connection's first message
   (the magic with the descriptor attached); from then on the stream goes into it. 0 on failure. */
static int offer_ring(int sock)
{
    size_t size = PLEXLAB_RING_HEADER_SIZE + PLEXLAB_RING_CAPACITY;
    int fd = memfd_create("plexlab-ring", MFD_CLOEXEC);
    if (fd < 0) return 0;
    struct plexlab_ring_header *ring = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0) ring = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ring == MAP_FAILED) { close(fd); return 0; }
    ring->magic = PLEXLAB_RING_MAGIC;
    ring->version = PLEXLAB_RING_VERSION;
    ring->capacity = PLEXLAB_RING_CAPACITY;
    uint32_t magic = PLEXLAB_RING_MAGIC;
    struct iovec part = { &magic, sizeof(magic) };
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int))]; } control;
    memset(&control, 0, sizeof(control));
    struct msghdr message = { .msg_iov = &part, .msg_iovlen = 1, .msg_control = control.space,
                              .msg_controllen = sizeof(control.space) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t sent;
    do sent = sendmsg(sock, &message, MSG_NOSIGNAL); while (sent < 0 && errno == EINTR);
    close(fd);
    if (sent != (ssize_t)sizeof(magic)) { munmap(ring, size); return 0; }
    S.ring = ring;
    S.ring_data = (uint8_t *)ring + PLEXLAB_RING_HEADER_SIZE;
    S.ring_mask = PLEXLAB_RING_CAPACITY - 1;
    return 1;
}

static int open_channel(void)
{
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen(S.sock_path) >= sizeof(address.sun_path)) return -1;
    strcpy(address.sun_path, S.sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    while (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        if (errno == EINTR) continue;
        close(fd);
        return -1;
    }
    int high = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
    if (high >= 0) { close(fd); fd = high; }
    if (S.rings && !offer_ring(fd)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Caller holds S.lock. HELLO and PROCESS: the first two records of every stream. */
static void send_identity_locked(uint32_t origin, uint32_t fork_serial)
{
    uint32_t flags = S.data_pages ? PLEXLAB_FLAG_DATA_PAGES | (S.touch_cache ? PLEXLAB_FLAG_TOUCH_CACHE : 0) : 0;
    uint32_t head[2] = { PLEXLAB_PROTOCOL_VERSION, flags };
    uint64_t limits[2] = { S.max_insns, S.skip_insns };
    emit(PLEXLAB_REC_HELLO, head, 8, limits, 16, S.target, strlen(S.target));
    char cmdline[8192];
    ssize_t n = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, cmdline, sizeof(cmdline));
        close(fd);
    }
    uint32_t who[6] = { (uint32_t)getpid(), (uint32_t)getppid(), origin, fork_serial, S.next_tb_id, 0 };
    emit(PLEXLAB_REC_PROCESS, who, sizeof(who), cmdline, n > 0 ? (size_t)n : 0, NULL, 0);
}

/* Caller holds S.lock (before fork): the parent's stream up to here is what the child inherits. */
static void note_fork_locked(void)
{
    if (S.disabled || S.finished) return;
    for (int i = 0; i < MAX_VCPUS; i++) if (S.vcpus[i]) flush_locked(S.vcpus[i]);
    uint32_t fork[2] = { ++S.forks, tls_vcpu ? tls_vcpu->thread : 0 };
    emit(PLEXLAB_REC_FORK, fork, 8, NULL, 0, NULL, 0);
    out_flush();
}

/* In the forked child, single-threaded: its own stream, its one thread numbered 0. */
static void start_forked_child(void)
{
    uint32_t serial = S.forks;
    S.fd = open_channel();
    if (S.fd < 0) { S.disabled = 1; return; }
    for (int i = 0; i < MAX_VCPUS; i++) {
        if (S.vcpus[i] && S.vcpus[i] != tls_vcpu) S.vcpus[i] = NULL; /* threads that did not survive fork */
    }
    S.next_thread = 0;
    S.exited_insns = 0;
    if (tls_vcpu) {
        tls_vcpu->thread = S.next_thread++;
        tls_vcpu->insns = 0;
        tls_vcpu->n = tls_vcpu->sent = 0;
        touch_cache_clear(tls_vcpu); /* and the TB of the fork is the parent's: none pending */
        /* A new stream: its reader starts with an empty successor table (plexlab_plugin.h, RUN). */
        tls_vcpu->prev = tls_vcpu->run_at = tls_vcpu->signal_run = tls_vcpu->signal_count = 0;
        memset(tls_vcpu->next, 0, sizeof(tls_vcpu->next));
    }
    S.forks = 0;
    S.outlen = 0;
    pthread_mutex_lock(&S.lock);
    send_identity_locked(PLEXLAB_ORIGIN_FORK, serial);
    out_flush();
    pthread_mutex_unlock(&S.lock);
}

static void note_exit_status(uint32_t status)
{
    uint32_t payload[2] = { status, 0 };
    pthread_mutex_lock(&S.lock);
    emit(PLEXLAB_REC_EXIT, payload, 8, NULL, 0, NULL, 0);
    pthread_mutex_unlock(&S.lock);
}

/* Reads guest memory without trusting the guest's pointers (a bad one gives -1, not a crash). */
static int guest_read(uint64_t address, void *to, size_t n)
{
    struct iovec local = { to, n };
    struct iovec remote = { (void *)(uintptr_t)(address + S.guest_base), n };
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n ? 0 : -1;
}

static char *guest_string(uint64_t address)
{
    size_t cap = 256, len = 0;
    char *s = malloc(cap);
    while (s) {
        size_t piece = PLEXLAB_PAGE_SIZE - ((address + len) & (PLEXLAB_PAGE_SIZE - 1));
        if (piece > 256) piece = 256;
        if (len + piece + 1 > cap) {
            char *grown = realloc(s, cap = (len + piece + 1) * 2);
            if (!grown) break;
            s = grown;
        }
        if (guest_read(address + len, s + len, piece) != 0) break;
        void *nul = memchr(s + len, 0, piece);
        if (nul) return s;
        len += piece;
        if (len > (1 << 17)) break; /* MAX_ARG_STRLEN */
    }
    free(s);
    return NULL;
}

/* A NULL-terminated array of guest strings (pointers of the guest's width); NULL on a bad pointer. */
static char **guest_strings(uint64_t address, int wide, size_t *count)
{
    size_t cap = 16, n = 0;
    char **list = calloc(cap, sizeof(char *));
    while (list && address) {
        uint64_t pointer = 0;
        if (guest_read(address + n * (wide ? 8 : 4), &pointer, wide ? 8 : 4) != 0) goto fail;
        if (!pointer) { *count = n; return list; }
        if (n + 2 > cap) {
            char **grown = realloc(list, (cap *= 2) * sizeof(char *));
            if (!grown) goto fail;
            list = grown;
        }
        if (!(list[n++] = guest_string(pointer))) goto fail;
        list[n] = NULL;
        if (n > (1 << 20)) goto fail;
    }
    if (list) { *count = 0; return list; } /* a NULL array: no strings */
fail:
    if (list) { for (size_t i = 0; i < n; i++) free(list[i]); free(list); }
    return NULL;
}

/*
 * The program the kernel would run for `path`: #! lines are followed as fs/binfmt_script.c does
 * (interpreter, its one optional argument, the script path, then the original arguments after argv[0];
 * at most 4 rewrites, the kernel's limit), until an x86 ELF. Returns its e_machine (62 or 3) and leaves
 * the final file in *file and the arguments in *args; 0 when the exec is left to QEMU.
 */
static int resolve_program(char **file, char ***args, size_t *nargs)
{
    for (int depth = 0; depth <= 4; depth++) {
        if (access(*file, X_OK) != 0) return 0;
        char head[256 + 1];
        int fd = open(*file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return 0;
        ssize_t n = read(fd, head, 256);
        close(fd);
        if (n >= 20 && memcmp(head, "\177ELF", 4) == 0) {
            uint16_t machine;
            memcpy(&machine, head + 18, 2);
            return machine == 62 || machine == 3 ? machine : 0;
        }
        if (n < 3 || head[0] != '#' || head[1] != '!' || depth == 4) return 0;
        head[n] = 0;
        char *end = memchr(head, '\n', (size_t)n);
        if (end) *end = 0;
        else if (n == 256) return 0; /* the kernel needs the interpreter within its 256-byte buffer */
        char *p = head + 2;
        while (*p == ' ' || *p == '\t') p++;
        char *interp = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (p == interp) return 0;
        char *arg = NULL;
        if (*p) {
            *p++ = 0;
            while (*p == ' ' || *p == '\t') p++;
            char *last = p + strlen(p);
            while (last > p && (last[-1] == ' ' || last[-1] == '\t')) *--last = 0;
            if (*p) arg = p;
        }
        size_t extra = arg ? 3 : 2;
        size_t rest = *nargs > 0 ? *nargs - 1 : 0;
        char **next = calloc(extra + rest + 1, sizeof(char *));
        if (!next) return 0;
        size_t k = 0;
        next[k++] = strdup(interp);
        if (arg) next[k++] = strdup(arg);
        next[k++] = *file;
        for (size_t i = 0; i < rest; i++) next[k++] = (*args)[i + 1];
        if (*nargs > 0) free((*args)[0]);
        free(*args);
        *args = next;
        *nargs = k;
        *file = strdup(interp);
    }
    return 0;
}

/* Tells the recorder that the exec about to happen runs unrecorded, and why (a failing exec: the stream
   goes on and the recorder forgets it). */
static void exec_unfollowed(const char *why)
{
    uint32_t payload[2] = { 0, 0 };
    pthread_mutex_lock(&S.lock);
    emit(PLEXLAB_REC_EXEC_UNFOLLOWED, payload, 8, why, strlen(why), NULL, 0);
    out_flush();
    pthread_mutex_unlock(&S.lock);
}

/* The file an exec names, as a path QEMU can open after the host execve: PATH itself for execve, an
   absolute PATH or one relative to AT_FDCWD; else PATH resolved against the directory descriptor, or with
   AT_EMPTY_PATH and an empty PATH (fexecve) the descriptor's own file, both through /proc/self/fd now
   (the descriptor may be close-on-exec). NULL when the descriptor names nothing by path. */
static char *exec_target(int at, int32_t dirfd, const char *path, uint64_t flags)
{
    /* /proc/self/fd/N[/PATH] (glibc's fexecve without execveat) is the descriptor itself. */
    int number = -1, used = 0;
    if ((sscanf(path, "/proc/self/fd/%d%n", &number, &used) == 1 || sscanf(path, "/dev/fd/%d%n", &number, &used) == 1) &&
        number >= 0 && (path[used] == 0 || path[used] == '/')) {
        at = 1;
        dirfd = number;
        flags |= AT_EMPTY_PATH;
        path += used + (path[used] == '/');
    }
    if (!at || path[0] == '/' || (dirfd == AT_FDCWD && path[0])) return strdup(path);
    if (!path[0] && !(flags & AT_EMPTY_PATH)) return strdup(path); /* ENOENT, as the kernel says */
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof(link), dirfd == AT_FDCWD ? "/proc/self/cwd" : "/proc/self/fd/%d", dirfd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0) return NULL;
    target[n] = 0;
    if (target[0] != '/') return NULL; /* memfd:, pipe:, anon_inode: */
    size_t size = (size_t)n + strlen(path) + 2;
    char *file = malloc(size);
    if (!file) return NULL;
    snprintf(file, size, path[0] ? "%s/%s" : "%s", target, path);
    if (!path[0] && access(file, F_OK) != 0) { free(file); return NULL; } /* "/x (deleted)" */
    return file;
}

/* The guest calls execve/execveat: run the new program under QEMU with this plugin, as the same process. */
static void follow_exec(int at, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
    if (S.disabled || !S.have_guest_base) return;
    int wide = strcmp(S.target, "i386") != 0;
    uint64_t path_at = at ? a2 : a1, argv_at = at ? a3 : a2, envp_at = at ? a4 : a3;
    char *path = guest_string(path_at);
    size_t nargs = 0, nenv = 0;
    char **args = guest_strings(argv_at, wide, &nargs);
    char **env = guest_strings(envp_at, wide, &nenv);
    if (!path || !args || !env) { exec_unfollowed("its path or arguments could not be read"); return; }
    char *file = exec_target(at, (int32_t)a1, path, a5);
    if (!file) {
        exec_unfollowed("execveat of a descriptor that names no file by path (a memfd, a pipe or a deleted file)");
        return;
    }
    if (access(file, X_OK) != 0) return; /* the exec fails with the kernel's error; the stream goes on */
    int machine = resolve_program(&file, &args, &nargs);
    const char *qemu = machine == 62 ? S.qemu64 : machine == 3 ? S.qemu32 : NULL;
    if (!qemu) { /* leaked on purpose: this path is rare and the process goes on */
        exec_unfollowed(machine == 3 ? "an i386 program and no qemu-i386 to run it"
                        : machine == 62 ? "an x86-64 program and no qemu-x86_64 to run it"
                        : "neither an x86 ELF nor a #! script the plugin can follow");
        return;
    }
    char **argv = calloc(nargs + 8, sizeof(char *));
    if (!argv) return;
    size_t k = 0;
    argv[k++] = (char *)qemu;
    argv[k++] = "-plugin";
    argv[k++] = S.plugin_spec;
    argv[k++] = "-0";
    argv[k++] = nargs > 0 ? args[0] : file;
    argv[k++] = file;
    for (size_t i = 1; i < nargs; i++) argv[k++] = args[i];
    argv[k] = NULL;
    free(path);
    pthread_mutex_lock(&S.lock);
    uint32_t payload[2] = { 0, 0 };
    emit(PLEXLAB_REC_EXEC, payload, 8, NULL, 0, NULL, 0);
    out_flush();
    pthread_mutex_unlock(&S.lock);
    restore_stderr();
    execve(qemu, argv, env);
    free(argv); /* not followed (e.g. E2BIG): QEMU's own execve decides */
}

/* Keeps this plugin's arguments for exec'd QEMUs (without fd and errfd, which are the first process's). */
static int follow_setup(int argc, char **argv)
{
    Dl_info self;
    if (!dladdr((void *)&follow_setup, &self) || !self.dli_fname) {
        fprintf(stderr, "plexlab plugin: cannot find its own path to follow execve\n");
        return 0;
    }
    size_t size = strlen(self.dli_fname) + 1;
    for (int i = 0; i < argc; i++) size += strlen(argv[i]) + 1;
    S.plugin_spec = malloc(size);
    if (!S.plugin_spec) return 0;
    strcpy(S.plugin_spec, self.dli_fname);
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "fd=", 3) == 0 || strncmp(argv[i], "errfd=", 6) == 0 || strncmp(argv[i], "ring=", 5) == 0)
            continue;
        strcat(S.plugin_spec, ",");
        strcat(S.plugin_spec, argv[i]);
    }
    return 1;
}

/* ---- how children end: the guest's own wait calls ---- */

/* Only the recorder's own child is the recorder's to reap; every other process of the tree is reaped by
   its guest parent. So the parent's plugin reads the status its wait call returns and sends REAPED. */
static __thread struct { int64_t num; uint64_t out, options; int pending; } wait_call;

static void note_wait_call(int64_t num, uint64_t a2, uint64_t a3, uint64_t a4)
{
    wait_call.pending = 0;
    if (num == S.wait4_number || num == S.waitpid_number) {
        wait_call = (typeof(wait_call)){ num, a2, a3, a2 != 0 };
    } else if (num == S.waitid_number) {
        wait_call = (typeof(wait_call)){ num, a3, a4, a3 != 0 && !(a4 & 0x01000000) /* WNOWAIT */ };
    }
}

static void on_syscall_ret(qemu_plugin_id_t id, unsigned int index, int64_t num, int64_t ret)
{
    (void)id; (void)index;
    if (!wait_call.pending || num != wait_call.num || ret < 0 || !S.sock_path) return; /* following only */
    wait_call.pending = 0;
    uint32_t reaped[2] = { 0, 0 };
    if (num == S.waitid_number) {
        /* The guest's siginfo_t: si_code at 8, then si_pid and si_status (after 4 bytes of padding on x86-64). */
        int wide = strcmp(S.target, "i386") != 0;
        int32_t code, pid, status;
        if (guest_read(wait_call.out + 8, &code, 4) || guest_read(wait_call.out + (wide ? 16 : 12), &pid, 4) ||
            guest_read(wait_call.out + (wide ? 24 : 20), &status, 4) || pid <= 0) return;
        if (code == 1 /* CLD_EXITED */) reaped[1] = (uint32_t)(status & 0xff) << 8;
        else if (code == 2 /* CLD_KILLED */ || code == 3 /* CLD_DUMPED */) reaped[1] = (uint32_t)(status & 0x7f) | (code == 3 ? 0x80 : 0);
        else return;
        reaped[0] = (uint32_t)pid;
    } else {
        int32_t status;
        if (ret == 0 || guest_read(wait_call.out, &status, 4)) return;
        if ((status & 0x7f) == 0x7f) return; /* stopped or continued: not an end */
        reaped[0] = (uint32_t)ret;
        reaped[1] = (uint32_t)status & 0xffff;
    }
    pthread_mutex_lock(&S.lock);
    if (!S.disabled && !S.finished) emit(PLEXLAB_REC_REAPED, reaped, 8, NULL, 0, NULL, 0);
    pthread_mutex_unlock(&S.lock);
}

static void on_syscall(qemu_plugin_id_t id, unsigned int index, int64_t num, uint64_t a1, uint64_t a2,
                       uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8)
{
    (void)id; (void)a1; (void)a2; (void)a3; (void)a4; (void)a5; (void)a6; (void)a7; (void)a8;
    note_wait_call(num, a2, a3, a4);
    if (!S.foreign) {
        struct vcpu *v = vcpu_of(index);
        if (!v || !v->recording) return;
        uint32_t n = room(v, 3);
        v->buf[n] = PLEXLAB_EV_SYSCALL;
        v->buf[n + 1] = (uint32_t)(uint64_t)num;
        v->buf[n + 2] = (uint32_t)((uint64_t)num >> 32);
        publish(v, n + 3);
    }
    if (num == S.exit_number || num == S.exit_group_number) note_exit_status((uint32_t)a1 & 0xff);
    if (num == S.execve_number || num == S.execveat_number) {
        /* A successful execve replaces QEMU and this plugin without an exit callback: send everything. */
        pthread_mutex_lock(&S.lock);
        if (tls_vcpu) touches_finish(tls_vcpu, 1); /* the TB of the execve is this stream's last */
        for (int i = 0; i < MAX_VCPUS; i++) if (S.vcpus[i]) flush_locked(S.vcpus[i]);
        out_flush();
        pthread_mutex_unlock(&S.lock);
        if (S.sock_path) follow_exec(num == S.execveat_number, a1, a2, a3, a4, a5);
    }
}

/* ---- translation ---- */

static struct tb_info *tb_info_alloc(void)
{
    if (!S.slab || S.slab_used == TB_SLAB) {
        S.slab = calloc(TB_SLAB, sizeof(struct tb_info)); /* never freed: generated code points into it */
        if (!S.slab) return NULL;
        S.slab_used = 0;
    }
    return &S.slab[S.slab_used++];
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    if (S.disabled) return; /* a forked child: run uninstrumented */
    if (S.foreign) { /* another architecture: uninstrumented, but wait and exec calls read guest memory */
        void *host = qemu_plugin_tb_n_insns(tb) ? qemu_plugin_insn_haddr(qemu_plugin_tb_get_insn(tb, 0)) : NULL;
        if (!S.have_guest_base && host) {
            S.guest_base = (uint64_t)(uintptr_t)host - qemu_plugin_tb_vaddr(tb);
            S.have_guest_base = 1;
        }
        return;
    }
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
    if (n == 0 || n > sizeof(S.sizes)) return;

    pthread_mutex_lock(&S.lock);
    restore_stderr();
    uint32_t len = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        size_t size = qemu_plugin_insn_size(insn);
        if (len + size > sizeof(S.scratch)) { ok = 0; break; }
        memcpy(S.scratch + len, qemu_plugin_insn_data(insn), size);
        S.sizes[i] = (uint8_t)size;
        len += (uint32_t)size;
        if (!S.have_guest_base) {
            void *host = qemu_plugin_insn_haddr(insn);
            if (host) {
                S.guest_base = (uint64_t)(uintptr_t)host - qemu_plugin_insn_vaddr(insn);
                S.have_guest_base = 1;
            }
        }
    }
    struct tb_info *info = ok && S.have_guest_base ? tb_info_alloc() : NULL;
    if (!S.wrapped_signals) {
        S.wrapped_signals = 1;
        wrap_signal_handlers();
    }
    if (info) {
        check_pages(vaddr, len);
        info->id = S.next_tb_id++;
        info->insns = (uint32_t)n;
        uint32_t head[2] = { info->id, (uint32_t)n };
        struct { uint64_t vaddr; uint32_t len; } __attribute__((packed)) where = { vaddr, len };
        emit4(PLEXLAB_REC_TB, head, 8, &where, 12, S.sizes, n, S.scratch, len);
    }
    pthread_mutex_unlock(&S.lock);
    if (!info) {
        qemu_plugin_outs("plexlab: cannot record a translation block (no host address or too long)\n");
        return;
    }

    if (S.limited)
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec_counting, QEMU_PLUGIN_CB_NO_REGS, info);
    else if (S.data_pages)
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec_data, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)info->id);
    else
        qemu_plugin_register_vcpu_tb_exec_cb(tb, S.no_runs ? on_tb_exec_plain : on_tb_exec, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)(uintptr_t)info->id);
    if (S.data_pages) {
        for (size_t i = 0; i < n; i++)
            qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, i), S.store_bit ? on_access_bit : on_access,
                                             QEMU_PLUGIN_CB_NO_REGS,
                                             QEMU_PLUGIN_MEM_RW, NULL);
    }
}

/* ---- process lifetime ---- */

static void on_exit_cb(qemu_plugin_id_t id, void *udata)
{
    (void)id; (void)udata;
    pthread_mutex_lock(&S.lock);
    finish_locked(PLEXLAB_END_EXIT);
    pthread_mutex_unlock(&S.lock);
}

static void before_fork(void)
{
    pthread_mutex_lock(&S.lock);
    if (S.sock_path) note_fork_locked();
}
static void after_fork_parent(void) { pthread_mutex_unlock(&S.lock); }
static void after_fork_child(void)
{
    /* A forked guest process must not write into the parent's stream: it opens its own, or records nothing. */
    pthread_mutex_unlock(&S.lock);
    if (S.fd >= 0) close(S.fd);
    S.fd = -1;
    ring_unmap(); /* the mapping is shared with the parent: never written from here */
    if (S.sock_path && !S.disabled && !S.finished) start_forked_child();
    else S.disabled = 1;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    uint64_t fd = (uint64_t)-1, errfd = (uint64_t)-1, ringfd = (uint64_t)-1;
    int fd_given = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "arg=", 4) == 0) arg += 4; /* the older -plugin ...,arg=K=V spelling */
        const char *eq = strchr(arg, '=');
        if (!eq) goto bad;
        size_t klen = (size_t)(eq - arg);
        const char *value = eq + 1;
        if (klen == 2 && strncmp(arg, "fd", 2) == 0) {
            if (!plexlab_parse_u64(value, 10, &fd)) goto bad;
            fd_given = 1;
        } else if (klen == 4 && strncmp(arg, "ring", 4) == 0) {
            if (!plexlab_parse_u64(value, 10, &ringfd)) goto bad;
        } else if (klen == 5 && strncmp(arg, "errfd", 5) == 0) {
            if (!plexlab_parse_u64(value, 10, &errfd)) goto bad;
        } else if (klen == 9 && strncmp(arg, "max-insns", 9) == 0) {
            if (!plexlab_parse_u64(value, 10, &S.max_insns)) goto bad;
        } else if (klen == 10 && strncmp(arg, "skip-insns", 10) == 0) {
            if (!plexlab_parse_u64(value, 10, &S.skip_insns)) goto bad;
        } else if (klen == 4 && strncmp(arg, "sock", 4) == 0) {
            S.sock_path = strdup(value);
        } else if ((klen == 6 && strncmp(arg, "qemu64", 6) == 0) || (klen == 6 && strncmp(arg, "qemu32", 6) == 0)) {
            if (arg[4] == '6') S.qemu64 = strdup(value); else S.qemu32 = strdup(value);
        } else if (klen == 5 && strncmp(arg, "rings", 5) == 0) {
            S.rings = strcmp(value, "on") == 0;
        } else if (klen == 4 && strncmp(arg, "runs", 4) == 0) {
            S.no_runs = strcmp(value, "off") == 0;
        } else if (klen == 9 && strncmp(arg, "tree-arch", 9) == 0) {
            S.tree_arch = strdup(value);
        } else if (klen == 10 && strncmp(arg, "data-pages", 10) == 0) {
            S.data_pages = strcmp(value, "on") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
        } else if (klen == 11 && strncmp(arg, "touch-cache", 11) == 0) {
            S.touch_cache = strcmp(value, "off") != 0;
        } else {
            goto bad;
        }
        continue;
    bad:
        fprintf(stderr, "plexlab plugin: bad argument '%s'\n", argv[i]);
        return -1;
    }
    if (fd == (uint64_t)-1 && S.sock_path) {
        fd = (uint64_t)open_channel(); /* an exec'd program: its own stream on the recorder's socket */
        if ((int64_t)fd < 0) {
            fprintf(stderr, "plexlab plugin: cannot connect to the recorder at %s\n", S.sock_path);
            return -1;
        }
    }
    if (fd == (uint64_t)-1 || fcntl((int)fd, F_GETFD) < 0) {
        fprintf(stderr, "plexlab plugin: needs fd=N, an open pipe to the recorder\n");
        return -1;
    }
    /* Out of the way of guests that close or reuse low descriptors; not inherited by guest execve. */
    int high = fcntl((int)fd, F_DUPFD_CLOEXEC, HIGH_FD);
    if (high < 0) high = fcntl((int)fd, F_DUPFD_CLOEXEC, 64);
    if (high >= 0) {
        close((int)fd);
        S.fd = high;
    } else {
        S.fd = (int)fd;
        fcntl(S.fd, F_SETFD, FD_CLOEXEC);
    }
    if (ringfd != (uint64_t)-1 && !ring_map((int)ringfd)) {
        fprintf(stderr, "plexlab plugin: ring=%llu is not a PlexLab ring\n", (unsigned long long)ringfd);
        return -1;
    }
    if (errfd != (uint64_t)-1 && fcntl((int)errfd, F_GETFD) >= 0) {
        S.saved_stderr = fcntl(2, F_DUPFD_CLOEXEC, HIGH_FD + 1);
        if (S.saved_stderr >= 0) dup2((int)errfd, 2);
        close((int)errfd);
    }
    if (S.sock_path && !follow_setup(argc, argv)) return -1;
    S.limited = S.max_insns != 0 || S.skip_insns != 0;
    S.store_bit = S.data_pages && store_bit_agrees();
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);

    const char *target = info && info->target_name ? info->target_name : "";
    int i386 = strcmp(target, "i386") == 0;
    S.execve_number = i386 ? 11 : 59;
    S.execveat_number = i386 ? 358 : 322;
    S.exit_number = i386 ? 1 : 60;
    S.exit_group_number = i386 ? 252 : 231;
    S.wait4_number = i386 ? 114 : 61;
    S.waitpid_number = i386 ? 7 : -1;
    S.waitid_number = i386 ? 284 : 247;
    S.target = target;
    S.foreign = S.tree_arch && strcmp(S.tree_arch, target) != 0;
    start_ring_populate();
    pthread_mutex_lock(&S.lock);
    send_identity_locked(fd_given ? PLEXLAB_ORIGIN_START : PLEXLAB_ORIGIN_EXEC, 0);
    out_flush(); /* the recorder learns early that the plugin runs */
    pthread_mutex_unlock(&S.lock);

    qemu_plugin_register_vcpu_exit_cb(id, on_vcpu_exit);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    qemu_plugin_register_vcpu_syscall_ret_cb(id, on_syscall_ret);
    qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
    return 0;
}
