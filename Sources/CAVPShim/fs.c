#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "avp_fs.h"

const int AVP_O_PATH = O_PATH, AVP_O_NOATIME = O_NOATIME, AVP_O_DIRECT = O_DIRECT, AVP_O_LARGEFILE = O_LARGEFILE, AVP_AT_EMPTY_PATH = AT_EMPTY_PATH;
const int AVP_SEEK_DATA = SEEK_DATA, AVP_SEEK_HOLE = SEEK_HOLE;
const long AVP_UTIME_OMIT = UTIME_OMIT, AVP_UTIME_NOW = UTIME_NOW;

ssize_t avp_fgetxattr(int fd, const char *name, void *value, size_t size) { return fgetxattr(fd, name, value, size); }
ssize_t avp_flistxattr(int fd, char *list, size_t size) { return flistxattr(fd, list, size); }
int avp_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) { return fsetxattr(fd, name, value, size, flags); }
int avp_fremovexattr(int fd, const char *name) { return fremovexattr(fd, name); }
ssize_t avp_copy_file_range(int in, int64_t *in_offset, int out, int64_t *out_offset, size_t length) {
    loff_t a = *in_offset, b = *out_offset;
    ssize_t n = copy_file_range(in, &a, out, &b, length, 0);
    *in_offset = a;
    *out_offset = b;
    return n;
}
int avp_syncfs(int fd) { return syncfs(fd); }
int avp_renameat2(int old_dir, const char *old_name, int new_dir, const char *new_name, unsigned flags) {
    return renameat2(old_dir, old_name, new_dir, new_name, flags);
}
