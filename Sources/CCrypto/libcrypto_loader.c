// See libcrypto_loader.h.
#include <openssl/evp.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#define AVP_LIBCRYPTO_LOADER
#include "libcrypto_loader.h"

#define AVP_LIBCRYPTO_DEFINE(name) __typeof__(name) *avp_libcrypto_##name;
AVP_LIBCRYPTO_FUNCTIONS(AVP_LIBCRYPTO_DEFINE)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = -ENOSYS;

static void load(void) {
    // OpenSSL 3's soname: the headers this file was compiled against are OpenSSL 3's.
    void *library = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
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
