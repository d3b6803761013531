// libcrypto is opened on first use (avp_cipher_open), not linked: every device server is one
// executable (avp-serve), and only the crypto server needs OpenSSL. A linked libcrypto costs
// each idle server about 0.5 MiB of relocated, resident pages (issue 17). The calls below go
// through pointers that libcrypto_loader.c resolves with dlsym; include after OpenSSL's headers.
#ifndef AVP_LIBCRYPTO_LOADER_H
#define AVP_LIBCRYPTO_LOADER_H

#include <openssl/evp.h>

#define AVP_LIBCRYPTO_FUNCTIONS(X) \
    X(EVP_CIPHER_CTX_new) X(EVP_CIPHER_CTX_free) X(EVP_CIPHER_CTX_reset) X(EVP_CIPHER_CTX_set_padding) \
    X(EVP_CIPHER_CTX_get_key_length) X(EVP_CIPHER_CTX_get_iv_length) X(EVP_CIPHER_fetch) X(EVP_CIPHER_free) \
    X(EVP_CipherInit_ex2) X(EVP_CipherUpdate)

#define AVP_LIBCRYPTO_POINTER(name) extern __typeof__(name) *avp_libcrypto_##name;
AVP_LIBCRYPTO_FUNCTIONS(AVP_LIBCRYPTO_POINTER)

/// 0 once libcrypto is open and every function resolved, -ENOSYS otherwise. The first call opens
/// it: through the descriptor avp_libcrypto_prepare kept, or by its soname, which only works
/// before the sandbox hides the library.
int avp_libcrypto_load(void);

#ifndef AVP_LIBCRYPTO_LOADER  // the loader itself names the real functions
#define EVP_CIPHER_CTX_new (*avp_libcrypto_EVP_CIPHER_CTX_new)
#define EVP_CIPHER_CTX_free (*avp_libcrypto_EVP_CIPHER_CTX_free)
#define EVP_CIPHER_CTX_reset (*avp_libcrypto_EVP_CIPHER_CTX_reset)
#define EVP_CIPHER_CTX_set_padding (*avp_libcrypto_EVP_CIPHER_CTX_set_padding)
#define EVP_CIPHER_CTX_get_key_length (*avp_libcrypto_EVP_CIPHER_CTX_get_key_length)
#define EVP_CIPHER_CTX_get_iv_length (*avp_libcrypto_EVP_CIPHER_CTX_get_iv_length)
#define EVP_CIPHER_fetch (*avp_libcrypto_EVP_CIPHER_fetch)
#define EVP_CIPHER_free (*avp_libcrypto_EVP_CIPHER_free)
#define EVP_CipherInit_ex2 (*avp_libcrypto_EVP_CipherInit_ex2)
#define EVP_CipherUpdate (*avp_libcrypto_EVP_CipherUpdate)
#endif

#endif
