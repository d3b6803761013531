// See avp_crypto.h. The scatter-gather walk is AVP's own: whole runs of blocks go to
// OpenSSL straight from guest buffer to guest buffer; only a block split across two
// buffers passes through a 16-byte stack copy, wiped afterwards.
#include "avp_crypto.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "libcrypto_loader.h"

struct avp_cipher {
    EVP_CIPHER_CTX *context;
    int mode;
    int encrypt;
};

enum { BLOCK = 16 };

/// OpenSSL's name for a mode and key length, or NULL if it has none.
static const char *cipher_name(int mode, size_t key_length) {
    switch (mode) {
    case AVP_CIPHER_AES_CBC:
        return key_length == 16 ? "AES-128-CBC" : key_length == 24 ? "AES-192-CBC" : key_length == 32 ? "AES-256-CBC" : NULL;
    case AVP_CIPHER_AES_CTR:
        return key_length == 16 ? "AES-128-CTR" : key_length == 24 ? "AES-192-CTR" : key_length == 32 ? "AES-256-CTR" : NULL;
    case AVP_CIPHER_AES_XTS:
        return key_length == 32 ? "AES-128-XTS" : key_length == 64 ? "AES-256-XTS" : NULL;
    default:
        return NULL;
    }
}

static int key_context(avp_cipher *cipher, const unsigned char *key, size_t key_length) {
    const char *name = cipher_name(cipher->mode, key_length);
    if (name == NULL || key == NULL) return -EINVAL;
    EVP_CIPHER *algorithm = EVP_CIPHER_fetch(NULL, name, NULL);
    if (algorithm == NULL) return -EIO;
    int ok = EVP_CipherInit_ex2(cipher->context, algorithm, key, NULL, cipher->encrypt, NULL) == 1
          && EVP_CIPHER_CTX_get_key_length(cipher->context) == (int)key_length
          && EVP_CIPHER_CTX_set_padding(cipher->context, 0) == 1;
    EVP_CIPHER_free(algorithm);  // the context holds its own reference
    return ok ? 0 : -EIO;
}

int avp_cipher_open(avp_cipher **out, int mode, const unsigned char *key, size_t key_length, int encrypt) {
    if (out == NULL || cipher_name(mode, key_length) == NULL || (encrypt != 0 && encrypt != 1)) return -EINVAL;
    if (avp_libcrypto_load() != 0) return -EIO;
    avp_cipher *cipher = calloc(1, sizeof *cipher);
    if (cipher == NULL) return -ENOMEM;
    cipher->context = EVP_CIPHER_CTX_new();
    cipher->mode = mode;
    cipher->encrypt = encrypt;
    if (cipher->context == NULL) {
        free(cipher);
        return -ENOMEM;
    }
    int result = key_context(cipher, key, key_length);
    if (result != 0) {
        avp_cipher_close(cipher);
        return result;
    }
    *out = cipher;
    return 0;
}

int avp_cipher_rekey(avp_cipher *cipher, const unsigned char *key, size_t key_length) {
    if (cipher == NULL) return -EINVAL;
    EVP_CIPHER_CTX_reset(cipher->context);
    return key_context(cipher, key, key_length);
}

void avp_cipher_close(avp_cipher *cipher) {
    if (cipher == NULL) return;
    EVP_CIPHER_CTX_free(cipher->context);
    avp_crypto_cleanse(cipher, sizeof *cipher);
    free(cipher);
}

void avp_crypto_cleanse(void *bytes, size_t length) {
    if (bytes != NULL && length > 0) explicit_bzero(bytes, length);
}

/// A position in a list of buffers.
struct cursor {
    const struct iovec *buffers;
    size_t count;
    size_t index;
    size_t offset;
};

/// Bytes left in the current buffer, skipping empty ones; 0 at the end of the list.
static size_t available(struct cursor *c) {
    while (c->index < c->count && c->offset == c->buffers[c->index].iov_len) {
        c->index++;
        c->offset = 0;
    }
    return c->index < c->count ? c->buffers[c->index].iov_len - c->offset : 0;
}

static unsigned char *position(const struct cursor *c) {
    return (unsigned char *)c->buffers[c->index].iov_base + c->offset;
}

/// Copies `length` bytes out of (`into` != NULL) or into (`from` != NULL) the buffers, advancing.
static void transfer(struct cursor *c, unsigned char *into, const unsigned char *from, size_t length) {
    size_t done = 0;
    while (done < length) {
        size_t take = available(c);
        if (take > length - done) take = length - done;
        if (into) memcpy(into + done, position(c), take);
        else memcpy(position(c), from + done, take);
        c->offset += take;
        done += take;
    }
}

static int total_at_least(const struct iovec *buffers, size_t count, size_t length) {
    if (count > 0 && buffers == NULL) return 0;
    size_t total = 0;
    for (size_t i = 0; i < count && total < length; i++) {
        if (buffers[i].iov_len > 0 && buffers[i].iov_base == NULL) return 0;
        total += buffers[i].iov_len < length ? buffers[i].iov_len : length;
    }
    return total >= length;
}

static int update(EVP_CIPHER_CTX *context, unsigned char *out, const unsigned char *in, size_t length) {
    int written = 0;
    return EVP_CipherUpdate(context, out, &written, in, (int)length) == 1 && (size_t)written == length;
}

/// CBC and CTR: runs of whole blocks in place of the guest's buffers, split blocks through a copy.
static int run_streaming(avp_cipher *cipher, struct cursor *source, struct cursor *destination, size_t length) {
    size_t granule = cipher->mode == AVP_CIPHER_AES_CTR ? 1 : BLOCK;
    unsigned char in[BLOCK], out[2 * BLOCK];
    int ok = 1;
    while (ok && length > 0) {
        size_t run = available(source);
        size_t room = available(destination);
        if (room < run) run = room;
        if (length < run) run = length;
        if (run > (size_t)INT_MAX - BLOCK) run = (size_t)INT_MAX - BLOCK;
        run -= run % granule;
        if (run > 0) {
            ok = update(cipher->context, position(destination), position(source), run);
            source->offset += run;
            destination->offset += run;
            length -= run;
        } else {
            size_t piece = length < BLOCK ? length : BLOCK;
            transfer(source, in, NULL, piece);
            ok = update(cipher->context, out, in, piece);
            if (ok) transfer(destination, NULL, out, piece);
            length -= piece;
        }
    }
    avp_crypto_cleanse(in, sizeof in);
    avp_crypto_cleanse(out, sizeof out);
    return ok;
}

/// XTS: one data unit needs one call, so a scattered request is gathered into a buffer first.
static int run_whole(avp_cipher *cipher, struct cursor *source, struct cursor *destination, size_t length) {
    if (source->count == 1 && destination->count == 1) {
        return update(cipher->context, position(destination), position(source), length);
    }
    unsigned char *buffer = malloc(length);
    if (buffer == NULL) return 0;
    transfer(source, buffer, NULL, length);
    int ok = update(cipher->context, buffer, buffer, length);
    if (ok) transfer(destination, NULL, buffer, length);
    avp_crypto_cleanse(buffer, length);
    free(buffer);
    return ok;
}

int avp_cipher_run(avp_cipher *cipher, const unsigned char *iv, size_t iv_length,
                   const struct iovec *source, size_t source_count,
                   const struct iovec *destination, size_t destination_count, size_t length) {
    if (cipher == NULL || iv == NULL || length > AVP_CIPHER_MAX_LENGTH) return -EINVAL;
    if (iv_length != (size_t)EVP_CIPHER_CTX_get_iv_length(cipher->context)) return -EINVAL;
    if (cipher->mode != AVP_CIPHER_AES_CTR && length % BLOCK != 0) return -EINVAL;
    if (cipher->mode == AVP_CIPHER_AES_XTS && length < BLOCK) return -EINVAL;
    if (!total_at_least(source, source_count, length) || !total_at_least(destination, destination_count, length)) return -EINVAL;
    // A new IV with the key kept (enc -1: same direction); clears any state a previous run left.
    if (EVP_CipherInit_ex2(cipher->context, NULL, NULL, iv, -1, NULL) != 1) return -EIO;
    if (length == 0) return 0;
    struct cursor in = { source, source_count, 0, 0 }, out = { destination, destination_count, 0, 0 };
    available(&in);
    available(&out);
    int ok = cipher->mode == AVP_CIPHER_AES_XTS ? run_whole(cipher, &in, &out, length)
                                                : run_streaming(cipher, &in, &out, length);
    return ok ? 0 : -EIO;
}
