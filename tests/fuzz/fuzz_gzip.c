/* fuzz_gzip.c - whole-body gzip decoding against streaming (decompress.h).
 *
 * Input: [ctl:1][cuts...][body]. ctl's bits 0-3 pick the piece size (1 to
 * 2^k bytes, each piece's size varied by the cut bytes), bit 4 a hole
 * halfway, bits 5-6 the caps (none, a 4 KiB output cap, a 4:1 ratio, both),
 * bit 7 a hold limit of 1 KiB instead of 64 KiB; the next 16 bytes vary the
 * pieces (the first's bit 0: the body's length is given as expected), the rest is the body. A streaming decoder and a holding one get
 * the same pieces; both must give their sinks the same bytes and end in the
 * same status, except where whole-body mode applies the ratio cap to the
 * whole body (docs/http.md): then the holding one must have inflated the
 * body at once and given at least what streaming gave, and streaming must
 * have stopped on the ratio cap. Bodies that decode at all need the fuzzer
 * to find gzip structure; the seeds are gzip members, valid and cut
 * (tests/fuzz/make-seeds.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/decompress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX (1u << 20)

struct out {
    uint8_t *b;
    size_t n;
};

static void put(void *ud, const uint8_t *data, size_t len)
{
    struct out *o = ud;
    if (o->n + len > OUT_MAX) abort(); /* no cap below lets this many through */
    memcpy(o->b + o->n, data, len);
    o->n += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 17) return 0;
    uint8_t ctl = data[0];
    const uint8_t *cuts = data + 1, *body = data + 17;
    size_t len = size - 17;
    size_t piece = (size_t)1 << (ctl & 15);
    int caps = (ctl >> 5) & 3;
    uint64_t max_out = caps & 1 ? 4096 : OUT_MAX / 2;
    uint32_t ratio = caps & 2 ? 4 : 1000;
    size_t hold = ctl & 128 ? 1024 : 65536;
    static uint8_t bs[OUT_MAX], bw[OUT_MAX];
    struct out os = {bs, 0}, ow = {bw, 0};
    const uint8_t gz = DECOMP_GZIP;
    struct decomp *s = decomp_new(&gz, 1, max_out, ratio, put, &os);
    struct decomp *w = decomp_new(&gz, 1, max_out, ratio, put, &ow);
    if (!s || !w || decomp_hold(w, hold, cuts[0] & 1 ? len : 0) != 0) abort();
    size_t i = 0, hole = (ctl & 16) ? len / 2 : SIZE_MAX;
    for (size_t off = 0; off < len; i++) {
        size_t k = 1 + (cuts[i % 16] * 131u + i) % piece;
        if (k > len - off) k = len - off;
        if (off <= hole && hole < off + k) {
            decomp_abandon(s);
            decomp_abandon(w);
        }
        decomp_feed(s, body + off, k);
        decomp_feed(w, body + off, k);
        off += k;
    }
    enum decomp_status ss = decomp_finish(s), sw = decomp_finish(w);
    if (decomp_was_whole(s)) abort();
    if (ss != sw || os.n != ow.n || memcmp(bs, bw, os.n) != 0) {
        /* the one designed difference: a whole body held to the ratio cap
         * as a whole, which streaming applied to its first part */
        if (!(decomp_was_whole(w) && ss == DECOMP_RATIO && sw == DECOMP_OK && ow.n >= os.n &&
              memcmp(bs, bw, os.n) == 0))
            abort();
    }
    decomp_free(s);
    decomp_free(w);
    return 0;
}
