// io_uring through its raw system calls (Linux 5.6+): the submission and completion
// rings are mapped once; Swift prepares vectored reads/writes, fdatasync and
// fallocate, and reaps completions. Memory ordering follows the kernel's
// io_uring(7): release on the SQ tail, acquire on the CQ tail.
#define _GNU_SOURCE
#include "avp_shim.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/io_uring.h>

static int sys_setup(unsigned entries, struct io_uring_params *p) { return (int)syscall(__NR_io_uring_setup, entries, p); }
static int sys_enter(int fd, unsigned submit, unsigned wait, unsigned flags) {
    return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL, 0);
}

int avp_uring_init(struct avp_uring *r, unsigned entries) { return avp_uring_init_restricted(r, entries, NULL, 0, 0); }

static int sys_register(int fd, unsigned op, void *arg, unsigned n) { return (int)syscall(__NR_io_uring_register, fd, op, arg, n); }

/// A ring created disabled, limited to `ops`, then enabled: nothing else can be submitted on it
/// later, even by code that took over the process (io_uring operations bypass seccomp).
static int restrict_ops(int fd, const uint8_t *ops, unsigned count) {
    struct io_uring_restriction rules[64];
    if (count > 64) return -EINVAL;
    memset(rules, 0, sizeof(rules));
    for (unsigned i = 0; i < count; i++) { rules[i].opcode = IORING_RESTRICTION_SQE_OP; rules[i].sqe_op = ops[i]; }
    if (sys_register(fd, IORING_REGISTER_RESTRICTIONS, rules, count) < 0) return -errno;
    return 0;
}

static int avp_uring_enable_fd(int fd) {
    return sys_register(fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0 ? -errno : 0;
}

int avp_uring_enable(struct avp_uring *r) { return avp_uring_enable_fd(r->fd); }

int avp_uring_init_restricted(struct avp_uring *r, unsigned entries, const uint8_t *ops, unsigned op_count, int single_issuer) {
    memset(r, 0, sizeof(*r));
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    // A single issuer's ring (a server loop's, EventLoopRing) defers its completions' task work
    // to that thread's next io_uring_enter (DEFER_TASKRUN): no interrupt while it works, and a
    // direct wake-up while it waits (bench/block: as cheap per request as epoll, where
    // COOP_TASKRUN cost 0.87-0.98 of it). It is enabled by that thread (avp_uring_enable).
    if (op_count) p.flags = IORING_SETUP_R_DISABLED;
    if (op_count && single_issuer) p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int fd = sys_setup(entries, &p);
    if (fd < 0) return -errno;
    if (op_count) {
        int rc = restrict_ops(fd, ops, op_count);
        if (rc == 0 && !single_issuer) rc = avp_uring_enable_fd(fd);
        if (rc < 0) { close(fd); return rc; }
    }
    r->fd = fd;
    r->sq_ring_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_ring_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        if (r->cq_ring_size > r->sq_ring_size) r->sq_ring_size = r->cq_ring_size;
        r->cq_ring_size = r->sq_ring_size;
    }
    r->sq_ring = mmap(NULL, r->sq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (r->sq_ring == MAP_FAILED) { int e = errno; close(fd); return -e; }
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        r->cq_ring = r->sq_ring;
    } else {
        r->cq_ring = mmap(NULL, r->cq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
        if (r->cq_ring == MAP_FAILED) { int e = errno; munmap(r->sq_ring, r->sq_ring_size); close(fd); return -e; }
    }
    r->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = mmap(NULL, r->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED) {
        int e = errno;
        if (r->cq_ring != r->sq_ring) munmap(r->cq_ring, r->cq_ring_size);
        munmap(r->sq_ring, r->sq_ring_size);
        close(fd);
        return -e;
    }
    char *sq = r->sq_ring, *cq = r->cq_ring;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_flags = (unsigned *)(sq + p.sq_off.flags);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->sq_entries = p.sq_entries;
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cq_entries = p.cq_entries;
    r->cqes = cq + p.cq_off.cqes;
    return 0;
}

void avp_uring_exit(struct avp_uring *r) {
    if (r->fd <= 0) return;
    munmap(r->sqes, r->sqes_size);
    if (r->cq_ring != r->sq_ring) munmap(r->cq_ring, r->cq_ring_size);
    munmap(r->sq_ring, r->sq_ring_size);
    close(r->fd);
    r->fd = -1;
}


static struct io_uring_sqe *next_sqe(struct avp_uring *r) {
    unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
    unsigned tail = *r->sq_tail + r->pending;
    if (tail - head >= r->sq_entries) return NULL;
    unsigned index = tail & *r->sq_mask;
    struct io_uring_sqe *sqe = (struct io_uring_sqe *)r->sqes + index;
    memset(sqe, 0, sizeof(*sqe));
    r->sq_array[index] = index;
    r->pending++;
    return sqe;
}

static int prep_rw(struct avp_uring *r, int op, int fd, const struct iovec *iov, unsigned n, uint64_t off, int flags, uint64_t ud) {
    struct io_uring_sqe *sqe = next_sqe(r);
    if (!sqe) return -EBUSY;
    sqe->opcode = (uint8_t)op;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)iov;
    sqe->len = n;
    sqe->off = off;
    sqe->rw_flags = flags;
    sqe->user_data = ud;
    return 0;
}

int avp_uring_prep_readv(struct avp_uring *r, int fd, const struct iovec *iov, unsigned n, uint64_t off, int flags, uint64_t ud) {
    return prep_rw(r, IORING_OP_READV, fd, iov, n, off, flags, ud);
}

int avp_uring_prep_writev(struct avp_uring *r, int fd, const struct iovec *iov, unsigned n, uint64_t off, int flags, uint64_t ud) {
    return prep_rw(r, IORING_OP_WRITEV, fd, iov, n, off, flags, ud);
}

int avp_uring_prep_fdatasync(struct avp_uring *r, int fd, uint64_t ud) {
    struct io_uring_sqe *sqe = next_sqe(r);
    if (!sqe) return -EBUSY;
    sqe->opcode = IORING_OP_FSYNC;
    sqe->fd = fd;
    sqe->fsync_flags = IORING_FSYNC_DATASYNC;
    sqe->user_data = ud;
    return 0;
}

int avp_uring_prep_fallocate(struct avp_uring *r, int fd, int mode, uint64_t off, uint64_t len, uint64_t ud) {
    struct io_uring_sqe *sqe = next_sqe(r);
    if (!sqe) return -EBUSY;
    sqe->opcode = IORING_OP_FALLOCATE;
    sqe->fd = fd;
    sqe->off = off;
    sqe->addr = len;   // fallocate's length travels in addr
    sqe->len = (uint32_t)mode;
    sqe->user_data = ud;
    return 0;
}

int avp_uring_submit(struct avp_uring *r, unsigned wait) {
    unsigned n = r->pending;
    if (n) {
        __atomic_store_n(r->sq_tail, *r->sq_tail + n, __ATOMIC_RELEASE);
        r->pending = 0;
    }
    if (n == 0 && wait == 0) return 0;
    int ret;
    do { ret = sys_enter(r->fd, n, wait, wait ? IORING_ENTER_GETEVENTS : 0); } while (ret < 0 && errno == EINTR);
    return ret < 0 ? -errno : ret;
}

int avp_uring_next_completion(struct avp_uring *r, uint64_t *ud, int32_t *res) {
    uint32_t flags;
    return avp_uring_next_cqe(r, ud, res, &flags);
}

int avp_uring_next_cqe(struct avp_uring *r, uint64_t *ud, int32_t *res, uint32_t *flags) {
    unsigned head = *r->cq_head;
    if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) return 0;
    struct io_uring_cqe *cqe = (struct io_uring_cqe *)r->cqes + (head & *r->cq_mask);
    *ud = cqe->user_data;
    *res = cqe->res;
    *flags = cqe->flags;
    __atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
    return 1;
}

int avp_uring_ready(struct avp_uring *r) {
    return *r->cq_head != __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
}

int avp_uring_prep_poll(struct avp_uring *r, int fd, uint32_t events, int multishot, uint64_t ud) {
    struct io_uring_sqe *sqe = next_sqe(r);
    if (!sqe) return -EBUSY;
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = fd;
    sqe->poll32_events = events;
    sqe->len = multishot ? IORING_POLL_ADD_MULTI : 0;
    sqe->user_data = ud;
    return 0;
}

int avp_uring_prep_poll_remove(struct avp_uring *r, uint64_t target, uint64_t ud) {
    struct io_uring_sqe *sqe = next_sqe(r);
    if (!sqe) return -EBUSY;
    sqe->opcode = IORING_OP_POLL_REMOVE;
    sqe->fd = -1;
    sqe->addr = target;
    sqe->user_data = ud;
    return 0;
}

int avp_uring_prep_write(struct avp_uring *r, int fd, const void *buffer, unsigned length, uint64_t ud) {
    struct io_uring_sqe *sqe = next_sqe(r);
    if (!sqe) return -EBUSY;
    sqe->opcode = IORING_OP_WRITE;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)buffer;
    sqe->len = length;
    sqe->off = (uint64_t)-1;   // the file's position: an eventfd or a pipe has none
    sqe->user_data = ud;
    return 0;
}

int avp_uring_wait(struct avp_uring *r, unsigned wait, int timeout_ms) {
    if (timeout_ms < 0 || wait == 0) return avp_uring_submit(r, wait);
    unsigned n = r->pending;
    if (n) {
        __atomic_store_n(r->sq_tail, *r->sq_tail + n, __ATOMIC_RELEASE);
        r->pending = 0;
    }
    struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000, .tv_nsec = (long long)(timeout_ms % 1000) * 1000000 };
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof(arg));
    arg.ts = (uint64_t)(uintptr_t)&ts;
    int ret = (int)syscall(__NR_io_uring_enter, r->fd, n, wait, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
    if (ret < 0 && (errno == ETIME || errno == EINTR)) return 0;
    return ret < 0 ? -errno : ret;
}
