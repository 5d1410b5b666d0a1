#define _GNU_SOURCE
#include "clivetrace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted_flag = 0;
static struct sigaction previous[3];
static const int interrupt_signals[3] = {SIGINT, SIGTERM, SIGHUP};

/* The child being run (a traced program's process group is negative): the handler kills it, so a wait
 * in another thread, or one the signal did not interrupt, still ends. */
static volatile pid_t running_child = 0;

static void on_interrupt(int signal) {
    (void)signal;
    interrupted_flag = 1;
    pid_t child = running_child;
    if (child != 0) kill(child, SIGKILL);
}

void lt_install_interrupt_handlers(void) {
    interrupted_flag = 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_interrupt; /* no SA_RESTART: waitpid returns EINTR */
    sigemptyset(&action.sa_mask);
    sigset_t unblock;
    sigemptyset(&unblock);
    for (int i = 0; i < 3; i++) {
        sigaction(interrupt_signals[i], &action, &previous[i]);
        sigaddset(&unblock, interrupt_signals[i]);
    }
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL); /* a parent may have started us with them blocked */
}

void lt_restore_interrupt_handlers(void) {
    running_child = 0;
    for (int i = 0; i < 3; i++) sigaction(interrupt_signals[i], &previous[i], NULL);
}

int lt_interrupted(void) { return interrupted_flag; }

double lt_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double seconds(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec * 1e-6; }

double lt_self_cpu(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

int lt_set_options(pid_t pid) {
    long options = PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
                   PTRACE_O_TRACEEXEC;
    return ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)options) == 0 ? 0 : -errno;
}

/* A child starts like one a shell starts: default dispositions, nothing blocked (the monitor's own
 * threads may block or ignore signals, and both survive execve). */
static void reset_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    for (int signal = 1; signal < NSIG; signal++) {
        if (signal == SIGKILL || signal == SIGSTOP) continue;
        sigaction(signal, &action, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

int lt_spawn(const char *path, char *const argv[], char *const envp[], pid_t *out) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -errno;
    pid_t pid = fork();
    if (pid < 0) { int e = errno; close(report[0]); close(report[1]); return -e; }
    if (pid == 0) {
        close(report[0]);
        reset_signals();
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setpgid(0, 0); /* its own process group: the monitor waits for this group only */
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) { int e = errno; (void)!write(report[1], &e, sizeof e); _exit(127); }
        execve(path, argv, envp);
        int e = errno;
        (void)!write(report[1], &e, sizeof e);
        _exit(127);
    }
    close(report[1]);
    setpgid(pid, pid);
    int child_errno = 0;
    ssize_t got = read(report[0], &child_errno, sizeof child_errno);
    close(report[0]);
    int status;
    if (got == (ssize_t)sizeof child_errno) { /* exec failed: the child exits at once */
        waitpid(pid, &status, 0);
        return -child_errno;
    }
    if (waitpid(pid, &status, 0) != pid) return -errno;
    if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -ECHILD;
    }
    int result = lt_set_options(pid);
    if (result != 0) { kill(pid, SIGKILL); waitpid(pid, &status, 0); return result; }
    running_child = -pid;
    if (interrupted_flag) kill(-pid, SIGKILL);
    *out = pid;
    return 0;
}

int lt_run_plain(const char *path, char *const argv[], char *const envp[], int *status,
                 double *wall, double *user_cpu, double *system_cpu) {
    double start = lt_now();
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) {
        reset_signals();
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execve(path, argv, envp);
        _exit(127);
    }
    struct rusage usage;
    running_child = pid;
    if (interrupted_flag) kill(pid, SIGKILL);
    while (wait4(pid, status, 0, &usage) < 0) {
        if (errno != EINTR) return -errno;
        if (interrupted_flag) kill(pid, SIGKILL);
    }
    running_child = 0;
    *wall = lt_now() - start;
    *user_cpu = seconds(usage.ru_utime);
    *system_cpu = seconds(usage.ru_stime);
    return 0;
}

int lt_wait(pid_t group, lt_stop *stop) { return lt_wait_thread(-group, stop); }

int lt_tgkill(pid_t tgid, pid_t tid, int signal) {
    return syscall(SYS_tgkill, tgid, tid, signal) == 0 ? 0 : -errno;
}

int lt_thread_group(pid_t tid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
    FILE *file = fopen(path, "re");
    if (!file) return -errno;
    int tgid = -ENOENT;
    while (fgets(line, sizeof line, file)) {
        if (strncmp(line, "Tgid:", 5) == 0) { tgid = atoi(line + 5); break; }
    }
    fclose(file);
    return tgid;
}

int lt_wait_thread(pid_t which, lt_stop *stop) {
    int status;
    struct rusage usage;
    memset(stop, 0, sizeof *stop);
    pid_t pid = wait4(which, &status, __WALL, &usage);
    if (pid < 0) return -errno;
    stop->pid = pid;
    if (WIFEXITED(status)) {
        stop->kind = LT_STOP_EXITED;
        stop->signal = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        stop->kind = LT_STOP_KILLED;
        stop->signal = WTERMSIG(status);
    } else if (WIFSTOPPED(status)) {
        int event = (status >> 16) & 0xff;
        stop->signal = WSTOPSIG(status);
        if (event != 0) {
            stop->kind = event == PTRACE_EVENT_STOP ? LT_STOP_GROUP : LT_STOP_EVENT;
            stop->event = event;
        } else {
            stop->kind = LT_STOP_SIGNAL;
            siginfo_t info;
            if (ptrace(PTRACE_GETSIGINFO, pid, 0, &info) == 0) {
                stop->si_code = info.si_code;
                stop->fault_address = (uint64_t)(uintptr_t)info.si_addr;
            }
        }
    }
    if (stop->kind == LT_STOP_EXITED || stop->kind == LT_STOP_KILLED) {
        stop->user_cpu = seconds(usage.ru_utime);
        stop->system_cpu = seconds(usage.ru_stime);
    }
    return 0;
}

int lt_get_regs(pid_t pid, lt_regs *regs) {
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, pid, 0, &r) != 0) return -errno;
    regs->ip = r.rip; regs->sp = r.rsp; regs->ax = r.rax; regs->orig_ax = r.orig_rax; regs->cs = r.cs;
    if (r.cs == 0x23) { /* i386 tracee: the kernel presents its registers zero-extended */
        regs->arg[0] = r.rbx; regs->arg[1] = r.rcx; regs->arg[2] = r.rdx;
        regs->arg[3] = r.rsi; regs->arg[4] = r.rdi; regs->arg[5] = r.rbp;
    } else {
        regs->arg[0] = r.rdi; regs->arg[1] = r.rsi; regs->arg[2] = r.rdx;
        regs->arg[3] = r.r10; regs->arg[4] = r.r8; regs->arg[5] = r.r9;
    }
    return 0;
}

int lt_set_regs(pid_t pid, const lt_regs *regs) {
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, pid, 0, &r) != 0) return -errno;
    r.rip = regs->ip; r.rsp = regs->sp; r.rax = regs->ax; r.orig_rax = regs->orig_ax;
    if (r.cs == 0x23) {
        r.rbx = regs->arg[0]; r.rcx = regs->arg[1]; r.rdx = regs->arg[2];
        r.rsi = regs->arg[3]; r.rdi = regs->arg[4]; r.rbp = regs->arg[5];
    } else {
        r.rdi = regs->arg[0]; r.rsi = regs->arg[1]; r.rdx = regs->arg[2];
        r.r10 = regs->arg[3]; r.r8 = regs->arg[4]; r.r9 = regs->arg[5];
    }
    return ptrace(PTRACE_SETREGS, pid, 0, &r) == 0 ? 0 : -errno;
}

int lt_set_ip(pid_t pid, uint64_t ip) {
    return ptrace(PTRACE_POKEUSER, pid, (void *)offsetof(struct user_regs_struct, rip), (void *)ip) == 0 ? 0 : -errno;
}

int lt_set_syscall_return(pid_t pid, uint64_t ip, int set_rcx) {
    if (set_rcx && ptrace(PTRACE_POKEUSER, pid, (void *)offsetof(struct user_regs_struct, rcx), (void *)ip) != 0) return -errno;
    return lt_set_ip(pid, ip);
}

int lt_cont(pid_t pid, int signal) {
    return ptrace(PTRACE_CONT, pid, 0, (void *)(long)signal) == 0 ? 0 : -errno;
}

int lt_step(pid_t pid, int signal) {
    return ptrace(PTRACE_SINGLESTEP, pid, 0, (void *)(long)signal) == 0 ? 0 : -errno;
}

int lt_event_message(pid_t pid, unsigned long *message) {
    return ptrace(PTRACE_GETEVENTMSG, pid, 0, message) == 0 ? 0 : -errno;
}

int lt_open_mem(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

long lt_read(int mem_fd, uint64_t address, void *buffer, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t got = pread(mem_fd, (char *)buffer + done, length - done, (off_t)(address + done));
        if (got < 0) { if (errno == EINTR) continue; return done > 0 ? (long)done : -errno; }
        if (got == 0) break;
        done += (size_t)got;
    }
    return (long)done;
}

long lt_write(int mem_fd, uint64_t address, const void *buffer, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t put = pwrite(mem_fd, (const char *)buffer + done, length - done, (off_t)(address + done));
        if (put < 0) { if (errno == EINTR) continue; return -errno; }
        if (put == 0) return -EIO;
        done += (size_t)put;
    }
    return (long)done;
}

int lt_inject_syscall(pid_t pid, uint64_t syscall_site, int is32, long number, const uint64_t args[6], long *result) {
    struct user_regs_struct saved, r;
    if (ptrace(PTRACE_GETREGS, pid, 0, &saved) != 0) return -errno;
    r = saved;
    r.rip = syscall_site;
    r.rax = (unsigned long)number;
    r.orig_rax = (unsigned long)-1; /* not inside a system call: no restart logic on resume */
    if (is32) {
        r.rbx = args[0]; r.rcx = args[1]; r.rdx = args[2]; r.rsi = args[3]; r.rdi = args[4]; r.rbp = args[5];
    } else {
        r.rdi = args[0]; r.rsi = args[1]; r.rdx = args[2]; r.r10 = args[3]; r.r8 = args[4]; r.r9 = args[5];
    }
    if (ptrace(PTRACE_SETREGS, pid, 0, &r) != 0) return -errno;
    if (ptrace(PTRACE_SINGLESTEP, pid, 0, 0) != 0) return -errno;
    int status;
    for (;;) {
        pid_t got = waitpid(pid, &status, __WALL);
        if (got < 0) { if (errno == EINTR) continue; return -errno; }
        break;
    }
    if (!WIFSTOPPED(status)) return -ESRCH;
    if (WSTOPSIG(status) != SIGTRAP) return -EFAULT;
    if (ptrace(PTRACE_GETREGS, pid, 0, &r) != 0) return -errno;
    *result = is32 ? (long)(int32_t)(uint32_t)r.rax : (long)r.rax;
    if (ptrace(PTRACE_SETREGS, pid, 0, &saved) != 0) return -errno;
    return 0;
}

int lt_kill(pid_t pid) { return kill(pid, SIGKILL) == 0 ? 0 : -errno; }

double lt_time_stop_resume(int iterations) {
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) {
        reset_signals();
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) _exit(127);
        raise(SIGSTOP);
        for (int i = 0; i < iterations; i++) __asm__ volatile("int3");
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status)) { kill(pid, SIGKILL); waitpid(pid, &status, 0); return -ECHILD; }
    ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)(long)PTRACE_O_EXITKILL);
    double start = lt_now();
    ptrace(PTRACE_CONT, pid, 0, 0);
    int stops = 0;
    while (waitpid(pid, &status, 0) == pid && WIFSTOPPED(status)) {
        stops++;
        ptrace(PTRACE_CONT, pid, 0, 0);
    }
    double seconds = lt_now() - start;
    if (stops != iterations) return -EPROTO;
    return seconds / iterations;
}

double lt_time_mprotect(int iterations) {
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return -errno;
    double start = lt_now();
    for (int i = 0; i < iterations; i++) {
        mprotect(page, 4096, PROT_READ);
        mprotect(page, 4096, PROT_READ | PROT_WRITE);
    }
    double seconds = lt_now() - start;
    munmap(page, 4096);
    return seconds / (2.0 * iterations);
}
