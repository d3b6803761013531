// AVP's window on the system's libcrypto (OpenSSL 3) for the virtio-crypto server.
// Plain C on purpose: Swift sees a keyed cipher handle and a handful of calls, never
// OpenSSL's types, so the request path cannot misuse a context and the library could be
// swapped without touching Swift. AES itself comes from OpenSSL; nothing here implements it.
// Every call returns 0, or a negative errno (-EINVAL: arguments, -ENOMEM, -EIO: OpenSSL failed,
// or libcrypto.so.3 could not be opened; the first avp_cipher_open opens it).
#ifndef AVP_CRYPTO_H
#define AVP_CRYPTO_H

#include <stddef.h>
#include <sys/uio.h>

/// One keyed cipher context for one direction (a virtio-crypto session).
typedef struct avp_cipher avp_cipher;

/// The modes AVP can key. The key length picks AES-128/192/256 (XTS: twice that, two keys).
enum avp_cipher_mode { AVP_CIPHER_AES_CBC = 0, AVP_CIPHER_AES_CTR = 1, AVP_CIPHER_AES_XTS = 2 };

/// The largest request `avp_cipher_run` takes (XTS gathers a scattered request into one buffer of
/// at most this size; the stream modes need no buffer at all).
#define AVP_CIPHER_MAX_LENGTH ((size_t)1 << 24)

/// Keys a new context. `encrypt` is 1 to encrypt, 0 to decrypt. Padding is off: the caller
/// hands whole blocks to the block modes. Fails with -EINVAL for a key length the mode does not
/// have and -EIO if OpenSSL refuses the key (XTS with two equal halves, for one).
int avp_cipher_open(avp_cipher **cipher, int mode, const unsigned char *key, size_t key_length, int encrypt);

/// Keys an existing context again (after a failed run, whose state OpenSSL leaves undefined).
int avp_cipher_rekey(avp_cipher *cipher, const unsigned char *key, size_t key_length);

/// Runs the cipher from a fresh IV over `length` bytes gathered from `source` and scattered
/// into `destination`, each a list of buffers of any sizes (block boundaries may fall inside a
/// buffer or across two). Buffers beyond `length` are untouched; lists shorter than `length`
/// fail with -EINVAL before anything is written. `iv_length` must be the mode's (16 for AES).
/// CBC and XTS lengths must be whole blocks (XTS: at least one block).
int avp_cipher_run(avp_cipher *cipher, const unsigned char *iv, size_t iv_length,
                   const struct iovec *source, size_t source_count,
                   const struct iovec *destination, size_t destination_count, size_t length);

/// Frees the context; OpenSSL wipes its key schedule.
void avp_cipher_close(avp_cipher *cipher);

/// Opens libcrypto.so.3's file (in libc's directory) without mapping it, so that the first
/// avp_cipher_open can load it after the sandbox has hidden the host's files, and a server that
/// never opens a session never holds libcrypto (its relocations and cipher tables: about 3 MiB
/// resident). Returns 0, or a negative errno when the file is not there (the first
/// avp_cipher_open then looks the library up by its soname).
int avp_libcrypto_prepare(void);

/// Zeroes `length` bytes in a way the compiler cannot remove as a dead store (explicit_bzero).
void avp_crypto_cleanse(void *bytes, size_t length);

#endif
