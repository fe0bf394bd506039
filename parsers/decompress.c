/* decompress.c - streaming decoding of HTTP bodies: gzip, deflate (RFC 9110
 * 8.4.1, RFC 1950 zlib, RFC 1951 deflate, RFC 1952 gzip), br (RFC 7932,
 * libbrotli) and zstd (RFC 8878, libzstd).
 *
 * Owns one decoder (a zlib inflate stream, a Brotli decoder or a zstd
 * decompression context) and one fixed output buffer per coding layer.
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
 * per thread, made at its first whole body and freed when it ends.
 *
 * Brotli and zstd keep a window of up to 16 and 8 MiB (zstd's is capped at
 * 8 MiB, as RFC 8878 asks of HTTP; a frame asking for more fails). What
 * they hold is charged to a budget the caller may share between decoders
 * (decomp_set_budget): Brotli allocates through this module, which refuses
 * past the cap; zstd's context is measured after each call and let go when
 * it passes the cap. Either way the body is then delivered raw, counted. */
#define ZLIB_CONST
#include "parsers/decompress.h"

#include <brotli/decode.h>
#include <libdeflate.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

struct layer {
    z_stream zs;                /* gzip, deflate */
    BrotliDecoderState *br;     /* br */
    ZSTD_DCtx *zd;              /* zstd */
    uint64_t zd_charged;        /* zstd: the context's size as last charged */
    uint8_t coding;
    bool inited;     /* decoder made (deflate waits for 2 bytes to pick zlib or raw) */
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
    /* what Brotli and zstd decoders hold, shared with the caller's others */
    uint64_t *mem_used, mem_cap, *mem_refused;
    bool mem_hit; /* a decoder was refused memory: its failure counts in *mem_refused */
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

/* The layer's decoder failed: raw pass-through from here (feed_stream). */
static void fail(struct decomp *d)
{
    if (d->status != DECOMP_OK) return;
    d->status = DECOMP_FAILED;
    if (d->mem_hit && d->mem_refused) (*d->mem_refused)++;
}

/* ---- Brotli's and zstd's memory, charged to the budget -------------------- */

#define BR_HDR 16 /* the size, ahead of each block; keeps malloc's alignment */

static void *br_alloc(void *opaque, size_t size)
{
    struct decomp *d = opaque;
    if (d->mem_used && d->mem_cap &&
        (*d->mem_used > d->mem_cap || size > d->mem_cap - *d->mem_used)) {
        d->mem_hit = true;
        return NULL;
    }
    uint8_t *p = size <= SIZE_MAX - BR_HDR ? malloc(size + BR_HDR) : NULL;
    if (!p) return NULL;
    memcpy(p, &size, sizeof(size));
    if (d->mem_used) *d->mem_used += size;
    return p + BR_HDR;
}

static void br_free(void *opaque, void *addr)
{
    if (!addr) return;
    struct decomp *d = opaque;
    uint8_t *p = (uint8_t *)addr - BR_HDR;
    size_t size;
    memcpy(&size, p, sizeof(size));
    if (d->mem_used) *d->mem_used -= size;
    free(p);
}

/* Charges what the zstd context has grown (or shrunk) by since the last
 * call. False when the budget is now past its cap. */
static bool zd_charge(struct decomp *d, struct layer *L)
{
    uint64_t now = ZSTD_sizeof_DCtx(L->zd);
    if (d->mem_used) *d->mem_used = *d->mem_used - L->zd_charged + now;
    L->zd_charged = now;
    return !(d->mem_used && d->mem_cap && *d->mem_used > d->mem_cap);
}

static void zd_drop(struct decomp *d, struct layer *L)
{
    if (!L->zd) return;
    ZSTD_freeDCtx(L->zd);
    L->zd = NULL;
    if (d->mem_used) *d->mem_used -= L->zd_charged;
    L->zd_charged = 0;
}

/* The zstd layer cannot go on (an error, or past the budget when over):
 * its window is let go now, and the body goes on raw. */
static void zd_fail(struct decomp *d, struct layer *L, bool over)
{
    d->mem_hit |= over;
    zd_drop(d, L);
    fail(d);
}

/* ---- the layers' decoders --------------------------------------------------- */

static bool layer_init(struct decomp *d, struct layer *L, uint8_t b0, uint8_t b1)
{
    if (L->coding == DECOMP_BR) {
        if (!(L->br = BrotliDecoderCreateInstance(br_alloc, br_free, d))) {
            fail(d);
            return false;
        }
        L->inited = true;
        return true;
    }
    if (L->coding == DECOMP_ZSTD) {
        L->inited = true;
        if (!(L->zd = ZSTD_createDCtx()) ||
            ZSTD_isError(ZSTD_DCtx_setParameter(L->zd, ZSTD_d_windowLogMax, DECOMP_ZSTD_WLOG))) {
            zd_fail(d, L, false);
            return false;
        }
        if (!zd_charge(d, L)) {
            zd_fail(d, L, true);
            return false;
        }
        return true;
    }
    int wbits = L->coding == DECOMP_GZIP ? 16 + MAX_WBITS
                : looks_zlib(b0, b1)     ? MAX_WBITS
                                         : -MAX_WBITS;
    memset(&L->zs, 0, sizeof(L->zs));
    if (inflateInit2(&L->zs, wbits) != Z_OK) {
        fail(d);
        return false;
    }
    /* The trailer's CRC-32 / Adler-32 is not computed: every byte was
     * scanned as it was inflated, so a wrong check value would change nothing
     * but this counter, and the CRC was ~2 % of the sensor's CPU. A
     * corrupt stream still fails in inflate's own decoding. */
    if (inflateValidate(&L->zs, 0) != Z_OK) {
        inflateEnd(&L->zs);
        fail(d);
        return false;
    }
    L->inited = true;
    return true;
}

/* Layer li took used wire (or upper layer) bytes, up to next_in. */
static void took(struct decomp *d, size_t li, size_t used, const uint8_t *next_in, bool is_cur)
{
    if (li != 0) return;
    d->in_total += used;
    if (is_cur) d->cur_used = (size_t)(next_in - d->cur);
}

/* Layer li produced n bytes into its buffer: on to the next layer, or out. */
static void produced(struct decomp *d, size_t li, size_t n)
{
    if (!n) return;
    if (li + 1 < d->n)
        push(d, li + 1, d->layers[li].out, n, false);
    else
        emit(d, d->layers[li].out, n);
}

/* Inflates what it can of in; returns the bytes consumed. Stops early at the
 * end of a stream or member, or when the decoder stopped. */
static size_t run_zlib(struct decomp *d, size_t li, const uint8_t *in, size_t len, bool is_cur)
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
        took(d, li, before - L->zs.avail_in, L->zs.next_in, is_cur);
        produced(d, li, DECOMP_OUT_CHUNK - L->zs.avail_out);
        if (d->status != DECOMP_OK) break;
        if (ret == Z_STREAM_END) {
            if (L->coding == DECOMP_GZIP)
                L->member_end = true;
            else
                L->finished = true;
            break;
        }
        if (ret != Z_OK && ret != Z_BUF_ERROR) {
            fail(d);
            break;
        }
        /* Z_BUF_ERROR: no progress possible. A full output buffer may hide
         * more pending output, so only a partly filled one means "done". */
        if (ret == Z_BUF_ERROR || (L->zs.avail_in == 0 && L->zs.avail_out != 0)) break;
    }
    return avail - L->zs.avail_in;
}

/* The same for a Brotli stream: it ends once, and bytes after it are
 * ignored, as after a gzip member. */
static size_t run_br(struct decomp *d, size_t li, const uint8_t *in, size_t len, bool is_cur)
{
    struct layer *L = &d->layers[li];
    const uint8_t *next_in = in;
    size_t avail_in = len;
    for (;;) {
        size_t before = avail_in, avail_out = DECOMP_OUT_CHUNK;
        uint8_t *next_out = L->out;
        BrotliDecoderResult r =
            BrotliDecoderDecompressStream(L->br, &avail_in, &next_in, &avail_out, &next_out, NULL);
        took(d, li, before - avail_in, next_in, is_cur);
        produced(d, li, DECOMP_OUT_CHUNK - avail_out);
        if (d->status != DECOMP_OK) break;
        if (r == BROTLI_DECODER_RESULT_SUCCESS) {
            L->finished = true;
            break;
        }
        if (r == BROTLI_DECODER_RESULT_ERROR) {
            fail(d);
            break;
        }
        if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) break; /* it took all of in */
    }
    return len - avail_in;
}

/* The same for zstd: frames may follow one another (libzstd goes on to the
 * next by itself); anything else after a frame is an error. */
static size_t run_zstd(struct decomp *d, size_t li, const uint8_t *in, size_t len, bool is_cur)
{
    struct layer *L = &d->layers[li];
    ZSTD_inBuffer zin = {in, len, 0};
    for (;;) {
        size_t before = zin.pos;
        ZSTD_outBuffer zout = {L->out, DECOMP_OUT_CHUNK, 0};
        size_t r = ZSTD_decompressStream(L->zd, &zout, &zin);
        took(d, li, zin.pos - before, in + zin.pos, is_cur);
        bool fits = zd_charge(d, L);
        produced(d, li, zout.pos);
        if (d->status != DECOMP_OK) break;
        if (ZSTD_isError(r) || !fits) {
            zd_fail(d, L, !fits);
            break;
        }
        /* a full output buffer may hide more; otherwise done with this input */
        if (zout.pos < zout.size && zin.pos == zin.size) break;
    }
    return zin.pos;
}

static size_t run(struct decomp *d, size_t li, const uint8_t *in, size_t len, bool is_cur)
{
    switch (d->layers[li].coding) {
    case DECOMP_BR: return run_br(d, li, in, len, is_cur);
    case DECOMP_ZSTD: return run_zstd(d, li, in, len, is_cur);
    default: return run_zlib(d, li, in, len, is_cur);
    }
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
        if (codings[i] < DECOMP_GZIP || codings[i] > DECOMP_ZSTD) return NULL;
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

int decomp_set_budget(struct decomp *d, uint64_t *used, uint64_t cap, uint64_t *refused)
{
    if (!d || d->in_total || d->holding) return -1;
    for (size_t i = 0; i < d->n; i++)
        if (d->layers[i].inited) return -1;
    d->mem_used = used;
    d->mem_cap = used ? cap : 0;
    d->mem_refused = refused;
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

/* The decoders' state, windows and all: freed when the body can no longer
 * be decoded, so a hole does not keep a Brotli or zstd window to the end. */
static void layers_free(struct decomp *d)
{
    for (size_t i = 0; i < d->n; i++) {
        struct layer *L = &d->layers[i];
        if (!L->inited) continue;
        if (L->coding == DECOMP_BR)
            BrotliDecoderDestroyInstance(L->br);
        else if (L->coding == DECOMP_ZSTD)
            zd_drop(d, L);
        else
            inflateEnd(&L->zs);
        L->br = NULL;
        L->inited = false;
    }
}

void decomp_abandon(struct decomp *d)
{
    if (d && d->holding) release(d);
    if (d && d->status == DECOMP_OK) {
        d->status = DECOMP_FAILED;
        d->retain_ok = false;
    }
    if (d) layers_free(d);
}

enum decomp_status decomp_get_status(const struct decomp *d)
{
    return d ? d->status : DECOMP_FAILED;
}

void decomp_free(struct decomp *d)
{
    if (!d) return;
    layers_free(d);
    free(d->hold);
    free(d->piece_end);
    free(d);
}
