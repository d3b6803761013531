// See libcrypto_loader.h.
#define _GNU_SOURCE  // dladdr
#include <openssl/evp.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define AVP_LIBCRYPTO_LOADER
#include "libcrypto_loader.h"
#include "avp_crypto.h"

#define AVP_LIBCRYPTO_DEFINE(name) __typeof__(name) *avp_libcrypto_##name;
AVP_LIBCRYPTO_FUNCTIONS(AVP_LIBCRYPTO_DEFINE)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = -ENOSYS;
/// libcrypto's file, opened by avp_libcrypto_prepare and not yet mapped; -1 when not prepared.
static int prepared_fd = -1;

int avp_libcrypto_prepare(void) {
    if (prepared_fd >= 0) return 0;
    // The directory libc was loaded from: where the distribution puts libcrypto.so.3 too.
    Dl_info info;
    if (dladdr((void *)&strlen, &info) == 0 || info.dli_fname == NULL) return -ENOENT;
    const char *slash = strrchr(info.dli_fname, '/');
    if (slash == NULL) return -ENOENT;
    char path[4096];
    int length = snprintf(path, sizeof path, "%.*s/libcrypto.so.3", (int)(slash - info.dli_fname), info.dli_fname);
    if (length < 0 || (size_t)length >= sizeof path) return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    prepared_fd = fd;
    return 0;
}

static void load(void) {
    // OpenSSL 3's soname: the headers this file was compiled against are OpenSSL 3's. A prepared
    // file is mapped through its descriptor, which outlives the sandbox's change of root.
    char path[64] = "libcrypto.so.3";
    if (prepared_fd >= 0) snprintf(path, sizeof path, "/proc/self/fd/%d", prepared_fd);
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (prepared_fd >= 0) {
        close(prepared_fd);  // dlopen opened the file again and keeps its mapping
        prepared_fd = -1;
    }
    if (library == NULL) {
        fprintf(stderr, "avp: cannot open libcrypto.so.3: %s\n", dlerror());
        return;
    }
#define AVP_LIBCRYPTO_RESOLVE(name) \
    if ((*(void **)&avp_libcrypto_##name = dlsym(library, #name)) == NULL) { \
        fprintf(stderr, "avp: libcrypto.so.3 has no %s\n", #name); \
        return; \
    }
    AVP_LIBCRYPTO_FUNCTIONS(AVP_LIBCRYPTO_RESOLVE)
    loaded = 0;
}

int avp_libcrypto_load(void) {
    pthread_once(&once, load);
    return loaded;
}
