/* fingerprint.c - keyed fingerprints of records: HMAC-SHA256 and SipHash.
 *
 * In: a site key (config string or getrandom), then record values. Out: a
 * printable "hmac:<32 hex>" (the first 128 bits of HMAC-SHA256 over the
 * category byte and the value) for alerts, and a 64-bit SipHash-2-4 of the
 * same bytes for in-memory dedup sets. The SipHash key is derived once from
 * the site key, so neither output can be computed without the site key, and
 * the per-record cost of record64 stays a few nanoseconds (HMAC through
 * OpenSSL costs a context and a fetch per call; it is used only for the
 * bounded number of samples an alert carries). Only libcrypto is used here. */
#include "output/fingerprint.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static const char k64_label[] = "leakhound record64 v1";

/* HMAC-SHA256(key, a || b). Returns 0, or -1 if OpenSSL fails (no memory). */
static int hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *a, size_t alen,
                       const uint8_t *b, size_t blen, uint8_t out[32])
{
    int rc = -1;
    size_t outl = 0;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    if (!ctx) goto out;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    /* an empty key is legal HMAC, but OpenSSL wants a non-NULL pointer */
    static const uint8_t nokey[1];
    if (!EVP_MAC_init(ctx, keylen ? key : nokey, keylen, params)) goto out;
    if (alen && !EVP_MAC_update(ctx, a, alen)) goto out;
    if (blen && !EVP_MAC_update(ctx, b, blen)) goto out;
    if (!EVP_MAC_final(ctx, out, &outl, 32) || outl != 32) goto out;
    rc = 0;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

static int derive_k64(struct fingerprint_key *k)
{
    uint8_t h[32];
    if (hmac_sha256(k->key, k->len, (const uint8_t *)k64_label, sizeof(k64_label) - 1, NULL, 0,
                    h) != 0)
        return -1;
    memcpy(k->k64, h, sizeof(k->k64));
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

int fingerprint_key_set(struct fingerprint_key *k, const char *s, char *err, size_t errlen)
{
    memset(k, 0, sizeof(*k));
    if (!s) {
        set_err(err, errlen, "fingerprint key: none given");
        return -1;
    }
    size_t n = strlen(s);
    size_t hex = 0;
    while (hex < n && hexval(s[hex]) >= 0)
        hex++;
    if (n >= 32 && hex == n) {
        /* 32+ hex digits are taken as hex: the usual way to write a random key */
        if (n % 2) {
            set_err(err, errlen, "fingerprint key: odd number of hex digits");
            return -1;
        }
        if (n / 2 > FINGERPRINT_KEY_MAX) {
            set_err(err, errlen, "fingerprint key: more than 64 bytes of hex");
            return -1;
        }
        for (size_t i = 0; i < n / 2; i++)
            k->key[i] = (uint8_t)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
        k->len = n / 2;
    } else {
        if (n < 16) {
            set_err(err, errlen, "fingerprint key: shorter than 16 bytes");
            return -1;
        }
        if (n > FINGERPRINT_KEY_MAX) {
            set_err(err, errlen, "fingerprint key: longer than 64 bytes");
            return -1;
        }
        memcpy(k->key, s, n);
        k->len = n;
    }
    if (derive_k64(k) != 0) {
        memset(k, 0, sizeof(*k));
        set_err(err, errlen, "fingerprint key: HMAC-SHA256 unavailable in libcrypto");
        return -1;
    }
    return 0;
}

int fingerprint_key_random(struct fingerprint_key *k)
{
    memset(k, 0, sizeof(*k));
    size_t got = 0;
    while (got < 32) {
        ssize_t r = getrandom(k->key + got, 32 - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        got += (size_t)r;
    }
    k->len = 32;
    return derive_k64(k);
}

/* HMAC of a record with the key already set up: fetching the MAC and
 * keying it cost far more than hashing a record, so each thread keeps one
 * keyed context per key and re-initialises it with the same key (OpenSSL
 * keeps the keyed pads) for every record. */
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key_tls;

/* a worker thread's keyed context goes with the thread */
static void ctx_free_at_exit(void *ctx)
{
    EVP_MAC_CTX_free(ctx);
}

static void ctx_key_init(void)
{
    pthread_key_create(&ctx_key_tls, ctx_free_at_exit);
}

static int hmac_record(const struct fingerprint_key *k, uint8_t category, const uint8_t *v,
                       size_t len, uint8_t out[32])
{
    static __thread EVP_MAC_CTX *ctx;
    static __thread const struct fingerprint_key *ctx_key;
    static __thread uint8_t ctx_key_bytes[FINGERPRINT_KEY_MAX];
    static __thread size_t ctx_key_len;
    if (!ctx || ctx_key != k || ctx_key_len != k->len ||
        memcmp(ctx_key_bytes, k->key, k->len) != 0) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
        if (ctx_key)
            pthread_setspecific(ctx_key_tls, NULL);
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (mac) {
            ctx = EVP_MAC_CTX_new(mac);
            EVP_MAC_free(mac); /* the context holds its own reference */
        }
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                               OSSL_PARAM_construct_end()};
        static const uint8_t nokey[1];
        if (!ctx || !EVP_MAC_init(ctx, k->len ? k->key : nokey, k->len, params)) {
            EVP_MAC_CTX_free(ctx);
            ctx = NULL;
            return hmac_sha256(k->key, k->len, &category, 1, v, len, out);
        }
        ctx_key = k;
        memcpy(ctx_key_bytes, k->key, k->len);
        ctx_key_len = k->len;
        pthread_once(&ctx_once, ctx_key_init);
        pthread_setspecific(ctx_key_tls, ctx);
    } else if (!EVP_MAC_init(ctx, NULL, 0, NULL)) {
        return hmac_sha256(k->key, k->len, &category, 1, v, len, out);
    }
    size_t outl = 0;
    if (!EVP_MAC_update(ctx, &category, 1) || (len && !EVP_MAC_update(ctx, v, len)) ||
        !EVP_MAC_final(ctx, out, &outl, 32) || outl != 32)
        return hmac_sha256(k->key, k->len, &category, 1, v, len, out);
    return 0;
}

void fingerprint_record(const struct fingerprint_key *k, uint8_t category, const uint8_t *v,
                        size_t len, char out[FINGERPRINT_STR_LEN])
{
    static const char hexd[] = "0123456789abcdef";
    uint8_t h[32];
    if (hmac_record(k, category, v, len, h) != 0)
        memset(h, 0, sizeof(h)); /* only without memory; an all-zero print is visible */
    memcpy(out, "hmac:", 5);
    for (size_t i = 0; i < 16; i++) {
        out[5 + 2 * i] = hexd[h[i] >> 4];
        out[5 + 2 * i + 1] = hexd[h[i] & 15];
    }
    out[FINGERPRINT_STR_LEN - 1] = 0;
}

/* ---- SipHash-2-4 (Aumasson, Bernstein), over category || value ---------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
    uint64_t v0, v1, v2, v3;
};

static uint64_t load64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

static void sip_round(struct sip *s)
{
    s->v0 += s->v1, s->v1 = ROTL(s->v1, 13), s->v1 ^= s->v0, s->v0 = ROTL(s->v0, 32);
    s->v2 += s->v3, s->v3 = ROTL(s->v3, 16), s->v3 ^= s->v2;
    s->v0 += s->v3, s->v3 = ROTL(s->v3, 21), s->v3 ^= s->v0;
    s->v2 += s->v1, s->v1 = ROTL(s->v1, 17), s->v1 ^= s->v2, s->v2 = ROTL(s->v2, 32);
}

static void sip_block(struct sip *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

uint64_t fingerprint_record64(const struct fingerprint_key *k, uint8_t category, const uint8_t *v,
                              size_t len)
{
    uint64_t k0 = load64(k->k64), k1 = load64(k->k64 + 8);
    struct sip s = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                    k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
    size_t total = len + 1;
    /* the message is category || v: the first block takes 7 bytes of v */
    uint8_t buf[8];
    buf[0] = category;
    size_t i = 0; /* bytes of v consumed */
    size_t first = len < 7 ? len : 7;
    if (first) memcpy(buf + 1, v, first);
    i = first;
    if (first == 7) {
        sip_block(&s, load64(buf));
        for (; i + 8 <= len; i += 8)
            sip_block(&s, load64(v + i));
        size_t rest = len - i;
        memset(buf, 0, sizeof(buf));
        if (rest) memcpy(buf, v + i, rest);
    } else {
        memset(buf + 1 + first, 0, 7 - first);
    }
    /* last block: the remaining bytes and the length's low byte */
    buf[7] = (uint8_t)total;
    sip_block(&s, load64(buf));
    s.v2 ^= 0xff;
    for (int r = 0; r < 4; r++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t fingerprint_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    const uint8_t *p = data;
    struct sip s = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                    k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        sip_block(&s, load64(p + i));
    uint8_t last[8] = {0};
    memcpy(last, p + i, len - i);
    last[7] = (uint8_t)len;
    sip_block(&s, load64(last));
    s.v2 ^= 0xff;
    for (int r = 0; r < 4; r++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
