/// The C sources of the guest image's own programs: the init and the guest workloads (docs/recorder.md,
/// "System traces"). Compiled with gcc -static when the image is built.
enum GuestSources {
    /// The init: mounts, reads the command from /plexlab/command, marks the recording window around it with
    /// PLEXLAB_MARK_SYSCALL (plexlab_plugin.h), prints the guest's own page-fault count around the window
    /// and the command's exit status, and powers off.
    static let initProgram = #"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MARK 0x504c58 /* PLEXLAB_MARK_SYSCALL: unused, the kernel answers ENOSYS; the plugin sees it */

static char vmstat[16384];
static char command[65536];

/* The kernel's own count of page faults (handle_mm_fault calls). Every page this touches is touched
   before the window opens, so reading it adds no fault inside the window. */
static long pgfault(void)
{
    int fd = open("/proc/vmstat", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, vmstat, sizeof(vmstat) - 1);
    close(fd);
    if (n <= 0) return -1;
    vmstat[n] = 0;
    char *at = strstr(vmstat, "\npgfault ");
    return at ? atol(at + 9) : -1;
}

int main(void)
{
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
    int console = open("/dev/console", O_RDWR);
    if (console >= 0) { dup2(console, 0); dup2(console, 1); dup2(console, 2); }
    setenv("PATH", "/bin", 1);
    setenv("HOME", "/", 1);

    /* The command: NUL-separated words (the recorder appends it to the image as /plexlab/command). */
    char *argv[1024];
    int argc = 0;
    int fd = open("/plexlab/command", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, command, sizeof(command) - 1) : -1;
    if (fd >= 0) close(fd);
    for (ssize_t i = 0; i < n && argc < 1023; ) {
        argv[argc++] = command + i;
        i += (ssize_t)strlen(command + i) + 1;
    }
    if (argc == 0) argv[argc++] = "/bin/sh";
    argv[argc] = NULL;

    memset(vmstat, 0, sizeof(vmstat));
    syscall(MARK, 0);                 /* faults the wrapper in before the window (0 marks nothing) */
    pgfault();
    printf("PLEXLAB-READY\n");
    fflush(stdout);
    long before = pgfault();
    syscall(MARK, 1);
    pid_t child = fork();
    if (child == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    while (child > 0 && waitpid(child, &status, 0) < 0) {}
    syscall(MARK, 2);
    long after = pgfault();
    int code = child < 0 ? 126 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    printf("PLEXLAB-PGFAULT %ld %ld\nPLEXLAB-STATUS %d\n", before, after, code);
    fflush(stdout);
    reboot(RB_POWER_OFF);
    return 0;
}
"""#

    /// The guest workloads: name (installed as /bin/NAME) and source. Each prints one line with its count.
    static let workloads: [(name: String, source: String)] = [
        ("plexlab-forkwait", #"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
/* Adams and Agesen's forkwait: a process forks children that exit at once, and waits for each. */
int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    for (long i = 0; i < n; i++) {
        pid_t child = fork();
        if (child == 0) _exit(0);
        if (child < 0) return 1;
        waitpid(child, NULL, 0);
    }
    printf("forkwait %ld forks\n", n);
    return 0;
}
"""#),
        ("plexlab-getppid", #"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
/* A system-call loop: getppid, the cheapest call there is. */
int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    long sum = 0;
    for (long i = 0; i < n; i++) sum += syscall(SYS_getppid);
    printf("getppid %ld syscalls (%ld)\n", n, sum > 0);
    return 0;
}
"""#),
        ("plexlab-pagefault", #"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
/* A page-fault loop: touches fresh anonymous pages, one fault each. */
int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 4096;
    char *area = mmap(NULL, (size_t)n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) return 1;
    for (long i = 0; i < n; i++) area[i * 4096] = (char)i;
    printf("pagefault %ld pages touched\n", n);
    return 0;
}
"""#),
    ]

    /// busybox applets linked in /bin (busybox-static: one static binary).
    static let applets = ["sh", "gzip", "gunzip", "cat", "echo", "ls", "grep", "true", "false", "dd", "mkdir", "rm",
                          "cp", "mv", "wc", "head", "tail", "sleep", "uname", "sync", "seq", "md5sum", "sort"]
}
