#define _GNU_SOURCE
#include "avp_shim.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <pthread.h>
#include <sys/uio.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <signal.h>
#include <time.h>

ssize_t avp_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds) {
    if (nfds < 0 || nfds > AVP_MAX_SEND_FDS) { errno = EINVAL; return -1; }
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    union { char buf[CMSG_SPACE(sizeof(int) * AVP_MAX_SEND_FDS)]; struct cmsghdr align; } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t r;
    do { r = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (r < 0 && errno == EINTR);
    return r;
}

ssize_t avp_recv_with_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds, int *truncated) {
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    union { char buf[CMSG_SPACE(sizeof(int) * AVP_MAX_FDS)]; struct cmsghdr align; } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    *nfds = 0;
    *truncated = 0;
    ssize_t r;
    do { r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (r < 0 && errno == EINTR);
    if (r < 0) return r;
    if (msg.msg_flags & MSG_CTRUNC) *truncated = 1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *received = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, &received[i], sizeof(int));
            if (*nfds < maxfds) fds[(*nfds)++] = fd;
            else { close(fd); *truncated = 1; }
        }
    }
    return r;
}

int avp_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, op, fd, &ev);
}

int avp_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event evs[64];
    if (max > 64) max = 64;
    int n;
    do { n = epoll_wait(epfd, evs, max, timeout_ms); } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) { tokens[i] = evs[i].data.u64; events[i] = evs[i].events; }
    return n;
}

int avp_memfd_create(const char *name, unsigned int flags) { return memfd_create(name, flags); }
ssize_t avp_getrandom(void *buf, size_t len, unsigned int flags) {
    ssize_t r;
    do { r = getrandom(buf, len, flags); } while (r < 0 && errno == EINTR);
    return r;
}
int avp_fallocate(int fd, int mode, off_t offset, off_t len) { return fallocate(fd, mode, offset, len); }
int avp_errno(void) { return errno; }
int avp_accept_cloexec(int sock) { return accept4(sock, NULL, NULL, SOCK_CLOEXEC); }
int avp_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }
int avp_o_direct(void) { return O_DIRECT; }
ssize_t avp_pwritev2(int fd, const struct iovec *iov, int count, off_t offset, int flags) { return pwritev2(fd, iov, count, offset, flags); }

#include <sys/syscall.h>
int avp_pidfd_open(int pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int avp_pidfd_send_signal(int pidfd, int sig) { return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0); }

ssize_t avp_vmsplice(int pipe_write, const void *buf, size_t len, unsigned int flags) {
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    ssize_t r;
    do { r = vmsplice(pipe_write, &iov, 1, flags); } while (r < 0 && errno == EINTR);
    return r;
}
ssize_t avp_splice(int in, int out, size_t len, unsigned int flags) {
    ssize_t r;
    do { r = splice(in, NULL, out, NULL, len, flags); } while (r < 0 && errno == EINTR);
    return r;
}
int avp_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int avp_set_pipe_size(int fd, int bytes) { return fcntl(fd, F_SETPIPE_SZ, bytes); }
int avp_socket_unsent_bytes(int sock) {
    int n = 0;
    if (ioctl(sock, SIOCOUTQ, &n) < 0) return -1;
    return n;
}
int avp_sigpipe_block(void) {
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &set, &old) != 0) return -1;
    return sigismember(&old, SIGPIPE) ? 0 : 1;
}
void avp_sigpipe_restore(int blocked_here) {
    if (blocked_here != 1) return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    struct timespec zero = { 0, 0 };
    // Returns SIGPIPE while one is pending, then -1 (EAGAIN).
    for (;;) {
        int r = sigtimedwait(&set, NULL, &zero);
        if (r == SIGPIPE || (r < 0 && errno == EINTR)) continue;
        break;
    }
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
