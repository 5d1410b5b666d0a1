/* ptrace plumbing for the live monitor (Sources/LiveMonitor, docs/live.md).
 *
 * Swift cannot call the variadic ptrace(2) and needs struct user_regs_struct in one place, so every
 * tracee operation the monitor needs is one small function here. Functions return 0 on success or
 * -errno; nothing here keeps state except the interrupt flag set by lt_install_interrupt_handlers.
 */
#ifndef CLIVETRACE_H
#define CLIVETRACE_H

#include <stdint.h>
#include <sys/types.h>

/** The registers the monitor reads and writes (a copy of the tracee's user_regs_struct fields). */
typedef struct {
    uint64_t ip, sp, ax, orig_ax, cs;
    /* Syscall arguments in the tracee's convention: x86-64 rdi rsi rdx r10 r8 r9, i386 ebx ecx edx esi edi ebp. */
    uint64_t arg[6];
} lt_regs;

/** What waitpid reported, decoded. */
typedef struct {
    pid_t pid;
    int kind;        /* LT_STOP_* */
    int signal;      /* stop signal, exit signal, or exit status */
    int event;       /* PTRACE_EVENT_* for LT_STOP_EVENT */
    int si_code;     /* for signal stops */
    uint64_t fault_address;
    double user_cpu, system_cpu; /* for exits: the process's CPU seconds (wait4's rusage) */
} lt_stop;

enum { LT_STOP_EXITED = 0, LT_STOP_KILLED = 1, LT_STOP_SIGNAL = 2, LT_STOP_EVENT = 3, LT_STOP_GROUP = 4 };

/** Forks, makes the child a tracee (PTRACE_TRACEME, PR_SET_PDEATHSIG), execs `path` and waits for the
 *  exec stop; sets EXITKILL, TRACECLONE, TRACEFORK, TRACEVFORK, TRACEEXEC. `*pid` is the child. */
int lt_spawn(const char *path, char *const argv[], char *const envp[], pid_t *pid);
/** Runs `path` plainly (no tracing) and waits; `*status` is the waitpid status. Wall and CPU seconds. */
int lt_run_plain(const char *path, char *const argv[], char *const envp[], int *status,
                 double *wall, double *user_cpu, double *system_cpu);

/** waitpid(-group, __WALL): any thread of the traced program (spawned in its own process group, so
 *  other children of this process, and other monitors in it, are never reaped here). EINTR is returned
 *  as -EINTR (so an interrupt can be noticed). */
int lt_wait(pid_t group, lt_stop *stop);
/** The same for one thread (waitpid(tid, __WALL)). */
int lt_wait_thread(pid_t tid, lt_stop *stop);
/** tgkill(tgid, tid, signal). */
int lt_tgkill(pid_t tgid, pid_t tid, int signal);
/** The Tgid line of /proc/TID/status (the thread group a new task belongs to), or -errno. */
int lt_thread_group(pid_t tid);
int lt_get_regs(pid_t pid, lt_regs *regs);
/** Writes ip, sp, ax, orig_ax and the six syscall arguments back. */
int lt_set_regs(pid_t pid, const lt_regs *regs);
int lt_set_ip(pid_t pid, uint64_t ip);
/** After a system call run from the monitor's page: ip to `ip`, and (x86-64 `syscall`) rcx too, which
 *  the instruction sets to the address after itself. */
int lt_set_syscall_return(pid_t pid, uint64_t ip, int set_rcx);
int lt_cont(pid_t pid, int signal);
int lt_step(pid_t pid, int signal);
int lt_set_options(pid_t pid);
int lt_event_message(pid_t pid, unsigned long *message);

/** /proc/PID/mem opened read-write (writes reach read-only mappings, as a debugger's do). */
int lt_open_mem(pid_t pid);
/** Bytes read (or -errno); short reads at unmapped memory return what was read. */
long lt_read(int mem_fd, uint64_t address, void *buffer, size_t length);
long lt_write(int mem_fd, uint64_t address, const void *buffer, size_t length);

/** Runs one system call in the stopped tracee: saves its registers, points ip at `syscall_site` (an
 *  instruction `syscall` or `int $0x80` in the tracee), single-steps it and restores the registers.
 *  `*result` is the call's return value (negative errno on failure). */
int lt_inject_syscall(pid_t pid, uint64_t syscall_site, int is32, long number, const uint64_t args[6], long *result);

/** SIGINT/SIGTERM/SIGHUP set a flag (lt_interrupted) instead of killing the monitor, without SA_RESTART
 *  so a waiting lt_wait returns -EINTR. */
void lt_install_interrupt_handlers(void);
int lt_interrupted(void);
void lt_restore_interrupt_handlers(void);

/** SIGKILL to one process/thread. */
int lt_kill(pid_t pid);
/** CPU seconds (user + system) this process has used itself. */
double lt_self_cpu(void);
double lt_now(void);

/* The live monitor's own round trips, for `plexlab calibrate --live` (docs/live.md, "The live profile").
 * Seconds per stop-and-resume: a traced child executes `int3` `iterations` times; each SIGTRAP stop is
 * waited for and resumed with PTRACE_CONT (no register access). Negative errno on failure. */
double lt_time_stop_resume(int iterations);
/* Seconds per mprotect(2) of one page in this process (alternating read-only and read-write). */
double lt_time_mprotect(int iterations);

#endif
