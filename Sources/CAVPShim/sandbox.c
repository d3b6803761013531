#define _GNU_SOURCE
#include "avp_sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <link.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#define FAIL(name) do { if (step) *step = (name); return -1; } while (0)

/// The signal that asks each thread to drop its capabilities.
#define AVP_SANDBOX_BROADCAST_SIGNAL (SIGRTMAX - 2)

/// dl_iterate_phdr callback: unmaps the calling program's read-only segments (its code and constants)
/// from this process. Only the first object is the program itself; the rest are shared libraries.
static int drop_read_only_segments(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size; (void)data;
    long page = sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD || (segment->p_flags & PF_W)) continue;
        uintptr_t start = (info->dlpi_addr + segment->p_vaddr) & ~(uintptr_t)(page - 1);
        uintptr_t end = (info->dlpi_addr + segment->p_vaddr + segment->p_memsz + page - 1) & ~(uintptr_t)(page - 1);
        madvise((void *)start, end - start, MADV_DONTNEED);
    }
    return 1;
}

int avp_sandbox_fork(int keep, const char **step) {
    sigset_t forwarded, previous;
    sigemptyset(&forwarded);
    int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD};
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaddset(&forwarded, signals[i]);
    if (sigprocmask(SIG_BLOCK, &forwarded, &previous) != 0) FAIL("sigprocmask");
    if (unshare(CLONE_NEWPID) != 0) { int e = errno; sigprocmask(SIG_SETMASK, &previous, NULL); errno = e; FAIL("unshare(CLONE_NEWPID)"); }
    pid_t child = fork();
    if (child < 0) { int e = errno; sigprocmask(SIG_SETMASK, &previous, NULL); errno = e; FAIL("fork"); }
    if (child == 0) {
        // The parent going away (even SIGKILLed) takes the server, and so the namespace, with it.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) FAIL("PR_SET_PDEATHSIG");
        // The mask came from whoever started the server (a test runner's thread may block every
        // signal); threads inherit it. The capability broadcast and the seccomp handler need theirs.
        sigdelset(&previous, AVP_SANDBOX_BROADCAST_SIGNAL);
        sigdelset(&previous, SIGSYS);
        sigprocmask(SIG_SETMASK, &previous, NULL);
        int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWCGROUP;
        if (!(keep & AVP_SANDBOX_KEEP_NET)) flags |= CLONE_NEWNET;
        if (!(keep & AVP_SANDBOX_KEEP_IPC)) flags |= CLONE_NEWIPC;
        if (unshare(flags) != 0) FAIL("unshare(CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWCGROUP)");
        return 0;
    }
    // The parent: a waiter that passes termination signals on and reports how the child ended.
    // It runs a few hundred bytes of this file and libc from here on, yet still maps every page of
    // the program that parsing touched. MADV_DONTNEED on the program's read-only segments unmaps
    // those clean file pages (nothing is lost: a page it touches again comes back from the page
    // cache); writable segments are left alone, since there it would discard data.
    dl_iterate_phdr(drop_read_only_segments, NULL);
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&forwarded, &info);
        if (sig < 0) continue;
        if (sig != SIGCHLD) { kill(child, sig); continue; }
        int status;
        pid_t done = waitpid(child, &status, WNOHANG);
        if (done != child) continue;
        if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
        if (WIFSIGNALED(status)) {
            dprintf(2, "avp: the sandboxed server was killed by signal %d\n", WTERMSIG(status));
            _exit(128 + WTERMSIG(status));
        }
    }
}

/// This thread's capabilities cut to `keep`, and no_new_privs: the calling thread's credentials only.
static int drop_own(uint64_t keep, const char **step) {
    for (int cap = 0; cap <= 63; cap++) {
        if (keep & (1ULL << cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) FAIL("PR_CAPBSET_DROP");
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) FAIL("PR_CAP_AMBIENT_CLEAR_ALL");
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) != 0) FAIL("capget");
    for (int i = 0; i < 2; i++) {
        uint32_t mask = (uint32_t)(keep >> (32 * i));
        data[i].effective &= mask;
        data[i].permitted &= mask;
        data[i].inheritable = 0;
    }
    if (syscall(SYS_capset, &header, data) != 0) FAIL("capset");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) FAIL("PR_SET_NO_NEW_PRIVS");
    return 0;
}

// Capabilities belong to each thread (struct cred), not to the process: a server whose threads
// already run (its hub, its timers) has each of them drop its own, from a signal handler, the way
// glibc's setuid reaches every thread. The handler records the thread and the outcome.
enum { max_threads = 4096 };
static uint64_t broadcast_keep;
static _Atomic int broadcast_failed;
static _Atomic int broadcast_count;
static pid_t broadcast_done[max_threads];

static void drop_in_thread(int sig) {
    (void)sig;
    int saved = errno;
    if (drop_own(broadcast_keep, NULL) != 0) atomic_fetch_add(&broadcast_failed, 1);
    int slot = atomic_fetch_add(&broadcast_count, 1);
    if (slot < max_threads) broadcast_done[slot] = (pid_t)syscall(SYS_gettid);
    errno = saved;
}

static int was_done(pid_t tid) {
    int n = atomic_load(&broadcast_count);
    for (int i = 0; i < n && i < max_threads; i++) if (broadcast_done[i] == tid) return 1;
    return 0;
}

/// Signals every thread not yet done once; returns how many were signalled (-1 on error).
static int signal_others(int sig, pid_t self) {
    DIR *dir = opendir("/proc/self/task");
    if (!dir) return -1;
    int sent = 0;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        pid_t tid = (pid_t)atoi(entry->d_name);
        if (tid <= 0 || tid == self || was_done(tid)) continue;
        if (syscall(SYS_tgkill, getpid(), tid, sig) == 0) sent++;
        else if (errno != ESRCH) { closedir(dir); return -1; }
    }
    closedir(dir);
    return sent;
}

int avp_sandbox_drop_capabilities(uint64_t keep, const char **step) {
    if (drop_own(keep, step) != 0) return -1;
    int sig = AVP_SANDBOX_BROADCAST_SIGNAL;
    broadcast_keep = keep;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = drop_in_thread;
    action.sa_flags = SA_RESTART;
    sigfillset(&action.sa_mask);
    if (sigaction(sig, &action, NULL) != 0) FAIL("sigaction");
    pid_t self = (pid_t)syscall(SYS_gettid);
    // Until a pass finds no thread left to signal: one started meanwhile inherits its creator's set,
    // which may still be the full one. Each pass waits (at most 2 s) for the handlers it started.
    for (int pass = 0; pass < 16; pass++) {
        int before = atomic_load(&broadcast_count);
        int sent = signal_others(sig, self);
        if (sent < 0) FAIL("signal the other threads");
        if (sent == 0) break;
        struct timespec tick = {0, 1000000};
        for (int waited = 0; atomic_load(&broadcast_count) - before < sent && waited < 2000; waited++) nanosleep(&tick, NULL);
        if (atomic_load(&broadcast_count) - before < sent) { errno = ETIMEDOUT; FAIL("a thread did not drop its capabilities (signal blocked?)"); }
    }
    // The handler stays: a signal still on its way must not meet the default action (terminate).
    if (atomic_load(&broadcast_failed) != 0) { errno = EPERM; FAIL("a thread could not drop its capabilities"); }
    return 0;
}

/// Sets `resource` to `value` (soft and hard); where the hard limit is lower and may not be raised,
/// to that hard limit: the sandbox never loosens a limit it was given.
static int set_limit(int resource, uint64_t value) {
    struct rlimit limit = {value, value};
    if (setrlimit(resource, &limit) == 0) return 0;
    struct rlimit current;
    if (errno != EPERM || getrlimit(resource, &current) != 0 || current.rlim_max >= value) return -1;
    limit.rlim_cur = limit.rlim_max = current.rlim_max;
    return setrlimit(resource, &limit);
}

int avp_sandbox_limit(uint64_t open_files, uint64_t address_space, const char **step) {
    if (open_files && set_limit(RLIMIT_NOFILE, open_files) != 0) FAIL("setrlimit(RLIMIT_NOFILE)");
    if (address_space && set_limit(RLIMIT_AS, address_space) != 0) FAIL("setrlimit(RLIMIT_AS)");
    return 0;
}
