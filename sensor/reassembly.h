/* reassembly.h - TCP stream reassembly, one struct reasm_stream per direction.
 *
 * Segments enter by reasm_segment() in capture order. In-order bytes are
 * delivered at once to the consumer (struct reasm_sink) without copying;
 * only out-of-order data is held, within a per-stream cap and a global cap
 * shared by all streams of a struct reasm_ctx. What cannot be delivered in
 * order (a lost segment, a cap reached, a midstream start) is delivered as an
 * explicit gap of known length, so the consumer can resynchronise. A stream
 * picked up midstream starts at offset 0 with no gap (its missing start has
 * no known length); reasm_stream.midstream says so.
 *
 * Policy: first data wins. A byte already delivered or held is never
 * replaced; a later copy that differs is counted (overlap_diff). Data after
 * FIN or RST is ignored; a RST counts only when its seq is plausible
 * (docs/reassembly.md). Sequence numbers compare modulo 2^32. */
#ifndef LH_REASSEMBLY_H
#define LH_REASSEMBLY_H

#include <stddef.h>
#include <stdint.h>

/* What the consumer gets, in stream order. */
struct reasm_sink {
    /* len bytes at stream offset off (bytes since the start of the stream,
     * counting gaps). data is valid only during the call. */
    void (*data)(void *ud, uint64_t off, const uint8_t *data, size_t len);
    /* len bytes at off are missing and will never come. */
    void (*gap)(void *ud, uint64_t off, uint64_t len);
    /* the stream ended (FIN, RST, flow end); no more calls follow. */
    void (*end)(void *ud);
    void *ud;
};

struct reasm_config {
    uint64_t memcap;            /* bytes of out-of-order data held, all streams */
    uint32_t stream_cap;        /* bytes of out-of-order data held, one stream */
    uint32_t max_segments;      /* out-of-order segments held, one stream */
};

/* Defaults: 64 MiB global, 1 MiB and 1024 segments per stream. */
void reasm_config_default(struct reasm_config *cfg);

struct reasm_stats {
    uint64_t segments;       /* data segments seen */
    uint64_t bytes_delivered;
    uint64_t retransmits;    /* segments wholly before the delivered edge */
    uint64_t overlaps;       /* segments partly overlapping known data */
    uint64_t overlap_diff;   /* overlaps whose bytes differed (first data kept) */
    uint64_t out_of_order;   /* segments held for later */
    uint64_t gaps;           /* gaps delivered */
    uint64_t gap_bytes;
    uint64_t stream_cap_hit; /* per-stream cap forced a gap */
    uint64_t memcap_hit;     /* global cap forced a gap */
    uint64_t midstream;      /* streams picked up without a SYN */
    uint64_t after_close;    /* segments after FIN/RST ignored */
    uint64_t memuse, memuse_peak;
    uint64_t out_of_window;  /* ignored: data > 2^30 (max window) ahead, FIN behind data
                              * or before the stream started */
    uint64_t rst_ignored;    /* RSTs not believed: before the stream started or carried
                              * data, or seq outside [next_seq, highest seq seen] */
};

struct reasm_ctx; /* one per worker: config, global memory accounting, stats */

struct reasm_ctx *reasm_ctx_new(const struct reasm_config *cfg); /* NULL on ENOMEM */
void reasm_ctx_free(struct reasm_ctx *c);                       /* accepts NULL */
const struct reasm_stats *reasm_ctx_stats(const struct reasm_ctx *c);

/* One direction of a TCP connection. Embedded in the caller's flow state;
 * zero-initialise, then reasm_stream_init. */
struct reasm_seg;
struct reasm_stream {
    struct reasm_sink sink;
    uint32_t isn;         /* initial sequence number (of SYN, or of first data) */
    uint32_t next_seq;    /* next sequence number to deliver */
    uint64_t base_off;    /* stream offset of next_seq */
    uint8_t started;      /* isn known */
    uint8_t closed;       /* FIN or RST seen: no more data */
    uint8_t ended;        /* sink.end called */
    uint8_t fin_pending;  /* FIN seen ahead of missing data */
    uint32_t fin_seq;
    struct reasm_seg *ooo; /* held out-of-order segments, sorted by seq */
    uint32_t ooo_bytes, ooo_count;
    struct reasm_seg *ooo_tail; /* last held segment: appends are O(1) */
    uint64_t fin_off;     /* stream offset of the FIN, valid while fin_pending */
    uint8_t midstream;    /* picked up without a SYN: offset 0 is not the stream's start */
};

void reasm_stream_init(struct reasm_stream *s, const struct reasm_sink *sink);

/* Feeds one TCP segment of this direction: its seq, flags (TCP_* bits of
 * packet.h) and payload. Calls the sink zero or more times. Can't fail:
 * caps turn into gaps, counted in the context's stats. */
void reasm_segment(struct reasm_ctx *c, struct reasm_stream *s, uint32_t seq, uint8_t flags,
                   const uint8_t *data, size_t len);

/* Flow end: delivers what is held (with gaps for holes), calls sink.end, and
 * frees held data. Safe to call twice. */
void reasm_stream_close(struct reasm_ctx *c, struct reasm_stream *s);

#endif
