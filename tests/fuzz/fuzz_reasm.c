/* fuzz_reasm.c - the TCP reassembler driven by a byte-coded sequence of segments.
 *
 * Input: records, each
 *   [op:1] bit 0 = which stream (two streams share one context);
 *          bit 1 = close that stream instead (reasm_stream_close), no more bytes;
 *   [flags:1] TCP flag bits; [seq:3] big-endian offset added to the stream's
 *   base sequence number (stream 0's base wraps 2^32 within reach);
 *   [len:1] then len payload bytes (cut at the end of the input).
 * The context has small caps (memory, per-stream bytes and segments) so that
 * caps turn into gaps often.
 *
 * The sink aborts on any broken promise of sensor/reassembly.h: data and
 * gaps arrive at contiguous offsets, no zero-length calls, nothing after
 * end, end exactly once after close; every delivered byte is a byte some
 * segment carried at that stream offset; the context's counters agree with
 * what the sink saw; memory stays within the cap and is all released once
 * both streams are closed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/packet.h"
#include "sensor/reassembly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEMCAP 4096
#define MAX_SEGS 512

struct seen {
    uint32_t seq;
    uint8_t flags;
    const uint8_t *bytes;
    size_t len;
};

struct side {
    const struct reasm_stream *stream;
    uint64_t expect; /* next offset the sink must see */
    uint64_t data_bytes, gap_bytes, gaps;
    int ended;
    struct seen seg[MAX_SEGS];
    size_t n_seg;
    int model_ok; /* 0 once a segment could not be recorded: skip the content check */
};

/* Stream offset of this segment's first payload byte, now that the stream's
 * start is known (negative: it starts before offset 0); INT64_MIN when the
 * start is not known yet. */
static int64_t seg_offset(const struct reasm_stream *s, uint32_t seq, uint8_t flags)
{
    if (!s->started)
        return INT64_MIN;
    uint32_t first = seq + ((flags & TCP_SYN) ? 1u : 0u);
    uint32_t zero = s->isn + (s->midstream ? 0u : 1u);
    return (int64_t)(int32_t)(first - zero);
}

/* Did some segment carry byte b at offset off? */
static int byte_seen(const struct side *sd, uint64_t off, uint8_t b)
{
    for (size_t i = 0; i < sd->n_seg; i++) {
        const struct seen *s = &sd->seg[i];
        int64_t so = seg_offset(sd->stream, s->seq, s->flags);
        if (so == INT64_MIN)
            continue;
        int64_t idx = (int64_t)off - so;
        if (idx >= 0 && (uint64_t)idx < s->len && s->bytes[idx] == b)
            return 1;
    }
    return 0;
}

static void on_data(void *ud, uint64_t off, const uint8_t *d, size_t len)
{
    struct side *sd = ud;
    if (sd->ended || len == 0 || off != sd->expect)
        abort();
    for (size_t i = 0; i < len; i++)
        if (sd->model_ok && !byte_seen(sd, off + i, d[i]))
            abort();
    sd->expect += len;
    sd->data_bytes += len;
}

static void on_gap(void *ud, uint64_t off, uint64_t len)
{
    struct side *sd = ud;
    if (sd->ended || len == 0 || off != sd->expect)
        abort();
    sd->expect += len;
    sd->gap_bytes += len;
    sd->gaps++;
}

static void on_end(void *ud)
{
    struct side *sd = ud;
    if (sd->ended)
        abort();
    sd->ended = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct side sides[2]; /* large: not on the stack */
    struct reasm_config cfg = {.memcap = MEMCAP, .stream_cap = 2048, .max_segments = 6};
    struct reasm_ctx *c = reasm_ctx_new(&cfg);
    if (!c)
        return 0;
    struct reasm_stream st[2];
    const uint32_t base[2] = {0xffff0000u, 0x12345678u};
    for (int i = 0; i < 2; i++) {
        memset(&sides[i], 0, sizeof(sides[i]));
        sides[i].model_ok = 1;
        sides[i].stream = &st[i];
        struct reasm_sink sink = {on_data, on_gap, on_end, &sides[i]};
        reasm_stream_init(&st[i], &sink);
    }

    size_t off = 0;
    while (off < size) {
        uint8_t op = data[off++];
        int k = op & 1;
        if (op & 2) {
            reasm_stream_close(c, &st[k]);
            if (!sides[k].ended)
                abort();
            continue;
        }
        if (size - off < 5)
            break;
        uint8_t flags = data[off];
        uint32_t seq = base[k] + ((uint32_t)data[off + 1] << 16 | (uint32_t)data[off + 2] << 8 |
                                  data[off + 3]);
        size_t len = data[off + 4];
        off += 5;
        if (len > size - off)
            len = size - off;
        const uint8_t *payload = data + off;
        off += len;

        /* remember what this segment carries before the call: the sink
         * checks every delivered byte against the segments seen so far */
        struct side *sd = &sides[k];
        if (len) {
            if (sd->n_seg < MAX_SEGS)
                sd->seg[sd->n_seg++] = (struct seen){seq, flags, payload, len};
            else
                sd->model_ok = 0;
        }
        /* exact-size copy: a read past len is an ASan report */
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy)
            break;
        memcpy(copy, payload, len);
        reasm_segment(c, &st[k], seq, flags, copy, len);
        free(copy);

        const struct reasm_stats *rs = reasm_ctx_stats(c);
        if (rs->memuse > MEMCAP)
            abort();
    }
    for (int i = 0; i < 2; i++) {
        reasm_stream_close(c, &st[i]);
        reasm_stream_close(c, &st[i]); /* documented safe twice */
        if (!sides[i].ended)
            abort();
    }
    const struct reasm_stats *rs = reasm_ctx_stats(c);
    if (rs->memuse != 0)
        abort();
    if (rs->bytes_delivered != sides[0].data_bytes + sides[1].data_bytes)
        abort();
    if (rs->gap_bytes != sides[0].gap_bytes + sides[1].gap_bytes ||
        rs->gaps != sides[0].gaps + sides[1].gaps)
        abort();
    reasm_ctx_free(c);
    return 0;
}
