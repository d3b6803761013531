// Confining a device server (issue 12's sandbox for `avp serve fs`, issue 16 for every `avp serve`):
// namespaces, a root of its own, capabilities, resource limits, a seccomp allow-list. Plain C because
// each step must run in a particular process state (fork before any thread exists; pivot_root with
// the process's own mounts; capabilities set on every thread). Defined in sandbox.c (fork,
// capabilities, limits), sandbox_root.c (the new root) and sandbox_filter.c (seccomp).
#ifndef AVP_SANDBOX_H
#define AVP_SANDBOX_H

#include <stdint.h>

/// Namespaces `avp_sandbox_fork` leaves shared with the host (bits of its `keep` argument).
enum {
    /// The host's network namespace: a server whose listener was opened before the fork's
    /// namespaces exist is reachable only there (the GPU web view on 127.0.0.1).
    AVP_SANDBOX_KEEP_NET = 1,
    /// The host's IPC namespace: ALSA's dmix and dsnoop share System V memory with other players.
    AVP_SANDBOX_KEEP_IPC = 2,
};

/// Unshares a PID namespace and forks. Returns 0 in the child — PID 1 of the new namespace, also
/// in its own mount, UTS, cgroup and (unless `keep` says otherwise) network and IPC namespaces,
/// killed when the parent dies. The parent never returns: it unmaps the program's read-only segments
/// (it runs none of that code again), forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to the child and
/// exits with the child's status (128 + signal if killed). -1 with errno
/// (and *step naming the call) on failure, before anything changed. Call with one thread only.
int avp_sandbox_fork(int keep, const char **step);

/// In the new mount namespace: a read-only tmpfs root holding the shared directory at /share
/// (bind-mounted; read-only if asked, nosuid and nodev), a fresh /proc of the PID namespace,
/// and each directory of `dirs` at /sockets/<index> (where the server's vhost-user sockets are);
/// pivot_root into it, the old root detached. 0, or -1 with errno and *step.
int avp_sandbox_pivot(const char *share, int read_only, const char *const *dirs, int count, const char **step);

/// The same kind of root for servers that keep using host paths after they started: each of
/// `dirs` (absolute host directories) bind-mounted at its own path (nosuid, nodev, noexec;
/// read-only where `writable[i]` is 0), a fresh /proc, nothing else. At most 64 directories.
int avp_sandbox_pivot_mirrored(const char *const *dirs, const int *writable, int count, const char **step);

/// Keeps only the capabilities in `keep` (bit numbers as in linux/capability.h) in the effective,
/// permitted and bounding sets (inheritable and ambient empty) and sets no_new_privs, on every
/// thread of the process (capabilities are per thread: the others are signalled to do the same).
int avp_sandbox_drop_capabilities(uint64_t keep, const char **step);

/// Sets RLIMIT_NOFILE and RLIMIT_AS (soft and hard; 0 leaves one as it is).
int avp_sandbox_limit(uint64_t open_files, uint64_t address_space, const char **step);

/// Groups of system calls a server kind adds to the common base (`avp_sandbox_seccomp`).
enum {
    /// socket(AF_UNIX) and connect: reconnecting to a VMM, vsock's host sockets, touch clients.
    AVP_SECCOMP_UNIX_SOCKETS = 1,
    /// Replacing files in bound directories (write a temporary, rename): statistics, snapshots, EEPROMs.
    AVP_SECCOMP_FILE_REPLACE = 2,
    /// The file-system passthrough: every *at call, xattrs, file handles.
    AVP_SECCOMP_FILE_SYSTEM = 8,
    /// System V shared memory and semaphores (ALSA dmix/dsnoop) and real-time scheduling (audio threads).
    AVP_SECCOMP_AUDIO = 16,
};

/// Installs the seccomp allow-list of the common base plus `groups` on every thread (TSYNC). A
/// call outside it raises SIGSYS: the handler writes the call's number to stderr and exits with
/// status 159. Sockets other than AF_UNIX (and AF_UNIX without AVP_SECCOMP_UNIX_SOCKETS) and
/// execve are outside it; clone without CLONE_THREAD answers EPERM, clone3 ENOSYS.
int avp_sandbox_seccomp(unsigned groups, const char **step);

/// How many system calls the allow-list of `groups` lets through (socket and clone included
/// when they are let through with an argument check).
int avp_sandbox_seccomp_allowed(unsigned groups);

#endif
