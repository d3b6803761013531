// The only C in AVP: Linux interfaces Swift cannot import or call directly
// (CMSG macros, the packed epoll_event, memory fences, syscalls without a glibc
// prototype under Swift's default feature macros). Keep it small.
#ifndef AVP_SHIM_H
#define AVP_SHIM_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

// --- Memory ordering for rings shared with the guest (VIRTIO 1.2 §2.7.13) ---
static inline void avp_fence_acquire(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
static inline void avp_fence_release(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }
static inline void avp_fence_full(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// Single-copy-atomic accesses to ring fields the other side may change concurrently.
static inline uint16_t avp_load_u16(const void *p) { return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED); }
static inline void avp_store_u16(void *p, uint16_t v) { __atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED); }
static inline uint32_t avp_load_u32(const void *p) { return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED); }
static inline void avp_store_u32(void *p, uint32_t v) { __atomic_store_n((uint32_t *)p, v, __ATOMIC_RELAXED); }

// --- Unix sockets with file descriptors (SCM_RIGHTS) ---
#define AVP_MAX_FDS 32

/// sendmsg(2) of one buffer with up to AVP_MAX_FDS descriptors; MSG_NOSIGNAL.
ssize_t avp_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);

/// recvmsg(2) of up to `len` bytes; descriptors received are stored in `fds`
/// (at most `maxfds`, extra ones closed) and their count in `*nfds`. MSG_CMSG_CLOEXEC.
/// Sets `*truncated` when the kernel reported MSG_CTRUNC (descriptors lost).
ssize_t avp_recv_with_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds, int *truncated);

// --- epoll with a 64-bit token per registration ---
int avp_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
/// Waits; fills tokens[i]/events[i]; returns the count or -1 (errno set).
int avp_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms);

// --- Syscalls without a prototype visible to Swift ---
int avp_memfd_create(const char *name, unsigned int flags);
ssize_t avp_getrandom(void *buf, size_t len, unsigned int flags);
int avp_fallocate(int fd, int mode, off_t offset, off_t len);
int avp_accept_cloexec(int sock);
int avp_set_thread_name(const char *name);

/// errno as an int (Swift's `errno` is fine too, but this keeps call sites uniform in C).
int avp_errno(void);

#endif
