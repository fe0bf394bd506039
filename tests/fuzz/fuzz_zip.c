/* fuzz_zip.c - the ZIP member reader (parsers/zip.h) on any bytes.
 *
 * Input: [ctl:1][archive]. ctl's bits 0-3 pick a piece size (1 to 2^k
 * bytes), bit 4 an output cap of 4 KiB, bit 5 a 4:1 ratio cap, bit 6 a cap
 * of 3 members, bit 7 a hole halfway. The archive is read whole and in
 * pieces of that size; both must give the same output and status (the
 * reader's state is all its own, so where the input is cut cannot matter)
 * unless the ratio cap or a hole is on (both depend on how much input had
 * come when they apply), and no more output than the caps allow. Seeds: archives written by
 * Python's zipfile, seekable and streamed (tests/fuzz/make-seeds.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/zip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX (4u << 20)

struct out {
    uint8_t *b;
    size_t n;
};

static void put(void *ud, const uint8_t *d, size_t len)
{
    struct out *o = ud;
    if (len > OUT_MAX - o->n) abort(); /* no archive this small inflates this much past the caps */
    memcpy(o->b + o->n, d, len);
    o->n += len;
}

static enum zip_status read_all(const struct zip_config *cfg, const uint8_t *a, size_t len,
                                size_t piece, int hole, struct out *o)
{
    struct zip *z = zip_new(cfg, put, o);
    if (!z) abort();
    for (size_t off = 0; off < len; off += piece) {
        size_t k = len - off < piece ? len - off : piece;
        if (hole && off <= len / 2 && len / 2 < off + k) zip_abandon(z);
        zip_feed(z, a + off, k);
    }
    enum zip_status s = zip_status(z);
    zip_free(z);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t ctl = data[0];
    const uint8_t *a = data + 1;
    size_t len = size - 1;
    struct zip_config cfg = {ctl & 16 ? 4096 : OUT_MAX / 2, ctl & 32 ? 4 : 1000, ctl & 64 ? 3 : 0};
    static uint8_t b1[OUT_MAX], b2[OUT_MAX];
    struct out o1 = {b1, 0}, o2 = {b2, 0};
    int hole = ctl >> 7;
    /* with a hole, where it falls depends on the pieces: compare like with like */
    size_t piece = (size_t)1 << (ctl & 15);
    enum zip_status s1 = read_all(&cfg, a, len, hole ? piece : len ? len : 1, hole, &o1);
    enum zip_status s2 = read_all(&cfg, a, len, piece, hole, &o2);
    if (!hole && !(ctl & 32) && (s1 != s2 || o1.n != o2.n || memcmp(b1, b2, o1.n) != 0))
        abort();
    if (o1.n > cfg.max_out + len || o2.n > cfg.max_out + len) abort(); /* raw rest at most */
    if ((ctl & 32) && !hole && (o1.n > 4 * len + len || o2.n > 4 * len + len)) abort();
    return 0;
}
