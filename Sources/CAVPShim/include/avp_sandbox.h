// Confining a device server (issue 12's sandbox, for `avp serve fs`): namespaces, a root of its
// own, capabilities, a seccomp allow-list. Plain C because each step must run in a particular
// process state (fork before any thread exists; pivot_root with the process's own mounts).
// Defined in sandbox.c and sandbox_filter.c.
#ifndef AVP_SANDBOX_H
#define AVP_SANDBOX_H

#include <stdint.h>

/// Unshares a PID namespace and forks. Returns 0 in the child — PID 1 of the new namespace, also
/// in its own mount, network and IPC namespaces, killed when the parent dies. The parent never
/// returns: it forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to the child and exits with the
/// child's status (128 + signal if killed). -1 with errno (and *step naming the call) on failure,
/// before anything changed. Call with one thread only.
int avp_sandbox_fork(const char **step);

/// In the new mount namespace: a read-only tmpfs root holding the shared directory at /share
/// (bind-mounted; read-only if asked, nosuid and nodev), a fresh /proc of the PID namespace,
/// and each directory of `dirs` at /sockets/<index> (where the server's vhost-user sockets are);
/// pivot_root into it, the old root detached. 0, or -1 with errno and *step.
int avp_sandbox_pivot(const char *share, int read_only, const char *const *dirs, int count, const char **step);

/// Keeps only the capabilities in `keep` (bit numbers as in linux/capability.h) in the effective,
/// permitted and bounding sets (inheritable and ambient empty) and sets no_new_privs.
int avp_sandbox_drop_capabilities(uint64_t keep, const char **step);

/// Installs the file-system server's seccomp allow-list on every thread (TSYNC). A call outside
/// it raises SIGSYS: the handler writes the call's number to stderr and exits with status 159.
int avp_sandbox_seccomp_fs(const char **step);

#endif
