// AVP's C for Linux interfaces Swift cannot import or call directly
// (CMSG macros, the packed epoll_event, memory fences, syscalls without a glibc
// prototype under Swift's default feature macros). Keep it small.
#ifndef AVP_SHIM_H
#define AVP_SHIM_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include "avp_fs.h"
#include "avp_sandbox.h"

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
/// The kernel's limit per message (SCM_MAX_FD): what a sender may attach, even if AVP receives fewer.
#define AVP_MAX_SEND_FDS 253

/// sendmsg(2) of one buffer with up to AVP_MAX_SEND_FDS descriptors; MSG_NOSIGNAL.
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
/// O_DIRECT (architecture-specific, hidden from Swift without _GNU_SOURCE).
int avp_o_direct(void);
/// pwritev2(2) (a GNU extension).
ssize_t avp_pwritev2(int fd, const struct iovec *iov, int count, off_t offset, int flags);
int avp_set_thread_name(const char *name);
/// pidfd_open(2) / pidfd_send_signal(2): a handle on one process that a reused pid cannot redirect.
int avp_pidfd_open(int pid);
int avp_pidfd_send_signal(int pidfd, int sig);

// --- Zero-copy sends: vmsplice(2) into a pipe, splice(2) from it into a socket ---
/// vmsplice(2) of one range into a pipe's write end, no flags beyond `flags` (never SPLICE_F_GIFT
/// from AVP: the pages stay the caller's). Bytes moved, or -1. Retried on EINTR.
ssize_t avp_vmsplice(int pipe_write, const void *buf, size_t len, unsigned int flags);
/// splice(2) of up to `len` bytes from `in` to `out`, both without offsets (pipe, socket).
/// Bytes moved, 0 at the pipe's end, or -1. Retried on EINTR.
ssize_t avp_splice(int in, int out, size_t len, unsigned int flags);
/// pipe2(2) with O_CLOEXEC: fds[0] the read end, fds[1] the write end. 0 or -1.
int avp_pipe_cloexec(int fds[2]);
/// fcntl(F_SETPIPE_SZ): the pipe's capacity becomes at least `bytes` (rounded up by the
/// kernel); the capacity now, or -1 (EPERM above /proc/sys/fs/pipe-max-size).
int avp_set_pipe_size(int fd, int bytes);
/// ioctl(SIOCOUTQ) (same number as TIOCOUTQ): bytes written to a socket and not yet consumed
/// by the peer; for AF_UNIX the memory still held by unread skbs. Count, or -1.
int avp_socket_unsent_bytes(int sock);
/// Blocks SIGPIPE on the calling thread for a write that cannot pass MSG_NOSIGNAL (splice to a
/// socket). 1 if it was unblocked before (pass it to avp_sigpipe_restore), 0 if it was already
/// blocked, -1 on failure.
int avp_sigpipe_block(void);
/// Undoes avp_sigpipe_block(): when `blocked_here` is 1, first consumes a SIGPIPE pending on the
/// thread (the failed write's own: it would otherwise be delivered, and kill the process, the
/// moment the mask is restored), then unblocks SIGPIPE. Nothing when `blocked_here` is 0.
void avp_sigpipe_restore(int blocked_here);

/// errno as an int (Swift's `errno` is fine too, but this keeps call sites uniform in C).
int avp_errno(void);


// --- io_uring without liburing: raw syscalls, mmap'ed rings (linux/io_uring.h) ---
struct iovec;
struct avp_uring {
    int fd;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *sq_flags;
    unsigned sq_entries;
    void *sqes;
    unsigned *cq_head, *cq_tail, *cq_mask;
    unsigned cq_entries;
    void *cqes;
    void *sq_ring, *cq_ring;
    size_t sq_ring_size, cq_ring_size, sqes_size;
    /// SQEs prepared but not yet submitted.
    unsigned pending;
};
/// Sets up a ring of `entries` submissions (CQ twice that). 0 or -errno.
int avp_uring_init(struct avp_uring *ring, unsigned entries);
/// The same, and only the `op_count` opcodes in `ops` (IORING_OP_*) may ever be submitted on it.
/// `single_issuer`: one thread submits and waits (SINGLE_ISSUER, DEFER_TASKRUN), and that thread
/// enables the ring (`avp_uring_enable`) before its first submission; otherwise it is enabled now.
int avp_uring_init_restricted(struct avp_uring *ring, unsigned entries, const uint8_t *ops, unsigned op_count, int single_issuer);
/// Enables a ring created for a single issuer: the calling thread becomes its only submitter.
int avp_uring_enable(struct avp_uring *ring);
void avp_uring_exit(struct avp_uring *ring);
/// Preparation functions return 0, or -EBUSY when the submission queue is full.
int avp_uring_prep_readv(struct avp_uring *ring, int fd, const struct iovec *iov, unsigned count, uint64_t offset, int rw_flags, uint64_t user_data);
int avp_uring_prep_writev(struct avp_uring *ring, int fd, const struct iovec *iov, unsigned count, uint64_t offset, int rw_flags, uint64_t user_data);
int avp_uring_prep_fdatasync(struct avp_uring *ring, int fd, uint64_t user_data);
int avp_uring_prep_fallocate(struct avp_uring *ring, int fd, int mode, uint64_t offset, uint64_t length, uint64_t user_data);
/// Submits what is prepared and waits for at least `wait` completions. Count submitted or -errno.
int avp_uring_submit(struct avp_uring *ring, unsigned wait);
/// Takes one completion if there is one: returns 1 and fills `user_data`/`result`, else 0.
int avp_uring_next_completion(struct avp_uring *ring, uint64_t *user_data, int32_t *result);
/// The same with the completion's flags (IORING_CQE_F_MORE: a multishot request stays armed).
int avp_uring_next_cqe(struct avp_uring *ring, uint64_t *user_data, int32_t *result, uint32_t *flags);
/// 1 while completions wait to be taken.
int avp_uring_ready(struct avp_uring *ring);
/// Poll `fd` for `events` (POLLIN...); `multishot`: one completion per wake-up until removed.
int avp_uring_prep_poll(struct avp_uring *ring, int fd, uint32_t events, int multishot, uint64_t user_data);
/// Removes the poll submitted with `target` as its user data.
int avp_uring_prep_poll_remove(struct avp_uring *ring, uint64_t target, uint64_t user_data);
/// write(2) of `length` bytes at `buffer` (which must stay valid until it completes).
int avp_uring_prep_write(struct avp_uring *ring, int fd, const void *buffer, unsigned length, uint64_t user_data);
/// Submits what is prepared and waits for `wait` completions, at most `timeout_ms` (-1: no limit).
/// Count submitted, or -errno; a timeout is not an error.
int avp_uring_wait(struct avp_uring *ring, unsigned wait, int timeout_ms);

// --- Guest memory fault guard (guard.c) ---
/// Registers a guest RAM mapping: a SIGBUS inside it (the front end shrank the file
/// behind it) replaces the mapping with zero pages and marks the slot faulted instead
/// of killing the process. Returns the slot, or -1 (errno set) when the table is full.
int avp_guard_register(void *start, size_t length);
/// Forgets a slot; call before munmap.
void avp_guard_unregister(int slot);
/// 1 once a fault in the slot's mapping was absorbed.
int avp_guard_faulted(int slot);
/// Absorbed faults in this process so far: a cheap check of whether anything happened.
uint64_t avp_guard_generation(void);
/// Adds F_SEAL_SHRINK to a sealable file (memfd) unless it has it; 1 if the file can
/// no longer shrink, 0 if it can (not sealable, or sealing is itself sealed).
int avp_seal_against_shrinking(int fd);

// --- GPIO character device, v2 uAPI (gpio.c) ---
/// GPIO_GET_CHIPINFO_IOCTL: the chip's name and label (32 bytes each, NUL-terminated) and line count. 0 or -errno.
int avp_gpio_chip_info(int chip_fd, char *name, char *label, uint32_t *lines);
/// GPIO_V2_GET_LINEINFO_IOCTL: line `offset`'s name (32 bytes, NUL-terminated) and GPIO_V2_LINE_FLAG_* flags. 0 or -errno.
int avp_gpio_line_info(int chip_fd, uint32_t offset, char *name, uint64_t *flags);
/// GPIO_V2_GET_LINE_IOCTL for one line with `flags` (and its output value when the flags ask for output),
/// event buffer `event_buffer` (0: the kernel's default). The line request's descriptor, or -errno.
int avp_gpio_request_line(int chip_fd, uint32_t offset, uint64_t flags, int value, const char *consumer, uint32_t event_buffer);
/// GPIO_V2_LINE_SET_CONFIG_IOCTL on a one-line request: new flags and, for output, the value. 0 or -errno.
int avp_gpio_line_set_config(int line_fd, uint64_t flags, int value);
/// GPIO_V2_LINE_GET_VALUES_IOCTL on a one-line request: 0 or 1, or -errno.
int avp_gpio_line_get_value(int line_fd);
/// GPIO_V2_LINE_SET_VALUES_IOCTL on a one-line request. 0 or -errno.
int avp_gpio_line_set_value(int line_fd, int value);
/// sizeof(struct gpio_v2_line_event): what one read of a line request's descriptor returns per event.
int avp_gpio_line_event_size(void);

#endif
