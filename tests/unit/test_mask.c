/* test_mask.c - masked samples (exact strings, clamping, hostile bytes) and
 * keyed fingerprints (HMAC-SHA256 and SipHash-2-4 against published
 * vectors and against OpenSSL's HMAC() and the generic SipHash for every
 * length, key parsing, key separation). */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "output/fingerprint.h"
#include "output/mask.h"

static const char *m(enum mask_style st, unsigned kf, unsigned kl, const char *v)
{
    static char out[256];
    size_t n = mask_value(st, kf, kl, (const uint8_t *)v, strlen(v), out, sizeof(out));
    CHECK_EQ(n, strlen(out));
    return out;
}

/* Strict UTF-8 check, written independently of mask.c's decoder. */
static int valid_utf8(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < len;) {
        uint8_t c = p[i];
        size_t n;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
        } else {
            return 0;
        }
        if (i + n > len) return 0;
        for (size_t k = 1; k < n; k++)
            if ((p[i + k] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && p[i + 1] < 0xa0) return 0;  /* overlong */
        if (c == 0xed && p[i + 1] >= 0xa0) return 0; /* surrogate */
        if (c == 0xf0 && p[i + 1] < 0x90) return 0;  /* overlong */
        if (c == 0xf4 && p[i + 1] >= 0x90) return 0; /* > U+10FFFF */
        i += n;
    }
    return 1;
}

static void test_keep(void)
{
    /* mobiles: at least 6 of 11 digits hidden whatever the rule asks */
    CHECK_STR(m(MASK_KEEP, 3, 2, "13812345678"), "138******78");
    CHECK_STR(m(MASK_KEEP, 3, 4, "13812345678"), "138******78"); /* not 138****5678 */
    CHECK_STR(m(MASK_KEEP, 7, 4, "13812345678"), "138******78");
    CHECK_STR(m(MASK_KEEP, 0, 0, "13812345678"), "***********");
    CHECK_STR(m(MASK_KEEP, 0, 4, "13812345678"), "*********78");
    /* resident IDs */
    CHECK_STR(m(MASK_KEEP, 3, 2, "11010519491231002X"), "110*************2X");
    CHECK_STR(m(MASK_KEEP, 6, 4, "11010519491231002X"), "11010*********002X");
    CHECK_STR(m(MASK_KEEP, 20, 20, "11010519491231002X"), "11010*********002X");
    /* waybills */
    CHECK_STR(m(MASK_KEEP, 2, 3, "YT1234567890123"), "YT**********123");
    CHECK_STR(m(MASK_KEEP, 3, 2, "DPK123456789012"), "DPK**********12");
    CHECK_STR(m(MASK_KEEP, 2, 3, "731234567890123"), "73**********123");
    /* clamping: at least half hidden */
    CHECK_STR(m(MASK_KEEP, 3, 3, "ABCD"), "A**D");
    CHECK_STR(m(MASK_KEEP, 1, 1, "AB"), "A*");
    CHECK_STR(m(MASK_KEEP, 1, 1, "A"), "*");
    /* characters are code points, not bytes */
    CHECK_STR(m(MASK_KEEP, 1, 1, "张三丰你好"), "张***好");
    CHECK_STR(m(MASK_KEEP, 2, 2, "张三丰你好"), "张***好");
    /* kept control characters are not passed through */
    CHECK_STR(m(MASK_KEEP, 2, 0, "a\nbcdef"), "a?*****");
}

static void test_name_address_full(void)
{
    CHECK_STR(m(MASK_NAME, 0, 0, "张三"), "张*");
    CHECK_STR(m(MASK_NAME, 0, 0, "欧阳娜娜"), "欧***");
    CHECK_STR(m(MASK_NAME, 0, 0, "张"), "*");
    CHECK_STR(m(MASK_NAME, 0, 0, "Li Lei"), "L*****");

    CHECK_STR(m(MASK_ADDRESS, 0, 0, "广东省深圳市南山区科技园路1号"), "广东省深圳市南山区***");
    CHECK_STR(m(MASK_ADDRESS, 0, 0, "北京市朝阳区建国路88号院3号楼2单元1001室"), "北京市朝阳区***");
    CHECK_STR(m(MASK_ADDRESS, 0, 0, "内蒙古自治区阿拉善盟额济纳旗达来呼布镇3号"),
              "内蒙古自治区阿拉善盟额济纳旗***");
    /* a 区 after the house number (小区) is not a cut point */
    CHECK_STR(m(MASK_ADDRESS, 0, 0, "科技路1号阳光小区"), "科技路***");
    /* no marker: the first 6 characters at most, never the number */
    CHECK_STR(m(MASK_ADDRESS, 0, 0, "中山路一号"), "中山***");
    CHECK_STR(m(MASK_ADDRESS, 0, 0, "解放大道中段某某花园十二栋"), "解放大道中段***");
    CHECK_STR(m(MASK_ADDRESS, 0, 0, "某某巷12号"), "某某巷***");
    /* only administrative text: something is still hidden */
    CHECK_STR(m(MASK_ADDRESS, 0, 0, "深圳市南山区"), "深圳市南山***");

    CHECK_STR(m(MASK_FULL, 0, 0, "13812345678"), "********");
    CHECK_STR(m(MASK_FULL, 0, 0, "张三"), "**");
    CHECK_STR(m(MASK_FULL, 0, 0, ""), "");
    CHECK_STR(m(MASK_KEEP, 3, 2, ""), "");
}

static void test_hostile(void)
{
    char out[64];
    /* a truncated sequence and stray continuation bytes */
    const uint8_t bad[] = {0xe5, 0x8c, 'a', 'b', 'c'};
    size_t n = mask_value(MASK_NAME, 0, 0, bad, sizeof(bad), out, sizeof(out));
    CHECK_STR(out, "\xef\xbf\xbd****");
    CHECK_EQ(n, 7);
    const uint8_t bad2[] = {0xff, 0xfe, '1', '2', '3', '4', '5', '6', 0xc0, 0xaf};
    n = mask_value(MASK_KEEP, 2, 2, bad2, sizeof(bad2), out, sizeof(out));
    CHECK_STR(out, "\xef\xbf\xbd\xef\xbf\xbd******\xef\xbf\xbd\xef\xbf\xbd");
    /* truncation never splits a character and always terminates */
    n = mask_value(MASK_KEEP, 3, 2, (const uint8_t *)"13812345678", 11, out, 5);
    CHECK_STR(out, "138*");
    CHECK_EQ(n, 4);
    n = mask_value(MASK_NAME, 0, 0, (const uint8_t *)"欧阳娜娜", 12, out, 3);
    CHECK_STR(out, "");
    CHECK_EQ(n, 0);
    n = mask_value(MASK_NAME, 0, 0, (const uint8_t *)"欧阳娜娜", 12, out, 4);
    CHECK_STR(out, "欧");
    n = mask_value(MASK_FULL, 0, 0, (const uint8_t *)"abc", 3, out, 1);
    CHECK_STR(out, "");
    CHECK_EQ(n, 0);
    CHECK_EQ(mask_value(MASK_FULL, 0, 0, NULL, 5, out, sizeof(out)), 0);

    /* random bytes, every style, many output sizes: in bounds (ASan), valid
     * UTF-8, terminated, never the value itself */
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    size_t bad_out = 0;
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t v[40];
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t len = (size_t)(x >> 58) % sizeof(v);
        for (size_t i = 0; i < len; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            uint8_t b = (uint8_t)(x >> 56);
            v[i] = (x >> 40) & 1 ? b : (uint8_t)(0xe4 + (b & 3)); /* bias to CJK leads */
        }
        size_t outlen = 1 + (size_t)(x >> 20) % 48;
        char *o = malloc(outlen);
        enum mask_style st = (enum mask_style)((x >> 30) % 5);
        n = mask_value(st, (unsigned)(x >> 33) % 8, (unsigned)(x >> 36) % 8, v, len, o, outlen);
        if (n >= outlen || o[n] != 0 || strlen(o) != n || !valid_utf8(o, n)) bad_out++;
        if (len > 2 && n == len && !memchr(v, '*', len) && memcmp(o, v, len) == 0) bad_out++;
        free(o);
    }
    CHECK_EQ(bad_out, 0);
}

/* ---- fingerprints -------------------------------------------------------- */

static void test_fingerprint(void)
{
    char fp[FINGERPRINT_STR_LEN], fp2[FINGERPRINT_STR_LEN];
    char err[128];
    struct fingerprint_key k, k2;

    /* RFC 4231 case 2: key "Jefe", data "what do ya want for nothing?". The
     * category byte is the data's first byte, so the plumbing is checked end
     * to end; the key is set by hand because "Jefe" is too short for
     * fingerprint_key_set. */
    memset(&k, 0, sizeof(k));
    memcpy(k.key, "Jefe", 4);
    k.len = 4;
    const char *d = "what do ya want for nothing?";
    fingerprint_record(&k, (uint8_t)d[0], (const uint8_t *)d + 1, strlen(d) - 1, fp);
    CHECK_STR(fp, "hmac:5bdcc146bf60754e6a042426089575c7");

    /* RFC 4231 case 1 (key 20 x 0x0b, "Hi There"), key given as hex */
    CHECK_EQ(fingerprint_key_set(&k, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", err, sizeof(err)),
             0);
    CHECK_EQ(k.len, 20);
    fingerprint_record(&k, 'H', (const uint8_t *)"i There", 7, fp);
    CHECK_STR(fp, "hmac:b0344c61d8db38535ca8afceaf0bf12b");
    CHECK_EQ(strlen(fp), FINGERPRINT_STR_LEN - 1);

    /* key parsing */
    CHECK_EQ(fingerprint_key_set(&k, "short", err, sizeof(err)), -1);
    CHECK(strstr(err, "16") != NULL);
    CHECK_EQ(fingerprint_key_set(&k, NULL, err, sizeof(err)), -1);
    CHECK_EQ(fingerprint_key_set(&k, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", err, sizeof(err)), -1);
    CHECK_EQ(fingerprint_key_set(&k, "a site key phrase", err, sizeof(err)), 0);
    CHECK_EQ(k.len, 17);
    CHECK(memcmp(k.key, "a site key phrase", 17) == 0);
    CHECK_EQ(fingerprint_key_set(&k, "0123456789abcdefABCDEF0123456789", err, sizeof(err)), 0);
    CHECK_EQ(k.len, 16);
    CHECK(k.key[0] == 0x01 && k.key[7] == 0xef && k.key[8] == 0xab && k.key[15] == 0x89);
    char longkey[200];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = 0;
    CHECK_EQ(fingerprint_key_set(&k, longkey, err, sizeof(err)), -1);

    /* same input, same print; another key, category or value, another print */
    CHECK_EQ(fingerprint_key_set(&k, "site key number one", err, sizeof(err)), 0);
    CHECK_EQ(fingerprint_key_set(&k2, "site key number two", err, sizeof(err)), 0);
    const uint8_t *v = (const uint8_t *)"13812345678";
    fingerprint_record(&k, 0, v, 11, fp);
    fingerprint_record(&k, 0, v, 11, fp2);
    CHECK_STR(fp, fp2);
    CHECK(strncmp(fp, "hmac:", 5) == 0);
    fingerprint_record(&k2, 0, v, 11, fp2);
    CHECK(strcmp(fp, fp2) != 0);
    fingerprint_record(&k, 1, v, 11, fp2);
    CHECK(strcmp(fp, fp2) != 0);
    fingerprint_record(&k, 0, (const uint8_t *)"13812345679", 11, fp2);
    CHECK(strcmp(fp, fp2) != 0);
    CHECK(strstr(fp, "13812345678") == NULL);

    uint64_t h = fingerprint_record64(&k, 0, v, 11);
    CHECK_EQ(fingerprint_record64(&k, 0, v, 11), h);
    CHECK(fingerprint_record64(&k2, 0, v, 11) != h);
    CHECK(fingerprint_record64(&k, 1, v, 11) != h);
    CHECK(fingerprint_record64(&k, 0, v, 10) != h);

    /* SipHash-2-4 reference vectors (key 00..0f, message 00..n-1): the
     * message is category || value, so category 0 and value 01..n-1 */
    static const struct {
        size_t n;
        uint64_t h;
    } sv[] = {{1, 0x74f839c593dc67fdULL},  {8, 0x93f5f5799a932462ULL},
              {15, 0xa129ca6149be45e5ULL}, {16, 0x3f2acc7f57c29bdbULL},
              {23, 0xa80c038ccd5ccec8ULL}, {40, 0x0e3ea96b5304a7d0ULL}};
    struct fingerprint_key sk;
    memset(&sk, 0, sizeof(sk));
    uint8_t msg[64];
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    for (int i = 0; i < 16; i++)
        sk.k64[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++)
        CHECK_EQ(fingerprint_record64(&sk, 0, msg + 1, sv[i].n - 1), sv[i].h);

    /* random keys differ, and are derived */
    CHECK_EQ(fingerprint_key_random(&k), 0);
    CHECK_EQ(fingerprint_key_random(&k2), 0);
    CHECK_EQ(k.len, 32);
    CHECK(memcmp(k.key, k2.key, 32) != 0);
    CHECK(memcmp(k.k64, k2.k64, 16) != 0);
}

/* The keyed hash of the tables (flow, accounts, worker choice): SipHash-2-4's
 * published vectors, key 00..0f, messages 00..(n-1). */
static void test_siphash_vectors(void)
{
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    uint64_t k0 = 0, k1 = 0;
    for (int i = 7; i >= 0; i--) {
        k0 = k0 << 8 | key[i];
        k1 = k1 << 8 | key[8 + i];
    }
    CHECK_EQ(fingerprint_siphash(k0, k1, msg, 0), 0x726fdb47dd0e0e31ull);
    CHECK_EQ(fingerprint_siphash(k0, k1, msg, 15), 0xa129ca6149be45e5ull);
    CHECK_EQ(fingerprint_siphash(k0, k1, msg, 8), 0x93f5f5799a932462ull);
}

/* The fast paths (pre-keyed HMAC states, SipHash read straight from the
 * value) give the same values as the plain definitions, for every length
 * around the block edges and keys of every length: OpenSSL's one-shot HMAC()
 * over category || value, and fingerprint_siphash over the same bytes. Each
 * value sits in a buffer of exactly its length, so a read past its end is
 * seen under ASan. */
static void test_fingerprint_definitions(void)
{
    uint8_t src[160], msg[161];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(src); i++) {
        x = x * 1103515245u + 12345u;
        src[i] = (uint8_t)(x >> 16);
    }
    static const size_t keylens[] = {16, 20, 32, 63, 64};
    char err[128], hex[2 * FINGERPRINT_KEY_MAX + 1];
    unsigned bad_hmac = 0, bad_hand = 0, bad_sip = 0;
    for (size_t ki = 0; ki < sizeof(keylens) / sizeof(keylens[0]); ki++) {
        size_t kl = keylens[ki];
        for (size_t i = 0; i < kl; i++)
            snprintf(hex + 2 * i, 3, "%02x", src[(i * 7 + ki) % sizeof(src)]);
        struct fingerprint_key k, hand;
        CHECK_EQ(fingerprint_key_set(&k, hex, err, sizeof(err)), 0);
        CHECK_EQ(k.len, kl);
        CHECK_EQ(k.hmac_ready, 1);
        memset(&hand, 0, sizeof(hand)); /* a key filled in by hand: no pad states */
        memcpy(hand.key, k.key, k.len);
        hand.len = k.len;
        uint64_t k0 = 0, k1 = 0;
        for (int i = 7; i >= 0; i--) {
            k0 = k0 << 8 | k.k64[i];
            k1 = k1 << 8 | k.k64[8 + i];
        }
        for (size_t len = 0; len < 140; len++) {
            uint8_t *v = malloc(len ? len : 1);
            CHECK(v != NULL);
            if (!v)
                return;
            memcpy(v, src + (len % 17), len);
            uint8_t cat = (uint8_t)(len * 31 + ki);
            msg[0] = cat;
            memcpy(msg + 1, v, len);

            uint8_t mac[EVP_MAX_MD_SIZE];
            unsigned maclen = 0;
            HMAC(EVP_sha256(), k.key, (int)k.len, msg, len + 1, mac, &maclen);
            char want[FINGERPRINT_STR_LEN], got[FINGERPRINT_STR_LEN], got2[FINGERPRINT_STR_LEN];
            memcpy(want, "hmac:", 5);
            for (int i = 0; i < 16; i++)
                snprintf(want + 5 + 2 * i, 3, "%02x", mac[i]);
            fingerprint_record(&k, cat, v, len, got);
            fingerprint_record(&hand, cat, v, len, got2);
            bad_hmac += maclen != 32 || strcmp(got, want) != 0;
            bad_hand += strcmp(got2, want) != 0;
            bad_sip += fingerprint_record64(&k, cat, v, len) !=
                       fingerprint_siphash(k0, k1, msg, len + 1);
            free(v);
        }
    }
    CHECK_EQ(bad_hmac, 0);
    CHECK_EQ(bad_hand, 0);
    CHECK_EQ(bad_sip, 0);
}

int main(void)
{
    test_siphash_vectors();
    test_keep();
    test_name_address_full();
    test_hostile();
    test_fingerprint();
    test_fingerprint_definitions();
    return check_done();
}
