/*
 * afalg-cipher: a guest-side tool for AVP's virtio-crypto tests and benchmark. It runs a
 * symmetric cipher through Linux's AF_ALG socket interface, bound to one driver by name
 * (e.g. the virtio_crypto driver's cbc(aes)), so the request reaches that driver and no other.
 *
 *   afalg-cipher DRIVER enc|dec KEYHEX IVHEX DATAHEX     one request; prints the result in hex
 *   afalg-cipher DRIVER bench KEYHEX BYTES SECONDS      encrypts BYTES-sized requests for
 *                                                       SECONDS; prints "bench BYTES requests N
 *                                                       bytes B usec U"
 *   afalg-cipher DRIVER hold KEYHEX COUNT SECONDS       keys COUNT transforms with KEY (each its
 *                                                       own sessions), holds them for SECONDS;
 *                                                       prints "held K" (K: how many got a key)
 * Exit status: 0 on success, 2 on usage errors, 1 when the kernel refused (message on stderr).
 * Built statically on the host by the tests (cc -static) and copied into the initramfs.
 */
#include <linux/if_alg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_ALG
#define SOL_ALG 279
#endif

static int fail(const char *what) { perror(what); return 1; }

static size_t unhex(const char *text, unsigned char *out, size_t room) {
    size_t n = strlen(text) / 2;
    if (n > room || strlen(text) % 2) { fprintf(stderr, "bad hex (%zu bytes, room %zu)\n", n, room); exit(2); }
    for (size_t i = 0; i < n; i++) {
        unsigned int v;
        if (sscanf(text + 2 * i, "%2x", &v) != 1) { fprintf(stderr, "bad hex\n"); exit(2); }
        out[i] = (unsigned char)v;
    }
    return n;
}

/* The operation socket for DRIVER with KEY set. */
static int open_cipher(const char *driver, const unsigned char *key, size_t keylen) {
    struct sockaddr_alg sa = { .salg_family = AF_ALG };
    strcpy((char *)sa.salg_type, "skcipher");
    strncpy((char *)sa.salg_name, driver, sizeof sa.salg_name - 1);
    int tfm = socket(AF_ALG, SOCK_SEQPACKET, 0);
    if (tfm < 0) { perror("socket(AF_ALG)"); return -1; }
    if (bind(tfm, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("bind"); return -1; }
    if (setsockopt(tfm, SOL_ALG, ALG_SET_KEY, key, keylen) < 0) { perror("ALG_SET_KEY"); return -1; }
    int op = accept(tfm, NULL, 0);
    if (op < 0) { perror("accept"); return -1; }
    return op;
}

/* One request: sendmsg with the operation and IV, then read the result. */
static int crypt_once(int op, int encrypt, const unsigned char *iv, size_t ivlen,
                      const unsigned char *in, size_t len, unsigned char *out) {
    if (ivlen > 64) { fprintf(stderr, "IV too long\n"); return 1; }
    char control[CMSG_SPACE(sizeof(uint32_t)) + CMSG_SPACE(sizeof(struct af_alg_iv) + 64)];
    memset(control, 0, sizeof control);
    struct iovec iov = { .iov_base = (void *)in, .iov_len = len };
    /* Exactly the two messages: the kernel refuses a control buffer with trailing zeroes. */
    struct msghdr msg = { .msg_control = control, .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_controllen = CMSG_SPACE(sizeof(uint32_t)) + CMSG_SPACE(sizeof(struct af_alg_iv) + ivlen) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_ALG; c->cmsg_type = ALG_SET_OP; c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
    *(uint32_t *)CMSG_DATA(c) = encrypt ? ALG_OP_ENCRYPT : ALG_OP_DECRYPT;
    c = CMSG_NXTHDR(&msg, c);
    c->cmsg_level = SOL_ALG; c->cmsg_type = ALG_SET_IV; c->cmsg_len = CMSG_LEN(sizeof(struct af_alg_iv) + ivlen);
    struct af_alg_iv *aiv = (struct af_alg_iv *)CMSG_DATA(c);
    aiv->ivlen = (uint32_t)ivlen;
    memcpy(aiv->iv, iv, ivlen);
    if (sendmsg(op, &msg, 0) != (ssize_t)len) return fail("sendmsg");
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(op, out + got, len - got);
        if (r <= 0) return fail("read");
        got += (size_t)r;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: see the comment at the top of afalg-cipher.c\n"); return 2; }
    unsigned char key[64], iv[64];
    size_t keylen = unhex(argv[3], key, sizeof key);
    if (strcmp(argv[2], "hold") == 0) {
        long count = strtol(argv[4], NULL, 10), held = 0;
        for (; held < count; held++) {
            if (open_cipher(argv[1], key, keylen) < 0) break;
        }
        printf("held %ld\n", held);
        fflush(stdout);
        sleep((unsigned)atoi(argv[5]));
        return 0;
    }
    int op = open_cipher(argv[1], key, keylen);
    if (op < 0) return 1;
    if (strcmp(argv[2], "bench") == 0) {
        size_t bytes = strtoul(argv[4], NULL, 10);
        double seconds = atof(argv[5]);
        if (bytes == 0 || bytes > (64u << 20) || bytes % 16) { fprintf(stderr, "bad size\n"); return 2; }
        unsigned char *in = calloc(1, bytes), *out = malloc(bytes);
        if (!in || !out) return fail("malloc");
        memset(iv, 0x42, 16);
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        unsigned long n = 0;
        double elapsed = 0;
        do {
            if (crypt_once(op, 1, iv, 16, in, bytes, out)) return 1;
            n++;
            clock_gettime(CLOCK_MONOTONIC, &t);
            elapsed = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
        } while (elapsed < seconds);
        printf("bench %zu requests %lu bytes %lu usec %.0f\n", bytes, n, n * bytes, elapsed * 1e6);
        return 0;
    }
    int encrypt = strcmp(argv[2], "enc") == 0;
    if (!encrypt && strcmp(argv[2], "dec") != 0) { fprintf(stderr, "enc, dec or bench\n"); return 2; }
    size_t ivlen = unhex(argv[4], iv, sizeof iv);
    size_t room = strlen(argv[5]) / 2 + 1;
    unsigned char *in = malloc(room), *out = malloc(room);
    if (!in || !out) return fail("malloc");
    size_t len = unhex(argv[5], in, room);
    if (crypt_once(op, encrypt, iv, ivlen, in, len, out)) return 1;
    for (size_t i = 0; i < len; i++) printf("%02x", out[i]);
    printf("\n");
    return 0;
}
