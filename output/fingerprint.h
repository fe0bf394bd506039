/* fingerprint.h - keyed fingerprints of records (HMAC-SHA256, site key).
 *
 * Lets an analyst correlate the same record across alerts without seeing
 * it. The key comes from config; fingerprint_key_random() makes a per-run
 * key when none is configured (fingerprints then do not correlate across
 * runs; main warns). */
#ifndef LH_FINGERPRINT_H
#define LH_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#define FINGERPRINT_KEY_MAX 64
#define FINGERPRINT_STR_LEN 38 /* "hmac:" + 32 hex + NUL */

struct fingerprint_key {
    uint8_t key[FINGERPRINT_KEY_MAX];
    size_t len;
    /* SipHash-2-4 key of fingerprint_record64, derived from key by
     * fingerprint_key_set/_random: the first 16 bytes of
     * HMAC-SHA256(key, "leakhound record64 v1"). */
    uint8_t k64[16];
    /* HMAC-SHA256 keyed once: the SHA-256 chaining values after the key's
     * inner and outer pad blocks, set with k64 by fingerprint_key_set/
     * _random (hmac_ready). A key filled in by hand still works, slower. */
    uint32_t hmac_mid[2][8];
    uint8_t hmac_ready;
};

/* Key from a hex or plain string (>= 16 bytes). Returns 0, or -1 with err. */
int fingerprint_key_set(struct fingerprint_key *k, const char *s, char *err, size_t errlen);
/* Random key from getrandom(). Returns 0 or -1. */
int fingerprint_key_random(struct fingerprint_key *k);

/* "hmac:" + first 128 bits of HMAC-SHA256(key, category byte || value) in hex.
 * Can't fail. */
void fingerprint_record(const struct fingerprint_key *k, uint8_t category, const uint8_t *v,
                        size_t len, char out[FINGERPRINT_STR_LEN]);

/* 64-bit keyed value of a record for dedup sets: SipHash-2-4 with k64 over
 * category byte || value (fast; not for output). Can't fail. */
uint64_t fingerprint_record64(const struct fingerprint_key *k, uint8_t category, const uint8_t *v,
                              size_t len);

/* SipHash-2-4 of data under the 128-bit key (k0, k1): the keyed hash of the
 * project's hash tables, so traffic cannot choose colliding keys. Can't fail. */
uint64_t fingerprint_siphash(uint64_t k0, uint64_t k1, const void *data, size_t len);

#endif
