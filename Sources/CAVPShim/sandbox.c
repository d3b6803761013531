#define _GNU_SOURCE
#include "avp_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#define FAIL(name) do { if (step) *step = (name); return -1; } while (0)

int avp_sandbox_fork(const char **step) {
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
        sigprocmask(SIG_SETMASK, &previous, NULL);
        if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP) != 0)
            FAIL("unshare(CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWCGROUP)");
        return 0;
    }
    // The parent: a waiter that passes termination signals on and reports how the child ended.
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

static int make_dir(const char *path) { return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1; }

int avp_sandbox_pivot(const char *share, int read_only, const char *const *dirs, int count, const char **step) {
    if (count < 0 || count > 64) { errno = EINVAL; FAIL("socket directories"); }
    // Descriptors first: the mounts below may hide the paths (a share under /tmp, say).
    int share_fd = open(share, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (share_fd < 0) FAIL("open the shared directory");
    int dir_fds[64];
    for (int i = 0; i < count; i++) {
        dir_fds[i] = open(dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir_fds[i] < 0) FAIL("open a socket directory");
    }
    // Nothing mounted here reaches the host's namespace, and nothing mounted there reaches here.
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) FAIL("mount --make-rprivate /");
    const char *root = "/tmp";
    if (mount("avp-sandbox", root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,nr_inodes=256,mode=0755") != 0) FAIL("mount tmpfs");
    char path[128], source[64];
    if (make_dir("/tmp/share") || make_dir("/tmp/proc") || make_dir("/tmp/sockets")) FAIL("mkdir in the new root");
    snprintf(source, sizeof source, "/proc/self/fd/%d", share_fd);
    if (mount(source, "/tmp/share", NULL, MS_BIND | MS_REC, NULL) != 0) FAIL("bind-mount the shared directory");
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (read_only ? MS_RDONLY : 0);
    if (mount(NULL, "/tmp/share", NULL, flags, NULL) != 0) FAIL("remount the shared directory nosuid,nodev");
    for (int i = 0; i < count; i++) {
        snprintf(path, sizeof path, "/tmp/sockets/%d", i);
        snprintf(source, sizeof source, "/proc/self/fd/%d", dir_fds[i]);
        if (make_dir(path) || mount(source, path, NULL, MS_BIND, NULL) != 0) FAIL("bind-mount a socket directory");
        if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) FAIL("remount a socket directory");
    }
    // Processes only (subset=pid, Linux 5.8): /proc/sys, writable by uid 0 without any capability,
    // would let the server change host-wide settings (kernel.core_pattern runs a program as host root).
    // Where subset=pid is unknown, /proc/sys is made read-only instead.
    unsigned long proc_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (mount("proc", "/tmp/proc", "proc", proc_flags, "subset=pid") != 0) {
        if (mount("proc", "/tmp/proc", "proc", proc_flags, NULL) != 0) FAIL("mount proc");
        if (mount("/tmp/proc/sys", "/tmp/proc/sys", NULL, MS_BIND | MS_REC, NULL) != 0
            || mount(NULL, "/tmp/proc/sys", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | proc_flags, NULL) != 0) FAIL("remount /proc/sys read-only");
    }
    if (chdir(root) != 0) FAIL("chdir to the new root");
    if (syscall(SYS_pivot_root, ".", ".") != 0) FAIL("pivot_root");
    if (umount2(".", MNT_DETACH) != 0) FAIL("detach the old root");
    if (chdir("/") != 0) FAIL("chdir /");
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) FAIL("remount the new root read-only");
    close(share_fd);
    for (int i = 0; i < count; i++) close(dir_fds[i]);
    return 0;
}

int avp_sandbox_drop_capabilities(uint64_t keep, const char **step) {
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
