/* decompress.c - streaming gzip/deflate decoding of HTTP bodies (RFC 9110
 * 8.4.1, RFC 1950 zlib, RFC 1951 deflate, RFC 1952 gzip).
 *
 * Owns one zlib inflate stream and one fixed output buffer per coding layer.
 * Input enters by decomp_feed() in pieces of any size; each layer inflates
 * into its 16 KiB buffer and hands every filled piece to the next layer, the
 * last layer to emit(), which enforces the output and ratio caps before
 * calling the sink. Nothing is buffered beyond the fixed buffers, except up
 * to DECOMP_RETAIN wire bytes kept while no output has appeared yet, so a
 * body that only claims to be compressed can be delivered raw in full.
 *
 * Whole-body mode (decomp_hold, one gzip layer): the wire pieces are kept
 * instead, up to a limit, and decomp_finish() inflates them with libdeflate
 * in one call when they are one member ending at the end with its size
 * within the caps (the ratio cap then holds for the whole body); otherwise,
 * or when the limit is passed or the input has a hole, the kept pieces are
 * fed to the streaming path as they came. The held bytes and the piece
 * ends are this module's, freed when the body ends; libdeflate's
 * decompressor and the one-shot output buffer (up to 1 MiB kept) are one
 * per thread, made at its first whole body and freed when it ends. */
#define ZLIB_CONST
#include "parsers/decompress.h"

#include <libdeflate.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct layer {
    z_stream zs;
    uint8_t coding;
    bool inited;     /* inflateInit2 done (deflate waits for 2 bytes to pick zlib or raw) */
    bool member_end; /* a gzip member ended; the next byte says if another follows */
    bool finished;   /* the stream ended: later input is trailing bytes, ignored */
    uint8_t nstash;  /* first byte of a deflate stream, held until the second comes */
    uint8_t stash;
    uint8_t *out;
};

struct decomp {
    decomp_sink sink;
    void *ud;
    uint64_t max_out, out_total, in_total;
    uint32_t max_ratio;
    enum decomp_status status;
    size_t n;
    const uint8_t *cur; /* the wire input of the current decomp_feed() */
    size_t cur_used;    /* how much of it layer 0 has consumed */
    bool retain_ok;
    uint16_t retain_len;
    uint8_t retain[DECOMP_RETAIN];
    /* whole-body mode (decomp_hold): the wire pieces, kept until
     * decomp_finish() decodes them at once */
    bool holding, was_whole;
    uint8_t *hold;
    size_t hold_len, hold_cap, hold_max;
    uint32_t *piece_end;
    uint32_t n_pieces, cap_pieces;
    struct layer layers[DECOMP_MAX_LAYERS];
};

static void push(struct decomp *d, size_t li, const uint8_t *in, size_t len, bool is_cur);

static void emit(struct decomp *d, const uint8_t *data, size_t n)
{
    enum decomp_status hit = DECOMP_OK;
    size_t give = n;
    if (d->max_out) {
        uint64_t room = d->max_out > d->out_total ? d->max_out - d->out_total : 0;
        if (give > room) {
            give = (size_t)room;
            hit = DECOMP_CAP;
        }
    }
    if (d->max_ratio && d->in_total <= UINT64_MAX / d->max_ratio) {
        uint64_t lim = d->in_total * d->max_ratio;
        uint64_t room = lim > d->out_total ? lim - d->out_total : 0;
        if (give > room) {
            give = (size_t)room;
            hit = DECOMP_RATIO;
        }
    }
    if (give) {
        d->out_total += give;
        d->sink(d->ud, data, give);
    }
    if (hit != DECOMP_OK) d->status = hit;
}

/* zlib header: CM 8, CINFO <= 7, FCHECK makes the pair a multiple of 31. */
static bool looks_zlib(uint8_t b0, uint8_t b1)
{
    return (b0 & 0x0f) == 8 && (b0 >> 4) <= 7 && ((unsigned)b0 << 8 | b1) % 31 == 0;
}

static bool layer_init(struct decomp *d, struct layer *L, uint8_t b0, uint8_t b1)
{
    int wbits = L->coding == DECOMP_GZIP ? 16 + MAX_WBITS
                : looks_zlib(b0, b1)     ? MAX_WBITS
                                         : -MAX_WBITS;
    memset(&L->zs, 0, sizeof(L->zs));
    if (inflateInit2(&L->zs, wbits) != Z_OK) {
        d->status = DECOMP_FAILED;
        return false;
    }
    /* The trailer's CRC-32 / Adler-32 is not computed: every byte was
     * scanned as it was inflated, so a wrong check value would change nothing
     * but this counter, and the CRC was ~2 % of the sensor's CPU. A
     * corrupt stream still fails in inflate's own decoding. */
    if (inflateValidate(&L->zs, 0) != Z_OK) {
        inflateEnd(&L->zs);
        d->status = DECOMP_FAILED;
        return false;
    }
    L->inited = true;
    return true;
}

/* Inflates what it can of in; returns the bytes consumed. Stops early at the
 * end of a stream or member, or when the decoder stopped. */
static size_t run(struct decomp *d, size_t li, const uint8_t *in, size_t len, bool is_cur)
{
    struct layer *L = &d->layers[li];
    uInt avail = len > UINT_MAX ? UINT_MAX : (uInt)len;
    L->zs.next_in = in;
    L->zs.avail_in = avail;
    for (;;) {
        uInt before = L->zs.avail_in;
        L->zs.next_out = L->out;
        L->zs.avail_out = DECOMP_OUT_CHUNK;
        int ret = inflate(&L->zs, Z_NO_FLUSH);
        size_t produced = DECOMP_OUT_CHUNK - L->zs.avail_out;
        if (li == 0) {
            d->in_total += before - L->zs.avail_in;
            if (is_cur) d->cur_used = (size_t)(L->zs.next_in - d->cur);
        }
        if (produced) {
            if (li + 1 < d->n)
                push(d, li + 1, L->out, produced, false);
            else
                emit(d, L->out, produced);
        }
        if (d->status != DECOMP_OK) break;
        if (ret == Z_STREAM_END) {
            if (L->coding == DECOMP_GZIP)
                L->member_end = true;
            else
                L->finished = true;
            break;
        }
        if (ret != Z_OK && ret != Z_BUF_ERROR) {
            d->status = DECOMP_FAILED;
            break;
        }
        /* Z_BUF_ERROR: no progress possible. A full output buffer may hide
         * more pending output, so only a partly filled one means "done". */
        if (ret == Z_BUF_ERROR || (L->zs.avail_in == 0 && L->zs.avail_out != 0)) break;
    }
    return avail - L->zs.avail_in;
}

static void push(struct decomp *d, size_t li, const uint8_t *in, size_t len, bool is_cur)
{
    struct layer *L = &d->layers[li];
    while (len > 0 && d->status == DECOMP_OK && !L->finished) {
        if (L->member_end) {
            /* another gzip member follows only if it starts with the magic;
             * anything else is trailing padding, as gzip(1) ignores it */
            if (in[0] != 0x1f) {
                L->finished = true;
                break;
            }
            if (inflateReset(&L->zs) != Z_OK) {
                d->status = DECOMP_FAILED;
                break;
            }
            L->member_end = false;
        }
        if (!L->inited) {
            if (L->coding == DECOMP_DEFLATE && L->nstash + len < 2) {
                L->stash = in[0];
                L->nstash = 1;
                if (is_cur) d->cur_used = (size_t)(in + 1 - d->cur);
                return;
            }
            uint8_t b0 = L->nstash ? L->stash : in[0];
            uint8_t b1 = L->nstash ? in[0] : (len > 1 ? in[1] : 0);
            if (!layer_init(d, L, b0, b1)) break;
            if (L->nstash) {
                L->nstash = 0;
                (void)run(d, li, &L->stash, 1, false);
                continue;
            }
        }
        size_t used = run(d, li, in, len, is_cur);
        in += used;
        len -= used;
    }
}

struct decomp *decomp_new(const uint8_t *codings, size_t n, uint64_t max_out, uint32_t max_ratio,
                          decomp_sink sink, void *ud)
{
    if (!codings || n == 0 || n > DECOMP_MAX_LAYERS || !sink) return NULL;
    for (size_t i = 0; i < n; i++)
        if (codings[i] != DECOMP_GZIP && codings[i] != DECOMP_DEFLATE) return NULL;
    /* the output chunks are written by inflate before they are read: only
     * the state is zeroed (16 KiB per layer of memset saved per body) */
    struct decomp *d = malloc(sizeof(*d) + n * (size_t)DECOMP_OUT_CHUNK);
    if (!d) return NULL;
    memset(d, 0, sizeof(*d));
    uint8_t *bufs = (uint8_t *)(d + 1);
    d->sink = sink;
    d->ud = ud;
    d->max_out = max_out;
    d->max_ratio = max_ratio;
    d->n = n;
    d->retain_ok = true;
    for (size_t i = 0; i < n; i++) {
        d->layers[i].coding = codings[i];
        d->layers[i].out = bufs + i * DECOMP_OUT_CHUNK;
    }
    return d;
}

static enum decomp_status feed_stream(struct decomp *d, const uint8_t *in, size_t len)
{
    if (!d || !len) return d ? d->status : DECOMP_FAILED;
    if (d->status == DECOMP_FAILED) {
        d->sink(d->ud, in, len);
        return d->status;
    }
    if (d->status != DECOMP_OK) return d->status;
    d->cur = in;
    d->cur_used = 0;
    push(d, 0, in, len, true);
    if (d->status == DECOMP_FAILED) {
        if (d->retain_ok && d->out_total == 0) {
            if (d->retain_len) d->sink(d->ud, d->retain, d->retain_len);
            d->sink(d->ud, in, len);
        } else if (d->cur_used < len) {
            d->sink(d->ud, in + d->cur_used, len - d->cur_used);
        }
        d->retain_ok = false;
    } else if (d->retain_ok) {
        if (d->out_total == 0 && d->retain_len + len <= DECOMP_RETAIN) {
            memcpy(d->retain + d->retain_len, in, len);
            d->retain_len = (uint16_t)(d->retain_len + len);
        } else {
            d->retain_ok = false;
        }
    }
    d->cur = NULL;
    return d->status;
}

/* ---- whole-body mode --------------------------------------------------- */

int decomp_hold(struct decomp *d, size_t max, size_t expect)
{
    if (!d || d->n != 1 || d->layers[0].coding != DECOMP_GZIP || d->in_total || d->holding ||
        d->status != DECOMP_OK || max == 0 || max > UINT32_MAX)
        return -1;
    d->holding = true;
    d->hold_max = max;
    if (expect && expect <= max && (d->hold = malloc(expect)))
        d->hold_cap = expect; /* the body's length is known: no growing copies */
    return 0;
}

bool decomp_holding(const struct decomp *d)
{
    return d && d->holding;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem, size_t first, size_t max)
{
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : first;
    while (n < need) n *= 2;
    if (n > max) n = max;
    if (n < need) return false;
    void *q = realloc(*p, n * elem);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

static bool hold_append(struct decomp *d, const uint8_t *in, size_t len)
{
    if (len > d->hold_max - d->hold_len) return false;
    size_t pc = d->cap_pieces;
    if (!grow((void **)&d->hold, &d->hold_cap, d->hold_len + len, 1, 16384, d->hold_max) ||
        !grow((void **)&d->piece_end, &pc, (size_t)d->n_pieces + 1, sizeof(uint32_t), 16,
              DECOMP_HOLD_PIECES))
        return false;
    d->cap_pieces = (uint32_t)pc;
    memcpy(d->hold + d->hold_len, in, len);
    d->hold_len += len;
    d->piece_end[d->n_pieces++] = (uint32_t)d->hold_len;
    return true;
}

/* Leaves whole-body mode, letting go of what was held. */
static void hold_drop(struct decomp *d)
{
    d->holding = false;
    free(d->hold);
    free(d->piece_end);
    d->hold = NULL;
    d->piece_end = NULL;
    d->hold_len = d->hold_cap = 0;
    d->n_pieces = d->cap_pieces = 0;
}

/* Leaves whole-body mode the other way: the held pieces go through the
 * streaming decoder exactly as they came, so everything after is what
 * streaming gives. */
static void release(struct decomp *d)
{
    d->holding = false; /* feed_stream below must stream */
    uint32_t prev = 0;
    for (uint32_t i = 0; i < d->n_pieces; i++) {
        (void)feed_stream(d, d->hold + prev, d->piece_end[i] - prev);
        prev = d->piece_end[i];
    }
    hold_drop(d);
}

/* What whole-body decoding reuses on a thread: libdeflate's decompressor
 * (~11 KiB, zeroed when made) and an output buffer of up to WHOLE_KEEP
 * bytes (larger outputs are allocated for the one body). Made at a thread's
 * first whole body, freed when the thread ends (the key's destructor) or,
 * for the process's first thread, with the process. */
#define WHOLE_KEEP (1u << 20)

struct whole_tls {
    struct libdeflate_decompressor *ld;
    uint8_t *out;
    size_t out_cap;
};

static pthread_key_t whole_key;
static pthread_once_t whole_once = PTHREAD_ONCE_INIT;
static bool whole_key_ok;

static void whole_tls_free(void *p)
{
    struct whole_tls *t = p;
    libdeflate_free_decompressor(t->ld);
    free(t->out);
    free(t);
}

static void whole_key_make(void)
{
    whole_key_ok = pthread_key_create(&whole_key, whole_tls_free) == 0;
}

static struct whole_tls *whole_tls_get(void)
{
    pthread_once(&whole_once, whole_key_make);
    if (!whole_key_ok) return NULL;
    struct whole_tls *t = pthread_getspecific(whole_key);
    if (t) return t;
    t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    if (!(t->ld = libdeflate_alloc_decompressor()) || pthread_setspecific(whole_key, t) != 0) {
        whole_tls_free(t);
        return NULL;
    }
    return t;
}

/* One gzip member that is the whole held input, whose trailer's size is
 * within both caps, decoded at once by libdeflate. False (nothing emitted)
 * for anything else: streaming then decides, as it always did. */
static bool whole(struct decomp *d)
{
    size_t n = d->hold_len;
    if (n < 18) return false; /* header 10 + empty deflate 2 + trailer 8 */
    const uint8_t *t = d->hold + n - 4;
    uint64_t isize = (uint64_t)t[0] | (uint64_t)t[1] << 8 | (uint64_t)t[2] << 16 |
                     (uint64_t)t[3] << 24;
    if (isize > DECOMP_WHOLE_MAX || (d->max_out && isize > d->max_out) ||
        (d->max_ratio && isize > (uint64_t)n * d->max_ratio))
        return false;
    struct whole_tls *tls = whole_tls_get();
    if (!tls) return false;
    struct libdeflate_decompressor *ld = tls->ld;
    size_t need = isize ? (size_t)isize : 1;
    uint8_t *out = tls->out;
    if (need > tls->out_cap && need <= WHOLE_KEEP) {
        size_t cap = tls->out_cap ? tls->out_cap : 65536;
        while (cap < need) cap *= 2;
        uint8_t *grown = realloc(tls->out, cap);
        if (grown) {
            tls->out = out = grown;
            tls->out_cap = cap;
        }
    }
    if (need > tls->out_cap) out = malloc(need); /* past WHOLE_KEEP, or no memory */
    size_t used = 0, got = 0;
    bool ok = out &&
              libdeflate_gzip_decompress_ex(ld, d->hold, n, out, (size_t)isize, &used, &got) ==
                  LIBDEFLATE_SUCCESS &&
              used == n && got == isize;
    if (ok) {
        d->in_total = n;
        for (size_t off = 0; off < got && d->status == DECOMP_OK; off += DECOMP_OUT_CHUNK)
            emit(d, out + off, got - off < DECOMP_OUT_CHUNK ? got - off : DECOMP_OUT_CHUNK);
        d->layers[0].member_end = true;
        d->retain_ok = false;
    }
    if (out != tls->out) free(out);
    return ok;
}

enum decomp_status decomp_feed(struct decomp *d, const uint8_t *in, size_t len)
{
    if (d && d->holding && len) {
        if (hold_append(d, in, len)) return d->status;
        release(d); /* too much to hold: stream from here on */
    }
    return feed_stream(d, in, len);
}

bool decomp_was_whole(const struct decomp *d)
{
    return d && d->was_whole;
}

enum decomp_status decomp_finish(struct decomp *d)
{
    if (!d) return DECOMP_FAILED;
    if (d->holding) {
        if (whole(d)) {
            d->was_whole = true;
            hold_drop(d);
        } else {
            release(d);
        }
    }
    return d->status;
}

void decomp_abandon(struct decomp *d)
{
    if (d && d->holding) release(d);
    if (d && d->status == DECOMP_OK) {
        d->status = DECOMP_FAILED;
        d->retain_ok = false;
    }
}

enum decomp_status decomp_get_status(const struct decomp *d)
{
    return d ? d->status : DECOMP_FAILED;
}

void decomp_free(struct decomp *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n; i++)
        if (d->layers[i].inited) inflateEnd(&d->layers[i].zs);
    free(d->hold);
    free(d->piece_end);
    free(d);
}
