// See alsa_loader.h.
#include <alsa/asoundlib.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#define AVP_ALSA_LOADER
#include "alsa_loader.h"

#define AVP_LIBASOUND_DEFINE(name) __typeof__(name) *avp_libasound_##name;
AVP_LIBASOUND_FUNCTIONS(AVP_LIBASOUND_DEFINE)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = -ENOSYS;

static void load(void) {
    void *library = dlopen("libasound.so.2", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        fprintf(stderr, "avp: cannot open libasound.so.2: %s\n", dlerror());
        return;
    }
#define AVP_LIBASOUND_RESOLVE(name) \
    if ((*(void **)&avp_libasound_##name = dlsym(library, #name)) == NULL) { \
        fprintf(stderr, "avp: libasound.so.2 has no %s\n", #name); \
        return; \
    }
    AVP_LIBASOUND_FUNCTIONS(AVP_LIBASOUND_RESOLVE)
    loaded = 0;
}

int avp_libasound_load(void) {
    pthread_once(&once, load);
    return loaded;
}
