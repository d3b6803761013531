#define _GNU_SOURCE
#include "avp_sandbox.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>

#if defined(__x86_64__)
#define AVP_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AVP_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "seccomp filter: unknown architecture"
#endif

// What every `avp serve` calls once it serves, found with `strace -f -c` under the real-guest tests,
// plus what the Swift runtime, glibc and logging need: memory, threads (clone with CLONE_THREAD
// only), signals, time, epoll/eventfd/timerfd, I/O on descriptors it holds (the vhost-user
// connection and the fds it passes: memory regions, kicks, calls, inflight memfd), opening files
// (the mount namespace decides which exist), removing its own listeners' sockets when it stops.
// Never here: execve, ptrace, mount, bpf, setns, unshare, process creation, sockets (socket(2) is
// checked apart: AF_UNIX only, and only for kinds that connect at run time).
static const int base_calls[] = {
    SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64, SYS_preadv, SYS_pwritev, SYS_preadv2, SYS_pwritev2,
    SYS_close, SYS_close_range, SYS_openat, SYS_newfstatat, SYS_fstat, SYS_statx, SYS_lseek, SYS_fadvise64,
    SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise, SYS_msync, SYS_brk, SYS_membarrier, SYS_memfd_create,
    SYS_futex, SYS_get_robust_list, SYS_set_robust_list, SYS_rseq, SYS_set_tid_address, SYS_sched_yield,
    SYS_sched_getaffinity, SYS_prctl, SYS_prlimit64, SYS_getrlimit, SYS_getrandom, SYS_uname, SYS_getcwd, SYS_sysinfo,
    SYS_getrusage, SYS_times,
    SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_rt_sigtimedwait, SYS_sigaltstack, SYS_restart_syscall,
    SYS_tgkill, SYS_clock_gettime, SYS_clock_getres, SYS_clock_nanosleep, SYS_nanosleep, SYS_gettimeofday,
    SYS_getpid, SYS_gettid, SYS_getppid, SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid, SYS_getresuid, SYS_getresgid,
    SYS_getgroups, SYS_exit, SYS_exit_group,
    SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_pwait, SYS_epoll_pwait2, SYS_eventfd2, SYS_ppoll, SYS_pselect6,
    SYS_timerfd_create, SYS_timerfd_settime, SYS_timerfd_gettime,
    SYS_accept4, SYS_recvmsg, SYS_sendmsg, SYS_recvfrom, SYS_sendto, SYS_shutdown, SYS_getsockopt,
    SYS_setsockopt, SYS_getsockname, SYS_getpeername, SYS_fcntl, SYS_ioctl, SYS_dup, SYS_dup3, SYS_pipe2, SYS_flock,
    SYS_ftruncate, SYS_fallocate, SYS_fsync, SYS_fdatasync, SYS_statfs, SYS_fstatfs, SYS_getdents64,
    SYS_readlinkat, SYS_faccessat, SYS_faccessat2, SYS_unlinkat,
    SYS_vmsplice, SYS_splice,   // SpliceSender: the GPU's scanouts to QEMU's display socket without a copy
    // The server loop's ring (EventLoopRing), made before the sandbox closes and restricted to its
    // operations; its thread enables it (io_uring_register, which a restricted ring refuses for
    // anything else). io_uring_setup stays outside: no other ring can be made.
    SYS_io_uring_enter, SYS_io_uring_register,
#if defined(__x86_64__)
    SYS_open, SYS_stat, SYS_lstat, SYS_access, SYS_readlink, SYS_unlink, SYS_poll, SYS_select, SYS_epoll_wait,
    SYS_dup2, SYS_pipe, SYS_arch_prctl, SYS_time, SYS_accept,
#endif
};

// AVP_SECCOMP_UNIX_SOCKETS: connect (socket(AF_UNIX) itself is checked in the program).
static const int unix_calls[] = { SYS_connect };

// AVP_SECCOMP_FILE_REPLACE: a temporary written next to the file, then renamed over it (Foundation's
// atomic writes, EepromFile), with its mode and owner carried over.
static const int replace_calls[] = {
    SYS_renameat, SYS_renameat2, SYS_mkdirat, SYS_fchmod, SYS_fchown, SYS_fchmodat, SYS_fchownat, SYS_utimensat, SYS_linkat,
    SYS_fgetxattr, SYS_flistxattr, SYS_getxattr, SYS_lgetxattr, SYS_listxattr, SYS_llistxattr,
#if defined(__x86_64__)
    SYS_rename, SYS_mkdir, SYS_chmod, SYS_link,
#endif
};

// AVP_SECCOMP_FILE_SYSTEM: what the virtio-fs passthrough makes of FUSE requests (with FILE_REPLACE).
static const int fs_calls[] = {
    SYS_mknodat, SYS_symlinkat, SYS_syncfs, SYS_sync_file_range, SYS_truncate, SYS_name_to_handle_at, SYS_open_by_handle_at,
    SYS_fsetxattr, SYS_fremovexattr, SYS_setxattr, SYS_lsetxattr, SYS_removexattr, SYS_lremovexattr,
    SYS_copy_file_range, SYS_sendfile,
#if defined(__x86_64__)
    SYS_chown, SYS_lchown, SYS_utimes, SYS_utime, SYS_rmdir, SYS_symlink, SYS_mknod,
#endif
};

// AVP_SECCOMP_AUDIO: ALSA's dmix/dsnoop (System V memory and semaphores) and audio threads' priority.
static const int audio_calls[] = {
    SYS_shmget, SYS_shmat, SYS_shmdt, SYS_shmctl, SYS_semget, SYS_semop, SYS_semtimedop, SYS_semctl,
    SYS_sched_setscheduler, SYS_sched_getscheduler, SYS_sched_setparam, SYS_sched_getparam,
    SYS_sched_get_priority_max, SYS_sched_get_priority_min, SYS_getpriority, SYS_setpriority, SYS_mlock, SYS_munlock,
};

#define COUNT(list) (sizeof list / sizeof list[0])
enum { max_calls = COUNT(base_calls) + COUNT(unix_calls) + COUNT(replace_calls) + COUNT(fs_calls) + COUNT(audio_calls) };

static unsigned add(int *calls, unsigned n, const int *list, unsigned count) {
    for (unsigned i = 0; i < count; i++) {
        unsigned j = 0;
        while (j < n && calls[j] != list[i]) j++;
        if (j == n) calls[n++] = list[i];
    }
    return n;
}

/// The allow-list of `groups`, without duplicates; returns its length.
static unsigned collect(unsigned groups, int *calls) {
    unsigned n = add(calls, 0, base_calls, COUNT(base_calls));
    if (groups & AVP_SECCOMP_UNIX_SOCKETS) n = add(calls, n, unix_calls, COUNT(unix_calls));
    if (groups & (AVP_SECCOMP_FILE_REPLACE | AVP_SECCOMP_FILE_SYSTEM)) n = add(calls, n, replace_calls, COUNT(replace_calls));
    if (groups & AVP_SECCOMP_FILE_SYSTEM) n = add(calls, n, fs_calls, COUNT(fs_calls));
    if (groups & AVP_SECCOMP_AUDIO) n = add(calls, n, audio_calls, COUNT(audio_calls));
    return n;
}

int avp_sandbox_seccomp_allowed(unsigned groups) {
    int calls[max_calls];
    // clone (threads only) always; socket (AF_UNIX only) with the Unix-sockets group.
    return (int)collect(groups, calls) + 1 + ((groups & AVP_SECCOMP_UNIX_SOCKETS) ? 1 : 0);
}

static void report_violation(int sig, siginfo_t *info, void *context) {
    (void)sig; (void)context;
    char text[96] = "avp: seccomp: system call ";
    size_t n = strlen(text);
    int nr = info->si_syscall;
    char digits[12]; int d = 0;
    if (nr < 0) { text[n++] = '-'; nr = -nr; }
    do { digits[d++] = (char)('0' + nr % 10); nr /= 10; } while (nr && d < 11);
    while (d) text[n++] = digits[--d];
    const char *tail = " is not on the allow-list\n";
    for (size_t i = 0; tail[i] && n < sizeof text - 1; i++) text[n++] = tail[i];
    (void)!write(2, text, n);
    _exit(159);
}

#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define ARG0_LOW BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]))
#define RET(value) BPF_STMT(BPF_RET | BPF_K, (value))

int avp_sandbox_seccomp(unsigned groups, const char **step) {
    int calls[max_calls];
    unsigned count = collect(groups, calls);
    struct sock_filter program[24 + 2 * max_calls];
    unsigned n = 0;
    program[n++] = (struct sock_filter)LOAD(arch);
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AVP_AUDIT_ARCH, 1, 0);
    program[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
    program[n++] = (struct sock_filter)LOAD(nr);
#if defined(__x86_64__)
    // x32 calls share the architecture value: refuse the whole range.
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
    program[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
#endif
    // socket(AF_UNIX, …) only, and only where the kind connects at run time; anything else traps.
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 4);
    program[n++] = (struct sock_filter)ARG0_LOW;
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1);
    program[n++] = (struct sock_filter)RET((groups & AVP_SECCOMP_UNIX_SOCKETS) ? SECCOMP_RET_ALLOW : SECCOMP_RET_TRAP);
    program[n++] = (struct sock_filter)RET(SECCOMP_RET_TRAP);
    // Threads, not processes: clone with CLONE_THREAD; clone3 (flags out of reach in memory) answers
    // ENOSYS, so glibc falls back to clone.
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
    program[n++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO | ENOSYS);
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4);
    program[n++] = (struct sock_filter)ARG0_LOW;
    program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1);
    program[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    program[n++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO | EPERM);
    for (unsigned i = 0; i < count; i++) {
        program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)calls[i], 0, 1);
        program[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    }
    program[n++] = (struct sock_filter)RET(SECCOMP_RET_TRAP);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = report_violation;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSYS, &action, NULL) != 0) { if (step) *step = "sigaction(SIGSYS)"; return -1; }
    sigset_t sys;
    sigemptyset(&sys);
    sigaddset(&sys, SIGSYS);
    pthread_sigmask(SIG_UNBLOCK, &sys, NULL);

    struct sock_fprog fprog = {.len = (unsigned short)n, .filter = program};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { if (step) *step = "PR_SET_NO_NEW_PRIVS"; return -1; }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog) != 0) {
        if (step) *step = "seccomp(SECCOMP_SET_MODE_FILTER)";
        return -1;
    }
    return 0;
}
