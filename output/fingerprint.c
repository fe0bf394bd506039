/* fingerprint.c - keyed fingerprints of records: HMAC-SHA256 and SipHash.
 *
 * In: a site key (config string or getrandom), then record values. Out: a
 * printable "hmac:<32 hex>" (the first 128 bits of HMAC-SHA256 over the
 * category byte and the value) for alerts, and a 64-bit SipHash-2-4 of the
 * same bytes for in-memory dedup sets. The SipHash key is derived once from
 * the site key, so neither output can be computed without the site key, and
 * the per-record cost of record64 stays a few nanoseconds. The HMAC is keyed
 * once per key: the SHA-256 states after the inner and outer pad blocks are
 * kept in the key, so a record costs two SHA-256 blocks through libcrypto's
 * SHA256_* (which pick SHA-NI/AVX code) and no EVP context or fetch; it is
 * used only for the bounded number of fingerprints an event carries. Only
 * libcrypto is used here. */
#include "output/fingerprint.h"

/* SHA256_Init/_Update/_Final are deprecated in OpenSSL 3 in favour of EVP,
 * whose per-call context setup is what this file avoids; they stay in 3.x. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>
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

/* The SHA-256 chaining values after one block of key ^ pad (the key is at
 * most 64 bytes, one block, so it is used as it is). */
static void hmac_pads(const uint8_t *key, size_t keylen, uint32_t mid[2][8])
{
    for (int o = 0; o < 2; o++) {
        uint8_t pad[64];
        memset(pad, o ? 0x5c : 0x36, sizeof(pad));
        for (size_t i = 0; i < keylen && i < sizeof(pad); i++)
            pad[i] ^= key[i];
        SHA256_CTX c;
        SHA256_Init(&c);
        SHA256_Update(&c, pad, sizeof(pad));
        memcpy(mid[o], c.h, sizeof(c.h));
    }
}

/* A SHA-256 context resumed after one block whose chaining value is mid. */
static void sha_resume(SHA256_CTX *c, const uint32_t mid[8])
{
    memset(c, 0, sizeof(*c));
    memcpy(c->h, mid, sizeof(c->h));
    c->Nl = 512; /* bits hashed so far */
    c->md_len = SHA256_DIGEST_LENGTH;
}

static int derive_k64(struct fingerprint_key *k)
{
    uint8_t h[32];
    if (hmac_sha256(k->key, k->len, (const uint8_t *)k64_label, sizeof(k64_label) - 1, NULL, 0,
                    h) != 0)
        return -1;
    memcpy(k->k64, h, sizeof(k->k64));
    hmac_pads(k->key, k->len, k->hmac_mid);
    k->hmac_ready = 1;
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

/* HMAC-SHA256(key, category || v) from the key's pad states: two SHA-256
 * blocks for a record of up to 54 bytes. A key without them (filled in by
 * hand) has them made here. Can't fail. */
static void hmac_record(const struct fingerprint_key *k, uint8_t category, const uint8_t *v,
                        size_t len, uint8_t out[32])
{
    uint32_t made[2][8];
    const uint32_t(*mid)[8] = k->hmac_mid;
    if (!k->hmac_ready) {
        hmac_pads(k->key, k->len < FINGERPRINT_KEY_MAX ? k->len : FINGERPRINT_KEY_MAX, made);
        mid = (const uint32_t(*)[8])made;
    }
    SHA256_CTX c;
    uint8_t inner[SHA256_DIGEST_LENGTH];
    sha_resume(&c, mid[0]);
    SHA256_Update(&c, &category, 1);
    if (len)
        SHA256_Update(&c, v, len);
    SHA256_Final(inner, &c);
    sha_resume(&c, mid[1]);
    SHA256_Update(&c, inner, sizeof(inner));
    SHA256_Final(out, &c);
}

void fingerprint_record(const struct fingerprint_key *k, uint8_t category, const uint8_t *v,
                        size_t len, char out[FINGERPRINT_STR_LEN])
{
    static const char hexd[] = "0123456789abcdef";
    uint8_t h[32];
    hmac_record(k, category, v, len, h);
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

/* Little-endian loads of 1..8 bytes that read nothing outside [p, p+n):
 * short values are covered by two overlapping loads. */
static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

static inline uint32_t ld32(const uint8_t *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap32(x);
#endif
    return x;
}

static inline uint16_t ld16(const uint8_t *p)
{
    uint16_t x;
    memcpy(&x, p, 2);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap16(x);
#endif
    return x;
}

/* Bytes p[0..n) for n <= 7, little-endian, upper bytes zero. */
static inline uint64_t ld_short(const uint8_t *p, size_t n)
{
    if (n >= 4)
        return ld32(p) | (uint64_t)ld32(p + n - 4) << (8 * (n - 4));
    if (n >= 2)
        return ld16(p) | (uint64_t)ld16(p + n - 2) << (8 * (n - 2));
    return n ? p[0] : 0;
}

/* The same function as fingerprint_siphash over the message category || v,
 * without copying the message: its 8-byte words are read straight from v
 * (the first word is the category and v's first 7 bytes, so word i >= 1 is
 * v[8i-1 .. 8i+6]), and the last partial word by one load ending at v's end. */
uint64_t fingerprint_record64(const struct fingerprint_key *k, uint8_t category, const uint8_t *v,
                              size_t len)
{
    uint64_t k0 = ld64(k->k64), k1 = ld64(k->k64 + 8);
    struct sip s = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                    k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
    size_t total = len + 1;
    uint64_t last;
    if (len < 7) {
        last = category | ld_short(v, len) << 8;
    } else {
        uint64_t first = len >= 8 ? ld64(v) << 8 : (uint64_t)ld_short(v, 7) << 8;
        sip_block(&s, category | first);
        size_t o = 8; /* message offset of the next word */
        for (; o + 8 <= total; o += 8)
            sip_block(&s, ld64(v + o - 1));
        size_t r = total - o; /* bytes left, 0..7; when r > 0, len >= 8 */
        last = r ? ld64(v + len - 8) >> (64 - 8 * r) : 0;
    }
    last |= (uint64_t)(uint8_t)total << 56;
    sip_block(&s, last);
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
        sip_block(&s, ld64(p + i));
    uint8_t last[8] = {0};
    memcpy(last, p + i, len - i);
    last[7] = (uint8_t)len;
    sip_block(&s, ld64(last));
    s.v2 ^= 0xff;
    for (int r = 0; r < 4; r++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
