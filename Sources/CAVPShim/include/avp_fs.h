// GNU file-system calls and constants Swift's Glibc module hides (it is imported without
// _GNU_SOURCE): what the virtio-fs passthrough store needs. Defined in fs.c.
#ifndef AVP_FS_H
#define AVP_FS_H

#include <stdint.h>
#include <sys/types.h>

extern const int AVP_O_PATH, AVP_O_NOATIME, AVP_O_DIRECT, AVP_O_LARGEFILE, AVP_AT_EMPTY_PATH, AVP_SEEK_DATA, AVP_SEEK_HOLE;
extern const long AVP_UTIME_OMIT, AVP_UTIME_NOW;

ssize_t avp_fgetxattr(int fd, const char *name, void *value, size_t size);
ssize_t avp_flistxattr(int fd, char *list, size_t size);
int avp_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
int avp_fremovexattr(int fd, const char *name);
ssize_t avp_copy_file_range(int in, int64_t *in_offset, int out, int64_t *out_offset, size_t length);
int avp_syncfs(int fd);
int avp_renameat2(int old_dir, const char *old_name, int new_dir, const char *new_name, unsigned flags);

/// The largest file handle the kernel makes (MAX_HANDLE_SZ).
#define AVP_FILE_HANDLE_MAX 128
/// name_to_handle_at(fd, "", AT_EMPTY_PATH): the handle of the file `fd` is open on. `bytes` has room
/// for AVP_FILE_HANDLE_MAX; on success `*length`, `*type` and `*mount_id` are set. -1 and errno otherwise.
int avp_handle_of(int fd, unsigned char *bytes, unsigned *length, int *type, int *mount_id);
/// open_by_handle_at(mount_fd, handle, flags) for a handle avp_handle_of made.
int avp_open_handle(int mount_fd, const unsigned char *bytes, unsigned length, int type, int flags);

#endif
