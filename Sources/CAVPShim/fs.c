#define _GNU_SOURCE
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int avp_handle_of(int fd, unsigned char *bytes, unsigned *length, int *type, int *mount_id) {
    union { struct file_handle handle; unsigned char room[sizeof(struct file_handle) + AVP_FILE_HANDLE_MAX]; } h;
    h.handle.handle_bytes = AVP_FILE_HANDLE_MAX;
    if (name_to_handle_at(fd, "", &h.handle, mount_id, AT_EMPTY_PATH) != 0) return -1;
    memcpy(bytes, h.handle.f_handle, h.handle.handle_bytes);
    *length = h.handle.handle_bytes;
    *type = h.handle.handle_type;
    return 0;
}

int avp_open_handle(int mount_fd, const unsigned char *bytes, unsigned length, int type, int flags) {
    union { struct file_handle handle; unsigned char room[sizeof(struct file_handle) + AVP_FILE_HANDLE_MAX]; } h;
    if (length > AVP_FILE_HANDLE_MAX) { errno = EINVAL; return -1; }
    h.handle.handle_bytes = length;
    h.handle.handle_type = type;
    memcpy(h.handle.f_handle, bytes, length);
    return open_by_handle_at(mount_fd, &h.handle, flags);
}
