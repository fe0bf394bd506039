/* sensor/reassembly: TCP segments in capture order in, one ordered byte stream
 * per direction out (data and explicit gaps, then end, to a struct reasm_sink).
 *
 * Positions are 64-bit stream offsets: a segment's seq is turned into an
 * offset once, relative to next_seq (modulo 2^32), and everything after that
 * compares plain integers, so sequence wrap-around needs no special case.
 *
 * Invariants between calls:
 *  - held segments are sorted, never overlap, and all start after base_off
 *    (anything that became contiguous has been delivered and freed);
 *  - held bytes are the first copy seen: a later segment only fills holes;
 *  - with a FIN pending nothing is held at or after fin_off;
 *  - the context's memuse is the sum over held segments of len + overhead.
 * In-order data goes to the sink straight from the caller's buffer; only
 * data that must wait for a hole is copied (one malloc per held piece). */
#include "sensor/reassembly.h"
#include "sensor/packet.h"

#include <stdlib.h>
#include <string.h>

/* RFC 7323: a window never exceeds 2^30 bytes, so data further ahead than
 * that cannot be in this connection's window; holding it would only let one
 * forged seq turn the rest of the stream into a gap. */
#define REASM_MAX_AHEAD (1u << 30)

struct reasm_seg {
    struct reasm_seg *next, *prev;
    uint64_t off; /* stream offset of data[0] */
    uint32_t len;
    uint8_t data[];
};

#define SEG_COST(len) ((uint64_t)(len) + sizeof(struct reasm_seg))

struct reasm_ctx {
    struct reasm_config cfg;
    struct reasm_stats st;
};

enum cap_kind { CAP_FITS = 0, CAP_STREAM, CAP_MEM };

void reasm_config_default(struct reasm_config *cfg)
{
    cfg->memcap = 64ull << 20;
    cfg->stream_cap = 1u << 20;
    cfg->max_segments = 1024;
}

struct reasm_ctx *reasm_ctx_new(const struct reasm_config *cfg)
{
    struct reasm_ctx *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    if (cfg)
        c->cfg = *cfg;
    else
        reasm_config_default(&c->cfg);
    return c;
}

void reasm_ctx_free(struct reasm_ctx *c)
{
    free(c);
}

const struct reasm_stats *reasm_ctx_stats(const struct reasm_ctx *c)
{
    return &c->st;
}

void reasm_stream_init(struct reasm_stream *s, const struct reasm_sink *sink)
{
    memset(s, 0, sizeof(*s));
    if (sink) s->sink = *sink;
}

/* ---- delivery -------------------------------------------------------------- */

static void deliver_data(struct reasm_ctx *c, struct reasm_stream *s, const uint8_t *p, uint64_t n)
{
    if (n == 0) return;
    if (s->sink.data) s->sink.data(s->sink.ud, s->base_off, p, (size_t)n);
    s->base_off += n;
    s->next_seq += (uint32_t)n;
    c->st.bytes_delivered += n;
}

static void deliver_gap(struct reasm_ctx *c, struct reasm_stream *s, uint64_t n)
{
    if (n == 0) return;
    if (s->sink.gap) s->sink.gap(s->sink.ud, s->base_off, n);
    s->base_off += n;
    s->next_seq += (uint32_t)n;
    c->st.gaps++;
    c->st.gap_bytes += n;
}

static void seg_unlink_free(struct reasm_ctx *c, struct reasm_stream *s, struct reasm_seg *g)
{
    if (g->prev)
        g->prev->next = g->next;
    else
        s->ooo = g->next;
    if (g->next)
        g->next->prev = g->prev;
    else
        s->ooo_tail = g->prev;
    s->ooo_bytes -= g->len;
    s->ooo_count--;
    c->st.memuse -= SEG_COST(g->len);
    free(g);
}

/* Delivers held segments that have become contiguous with base_off. */
static void drain(struct reasm_ctx *c, struct reasm_stream *s)
{
    struct reasm_seg *g;
    while ((g = s->ooo) && g->off <= s->base_off) {
        uint64_t skip = s->base_off - g->off; /* 0 by the invariants; be safe */
        if (skip < g->len) deliver_data(c, s, g->data + skip, g->len - skip);
        seg_unlink_free(c, s, g);
    }
}

/* Everything held is delivered, holes as gaps; a pending FIN makes the tail
 * between the last byte seen and the FIN a gap of known length too. */
static void flush_all(struct reasm_ctx *c, struct reasm_stream *s)
{
    while (s->ooo) {
        if (s->ooo->off > s->base_off) deliver_gap(c, s, s->ooo->off - s->base_off);
        drain(c, s);
    }
    if (s->fin_pending && s->fin_off > s->base_off) deliver_gap(c, s, s->fin_off - s->base_off);
}

static void finish(struct reasm_ctx *c, struct reasm_stream *s)
{
    s->closed = 1;
    s->fin_pending = 0;
    while (s->ooo) /* only reachable on a bug; never leak */
        seg_unlink_free(c, s, s->ooo);
    if (!s->ended) {
        s->ended = 1;
        if (s->sink.end) s->sink.end(s->sink.ud);
    }
}

static void maybe_finish(struct reasm_ctx *c, struct reasm_stream *s)
{
    if (s->fin_pending && s->base_off >= s->fin_off) finish(c, s);
}

/* ---- holding --------------------------------------------------------------- */

static enum cap_kind cap_check(const struct reasm_ctx *c, const struct reasm_stream *s, uint64_t n)
{
    if ((uint64_t)s->ooo_bytes + n > c->cfg.stream_cap || s->ooo_count >= c->cfg.max_segments)
        return CAP_STREAM;
    if (c->st.memuse + SEG_COST(n) > c->cfg.memcap) return CAP_MEM;
    return CAP_FITS;
}

/* One step of forced progress: a gap up to the first thing we know of (the
 * first held segment or the piece at pos), then whatever is contiguous. */
static void force_step(struct reasm_ctx *c, struct reasm_stream *s, uint64_t pos)
{
    uint64_t first = pos;
    if (s->ooo && s->ooo->off < first) first = s->ooo->off;
    deliver_gap(c, s, first - s->base_off);
    drain(c, s);
}

/* Holds [pos, pos+n) before `next` (NULL: at the tail). pos > base_off, and
 * the range lies in a hole of the held list. Returns 1 if held; 0 if a cap
 * made us skip ahead to pos instead (base_off == pos: deliver directly). A
 * forced step only frees segments before pos, so `next` stays valid. */
static int hold_piece(struct reasm_ctx *c, struct reasm_stream *s, uint64_t pos, const uint8_t *p,
                      uint32_t n, struct reasm_seg *next)
{
    enum cap_kind why;
    while ((why = cap_check(c, s, n)) != CAP_FITS) {
        if (why == CAP_STREAM)
            c->st.stream_cap_hit++;
        else
            c->st.memcap_hit++;
        force_step(c, s, pos);
        if (s->base_off >= pos) return 0;
    }
    struct reasm_seg *g = malloc(sizeof(*g) + n);
    if (!g) {
        /* out of memory is a memcap we did not configure */
        while (s->base_off < pos) {
            c->st.memcap_hit++;
            force_step(c, s, pos);
        }
        return 0;
    }
    g->off = pos;
    g->len = n;
    memcpy(g->data, p, n);
    g->next = next;
    g->prev = next ? next->prev : s->ooo_tail;
    if (g->prev)
        g->prev->next = g;
    else
        s->ooo = g;
    if (next)
        next->prev = g;
    else
        s->ooo_tail = g;
    s->ooo_bytes += n;
    s->ooo_count++;
    c->st.memuse += SEG_COST(n);
    if (c->st.memuse > c->st.memuse_peak) c->st.memuse_peak = c->st.memuse;
    return 1;
}

/* First held segment ending after pos, or NULL. Appends (the tail ends at or
 * before pos) and prepends (the head already ends after pos: reverse order)
 * are O(1); otherwise walk back from the tail, since reordering is usually
 * near the front of the window. Bounded by max_segments. */
static struct reasm_seg *find_from(const struct reasm_stream *s, uint64_t pos)
{
    struct reasm_seg *g = s->ooo_tail;
    if (!g || g->off + g->len <= pos) return NULL;
    if (s->ooo->off + s->ooo->len > pos) return s->ooo;
    while (g->prev && g->prev->off + g->prev->len > pos)
        g = g->prev;
    return g;
}

/* ---- segments -------------------------------------------------------------- */

/* Data at offsets [start, start+len), start >= base_off: delivered where it
 * continues the stream, held where it fills a later hole, dropped where a
 * held copy exists already (first data wins). */
static void add_data(struct reasm_ctx *c, struct reasm_stream *s, uint64_t start,
                     const uint8_t *data, uint64_t len, int overlap)
{
    uint64_t end = start + len;
    struct reasm_seg *cur = find_from(s, start);
    int diff = 0, held = 0;

    /* compare before anything moves: delivery frees what we compare with */
    for (struct reasm_seg *g = cur; g && g->off < end; g = g->next) {
        uint64_t a = g->off > start ? g->off : start;
        uint64_t b = g->off + g->len < end ? g->off + g->len : end;
        overlap = 1;
        if (memcmp(data + (a - start), g->data + (a - g->off), b - a) != 0) diff = 1;
    }

    uint64_t pos = start;
    while (pos < end) {
        if (pos < s->base_off) { /* bytes a drain just delivered from held */
            pos = s->base_off < end ? s->base_off : end;
            continue;
        }
        if (pos == s->base_off) {
            uint64_t pe = s->ooo && s->ooo->off < end ? s->ooo->off : end;
            deliver_data(c, s, data + (pos - start), pe - pos);
            pos = pe;
            drain(c, s);
            cur = s->ooo;
            continue;
        }
        while (cur && cur->off + cur->len <= pos)
            cur = cur->next;
        if (cur && cur->off <= pos) { /* held already: first copy stays */
            pos = cur->off + cur->len;
            continue;
        }
        uint64_t pe = cur && cur->off < end ? cur->off : end;
        if (hold_piece(c, s, pos, data + (pos - start), (uint32_t)(pe - pos), cur)) {
            held = 1;
            pos = pe;
        } else {
            cur = s->ooo;
        }
    }
    if (overlap) c->st.overlaps++;
    if (diff) c->st.overlap_diff++;
    if (held) c->st.out_of_order++;
}

/* FIN at sequence fin_seq (the seq after the segment's data). The first FIN
 * wins; held data beyond it can never be delivered and is dropped now. */
static void record_fin(struct reasm_ctx *c, struct reasm_stream *s, uint32_t fin_seq)
{
    if (s->fin_pending) return;
    int32_t rel = (int32_t)(fin_seq - s->next_seq);
    /* a FIN behind delivered data contradicts what we delivered: believing it
     * would let one forged packet end the stream while the connection goes on */
    if (rel > (int32_t)REASM_MAX_AHEAD || rel < 0) {
        c->st.out_of_window++;
        return;
    }
    s->fin_seq = fin_seq;
    s->fin_off = s->base_off + (uint64_t)rel;
    s->fin_pending = 1;
    struct reasm_seg *g;
    while ((g = s->ooo_tail) && g->off >= s->fin_off) {
        c->st.after_close++;
        seg_unlink_free(c, s, g);
    }
    if (g && g->off + g->len > s->fin_off) {
        uint32_t cut = (uint32_t)(g->off + g->len - s->fin_off);
        c->st.after_close++;
        g->len -= cut;
        s->ooo_bytes -= cut;
        c->st.memuse -= cut;
    }
}

/* Whether a RST at seq may end the stream. RFC 5961 3.2: a receiver resets
 * only on seq == RCV.NXT, our next_seq. Our next_seq can lag the
 * receiver's when we missed a segment, so a RST up to the highest sequence
 * number this direction has been seen to use (the end of held data, or its
 * FIN + 1) is believed too; nothing further ahead, since a forged RST a few
 * bytes ahead would draw a challenge ACK from the receiver but would blind us.
 * Not believed at all: a RST before the stream started (no ISN to compare
 * with: the RST+ACK answering a SYN, or one forged ahead of the handshake)
 * and a RST before the stream carried any data: ending such a stream frees
 * nothing and only makes us deaf, and stacks are seen to accept data after
 * one (suricata-verify bug-3286-02, security-4710-01). A connection that
 * really was reset sends nothing more; a new one starts with a SYN, which
 * replaces the ISN while no data has been seen. */
static int rst_plausible(const struct reasm_stream *s, uint32_t seq)
{
    if (!s->started) return 0;
    if (!s->midstream && s->base_off == 0 && !s->ooo && !s->fin_pending) return 0;
    int64_t rel = (int32_t)(seq - s->next_seq);
    if (rel == 0) return 1;
    if (rel < 0) return 0;
    uint64_t high = s->base_off;
    if (s->ooo_tail) high = s->ooo_tail->off + s->ooo_tail->len;
    if (s->fin_pending && s->fin_off + 1 > high) high = s->fin_off + 1;
    return s->base_off + (uint64_t)rel <= high;
}

void reasm_segment(struct reasm_ctx *c, struct reasm_stream *s, uint32_t seq, uint8_t flags,
                   const uint8_t *data, size_t len)
{
    if (len > REASM_MAX_AHEAD)
        len = REASM_MAX_AHEAD; /* no packet is this big; keeps lengths in 32 bits */
    if (len) c->st.segments++;
    if (s->closed) {
        if (len) c->st.after_close++;
        return;
    }
    if (flags & TCP_SYN) {
        /* the latest SYN counts while no data has been seen: a retransmitted
         * SYN may carry a new ISN (e.g. after the first was refused) */
        if (!s->started || (!s->midstream && s->base_off == 0 && !s->ooo &&
                            s->next_seq == s->isn + 1 && !s->fin_pending)) {
            s->isn = seq;
            s->next_seq = seq + 1;
            s->started = 1;
        }
        seq++; /* the SYN occupies one sequence number; data follows it */
    }
    if (flags & TCP_RST) {
        /* RST payload is diagnostic text, not stream data (RFC 9293 3.5.3) */
        if (!rst_plausible(s, seq)) {
            c->st.rst_ignored++;
            return;
        }
        flush_all(c, s);
        finish(c, s);
        return;
    }
    if (!s->started) {
        if (!len) {
            /* a bare ACK says nothing about where data starts; nor does a
             * bare FIN: starting at it would end the stream before its
             * SYN-ACK (suricata-verify bug-3286: FIN, then the handshake) */
            if (flags & TCP_FIN) c->st.out_of_window++;
            return;
        }
        s->isn = seq;
        s->next_seq = seq;
        s->started = 1;
        if (len) {
            s->midstream = 1;
            c->st.midstream++;
        }
    }
    /* the FIN first, so this segment's own data is already bounded by it and
     * held data beyond it is dropped before a drain could deliver it */
    if (flags & TCP_FIN) record_fin(c, s, seq + (uint32_t)len);
    if (len) {
        int32_t rel = (int32_t)(seq - s->next_seq);
        int64_t start = (int64_t)s->base_off + rel;
        int64_t end = start + (int64_t)len;
        if (rel > (int32_t)REASM_MAX_AHEAD) {
            c->st.out_of_window++;
        } else if (end <= (int64_t)s->base_off) {
            c->st.retransmits++;
        } else {
            int overlap = 0;
            if (start < (int64_t)s->base_off) {
                data += (uint64_t)((int64_t)s->base_off - start);
                start = (int64_t)s->base_off;
                overlap = 1;
            }
            if (s->fin_pending && (uint64_t)end > s->fin_off) {
                c->st.after_close++;
                end = (int64_t)s->fin_off;
            }
            if (end > start)
                add_data(c, s, (uint64_t)start, data, (uint64_t)(end - start), overlap);
        }
    }
    maybe_finish(c, s);
}

void reasm_stream_close(struct reasm_ctx *c, struct reasm_stream *s)
{
    if (!s->ended) flush_all(c, s);
    finish(c, s);
}
