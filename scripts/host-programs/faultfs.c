// faultfs: a FUSE file system holding one file, disk.img, backed by a host file, that misbehaves on
// purpose so tests can watch a device server meet storage faults (issue 16): slow fsyncs (a flush stays
// in flight long enough for a test to kill the server under it), EIO in a byte range, ENOSPC past a size.
//
//   faultfs BACKING MOUNTPOINT [--fsync-delay-ms N] [--read-delay-ms N] [--write-delay-ms N] [--eio OFFSET:LENGTH]... [--enospc-after BYTES]
//
// --read-delay-ms N and --write-delay-ms N delay each read or write by a random 0..N ms. FUSE serializes the writes
// (and fsyncs) of one file under its inode lock, but reads run beside them: with slow reads, requests finish in
// another order than they were issued.
//
// Runs in the foreground, multi-threaded (a slow fsync does not hold up writes); unmount with
// `fusermount3 -u MOUNTPOINT` or by killing it. Built by the tests (Tests/GuestTests/HostProgram.swift)
// with `cc faultfs.c $(pkg-config --cflags --libs fuse3)`; scripts/host-setup installs libfuse3-dev.
#define _GNU_SOURCE
#define FUSE_USE_VERSION 31
#include <fuse.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_RANGES 16
static const char *file_name = "/disk.img";
static int backing = -1;
static long fsync_delay_ms, read_delay_ms, write_delay_ms;
static long long enospc_after = -1;
static struct { long long offset, length; } eio[MAX_RANGES];
static int eio_count;

static void sleep_ms(long ms) {
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    while (ms > 0 && nanosleep(&t, &t) != 0 && errno == EINTR) {}
}

/// Whether [offset, offset + size) touches a failing range.
static int fails(off_t offset, size_t size) {
    for (int i = 0; i < eio_count; i++) {
        if (offset < eio[i].offset + eio[i].length && (long long)(offset + size) > eio[i].offset) return 1;
    }
    return 0;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
    (void)fi;
    memset(st, 0, sizeof *st);
    if (strcmp(path, "/") == 0) { st->st_mode = S_IFDIR | 0755; st->st_nlink = 2; return 0; }
    if (strcmp(path, file_name) != 0) return -ENOENT;
    struct stat b;
    if (fstat(backing, &b) != 0) return -errno;
    st->st_mode = S_IFREG | 0644; st->st_nlink = 1; st->st_size = b.st_size;
    st->st_blocks = b.st_blocks; st->st_blksize = 4096;
    return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t offset, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
    (void)offset; (void)fi; (void)flags;
    if (strcmp(path, "/") != 0) return -ENOENT;
    fill(buf, ".", NULL, 0, 0); fill(buf, "..", NULL, 0, 0); fill(buf, file_name + 1, NULL, 0, 0);
    return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi) {
    if (strcmp(path, file_name) != 0) return -ENOENT;
    fi->direct_io = 1;   // every read and write reaches this process (no page cache hiding a fault)
    return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t offset, struct fuse_file_info *fi) {
    (void)path; (void)fi;
    if (read_delay_ms > 0) sleep_ms(random() % (read_delay_ms + 1));
    if (fails(offset, size)) return -EIO;
    ssize_t n = pread(backing, buf, size, offset);
    return n < 0 ? -errno : (int)n;
}

static int fs_write(const char *path, const char *buf, size_t size, off_t offset, struct fuse_file_info *fi) {
    (void)path; (void)fi;
    if (write_delay_ms > 0) sleep_ms(random() % (write_delay_ms + 1));
    if (fails(offset, size)) return -EIO;
    if (enospc_after >= 0 && (long long)(offset + size) > enospc_after) return -ENOSPC;
    ssize_t n = pwrite(backing, buf, size, offset);
    return n < 0 ? -errno : (int)n;
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
    (void)path; (void)fi;
    if (fsync_delay_ms > 0) sleep_ms(fsync_delay_ms);
    return (datasync ? fdatasync(backing) : fsync(backing)) != 0 ? -errno : 0;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
    (void)path; (void)fi;
    return ftruncate(backing, size) != 0 ? -errno : 0;
}

static int fs_fallocate(const char *path, int mode, off_t offset, off_t length, struct fuse_file_info *fi) {
    (void)path; (void)fi;
    return fallocate(backing, mode, offset, length) != 0 ? -errno : 0;
}

static const struct fuse_operations operations = {
    .getattr = fs_getattr, .readdir = fs_readdir, .open = fs_open, .read = fs_read, .write = fs_write,
    .fsync = fs_fsync, .truncate = fs_truncate, .fallocate = fs_fallocate,
};

static void usage(void) {
    fprintf(stderr, "usage: faultfs BACKING MOUNTPOINT [--fsync-delay-ms N] [--read-delay-ms N] [--write-delay-ms N] "
                    "[--eio OFFSET:LENGTH]... [--enospc-after BYTES]\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 3) usage();
    backing = open(argv[1], O_RDWR);
    if (backing < 0) { perror(argv[1]); return 1; }
    for (int i = 3; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *value = argv[++i];
        if (strcmp(argv[i - 1], "--fsync-delay-ms") == 0) fsync_delay_ms = atol(value);
        else if (strcmp(argv[i - 1], "--read-delay-ms") == 0) read_delay_ms = atol(value);
        else if (strcmp(argv[i - 1], "--write-delay-ms") == 0) write_delay_ms = atol(value);
        else if (strcmp(argv[i - 1], "--enospc-after") == 0) enospc_after = atoll(value);
        else if (strcmp(argv[i - 1], "--eio") == 0 && eio_count < MAX_RANGES
                 && sscanf(value, "%lld:%lld", &eio[eio_count].offset, &eio[eio_count].length) == 2) eio_count++;
        else usage();
    }
    // Foreground; allow_other so a server running as another user (or sandboxed) may open the file.
    char *fuse_argv[] = { argv[0], argv[2], "-f", "-o", "allow_other,default_permissions,fsname=faultfs", NULL };
    return fuse_main(5, fuse_argv, &operations, NULL);
}
