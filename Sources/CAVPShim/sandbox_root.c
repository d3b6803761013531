#define _GNU_SOURCE
#include "avp_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FAIL(name) do { if (step) *step = (name); return -1; } while (0)

static int make_dir(const char *path) { return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1; }

/// mkdir -p of `path` (absolute, inside the new root at /tmp).
static int make_dirs(const char *path) {
    char partial[4096];
    size_t length = strlen(path);
    if (length >= sizeof partial) { errno = ENAMETOOLONG; return -1; }
    for (size_t i = 1; i <= length; i++) {
        if (path[i] != '/' && path[i] != 0) continue;
        memcpy(partial, path, i);
        partial[i] = 0;
        if (make_dir(partial) != 0) return -1;
    }
    return 0;
}

/// The new root's tmpfs at /tmp, once nothing mounted here reaches the host's namespace.
static int begin_root(const char **step) {
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) FAIL("mount --make-rprivate /");
    if (mount("avp-sandbox", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,nr_inodes=256,mode=0755") != 0) FAIL("mount tmpfs");
    if (make_dir("/tmp/proc")) FAIL("mkdir in the new root");
    return 0;
}

/// A fresh /proc, then pivot_root into /tmp, the old root detached and the new one read-only.
static int finish_root(const char **step) {
    // Processes only (subset=pid, Linux 5.8): /proc/sys, writable by uid 0 without any capability,
    // would let the server change host-wide settings (kernel.core_pattern runs a program as host root).
    // Where subset=pid is unknown, /proc/sys is made read-only instead.
    unsigned long proc_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (mount("proc", "/tmp/proc", "proc", proc_flags, "subset=pid") != 0) {
        if (mount("proc", "/tmp/proc", "proc", proc_flags, NULL) != 0) FAIL("mount proc");
        if (mount("/tmp/proc/sys", "/tmp/proc/sys", NULL, MS_BIND | MS_REC, NULL) != 0
            || mount(NULL, "/tmp/proc/sys", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | proc_flags, NULL) != 0) FAIL("remount /proc/sys read-only");
    }
    if (chdir("/tmp") != 0) FAIL("chdir to the new root");
    if (syscall(SYS_pivot_root, ".", ".") != 0) FAIL("pivot_root");
    if (umount2(".", MNT_DETACH) != 0) FAIL("detach the old root");
    if (chdir("/") != 0) FAIL("chdir /");
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) FAIL("remount the new root read-only");
    return 0;
}

/// Bind-mounts the directory open as `fd` at `target` with `extra` flags (MS_RDONLY, MS_NOEXEC).
static int bind_at(int fd, const char *target, unsigned long extra, const char **step) {
    char source[64];
    snprintf(source, sizeof source, "/proc/self/fd/%d", fd);
    if (mount(source, target, NULL, MS_BIND | MS_REC, NULL) != 0) FAIL("bind-mount a directory");
    if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | extra, NULL) != 0) FAIL("remount a directory nosuid,nodev");
    return 0;
}

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
    if (begin_root(step) != 0) return -1;
    if (make_dir("/tmp/share") || make_dir("/tmp/sockets")) FAIL("mkdir in the new root");
    if (bind_at(share_fd, "/tmp/share", read_only ? MS_RDONLY : 0, step) != 0) return -1;
    char path[64];
    for (int i = 0; i < count; i++) {
        snprintf(path, sizeof path, "/tmp/sockets/%d", i);
        if (make_dir(path) != 0) FAIL("mkdir in the new root");
        if (bind_at(dir_fds[i], path, MS_NOEXEC, step) != 0) return -1;
    }
    if (finish_root(step) != 0) return -1;
    close(share_fd);
    for (int i = 0; i < count; i++) close(dir_fds[i]);
    return 0;
}

int avp_sandbox_pivot_mirrored(const char *const *dirs, const int *writable, int count, const char **step) {
    if (count < 0 || count > 64) { errno = EINVAL; FAIL("directories"); }
    int dir_fds[64];
    for (int i = 0; i < count; i++) {
        if (dirs[i][0] != '/' || strlen(dirs[i]) > 3000) { errno = EINVAL; FAIL("a directory (absolute paths only)"); }
        dir_fds[i] = open(dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir_fds[i] < 0) FAIL("open a directory to bind");
    }
    if (begin_root(step) != 0) return -1;
    char path[4096];
    for (int i = 0; i < count; i++) {
        snprintf(path, sizeof path, "/tmp%s", dirs[i]);
        if (make_dirs(path) != 0) FAIL("mkdir in the new root");
        if (bind_at(dir_fds[i], path, MS_NOEXEC | (writable[i] ? 0 : MS_RDONLY), step) != 0) return -1;
    }
    if (finish_root(step) != 0) return -1;
    for (int i = 0; i < count; i++) close(dir_fds[i]);
    return 0;
}
