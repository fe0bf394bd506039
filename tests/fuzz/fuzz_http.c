/* fuzz_http.c - the HTTP/1.x parser, both directions, bytes split by the input.
 *
 * Input: records [ctl:1][len:2 big-endian][bytes]. ctl bit 0 is the
 * direction (0 request, 1 response); bits 1-2 the operation: 0 or 3 feed
 * the len bytes that follow (cut at the end of the input), 1 a gap of len
 * bytes (no bytes follow), 2 end of that direction (no len, no bytes).
 * Packet time moves on by 1 ms per record. Caps are small so that each is
 * hit; seeds carry chunked, gzip and deflate bodies, pipelining and
 * upgrades (tests/fuzz/make-seeds.py).
 *
 * The callbacks read every string and body byte they are given (ASan sees a
 * dangling or unterminated one) and check the header's promises: done comes
 * once per transaction, after which the transaction is never seen again;
 * inflated body bytes per message never pass the decoded-bytes cap; the counts in
 * struct http_tx agree with what the body callback saw. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DECODED 65536

struct txstate {
    uint32_t magic;
    uint64_t body[2];
};

static long open_tx;
static volatile size_t sink;

static size_t touch_str(const char *s, size_t max)
{
    if (!s)
        return 0;
    size_t n = strnlen(s, max + 1);
    if (n > max)
        abort(); /* not terminated within its buffer */
    return n;
}

static void touch_tx(const struct http_tx *tx)
{
    size_t x = touch_str(tx->method, sizeof(tx->method) - 1);
    x += touch_str(tx->protocol, sizeof(tx->protocol) - 1);
    x += touch_str(tx->protocol_resp, sizeof(tx->protocol_resp) - 1);
    x += touch_str(tx->uri, 1u << 20);
    for (size_t i = 0; i < tx->n_req_headers; i++)
        x += touch_str(tx->req_headers[i].name, 1u << 20) +
             touch_str(tx->req_headers[i].value, 1u << 20);
    for (size_t i = 0; i < tx->n_resp_headers; i++)
        x += touch_str(tx->resp_headers[i].name, 1u << 20) +
             touch_str(tx->resp_headers[i].value, 1u << 20);
    if (tx->n_req_headers > 16 || tx->n_resp_headers > 16)
        abort(); /* max_headers */
    const char *h = http_tx_header(tx, HTTP_REQUEST, "content-type");
    x += touch_str(h, 1u << 20);
    h = http_tx_header(tx, HTTP_RESPONSE, "CONTENT-ENCODING");
    x += touch_str(h, 1u << 20);
    sink = x;
}

static struct txstate *state_of(struct http_tx *tx)
{
    if (!tx->user) {
        struct txstate *s = calloc(1, sizeof(*s));
        if (!s)
            abort();
        s->magic = 0x7478u;
        tx->user = s;
        open_tx++;
    }
    struct txstate *s = tx->user;
    if (s->magic != 0x7478u)
        abort();
    return s;
}

static void on_request(void *ud, struct http_tx *tx)
{
    (void)ud;
    touch_tx(tx);
    state_of(tx);
}

static void on_response(void *ud, struct http_tx *tx)
{
    (void)ud;
    touch_tx(tx);
    state_of(tx);
}

static void on_body(void *ud, struct http_tx *tx, enum http_dir dir, const uint8_t *d, size_t len)
{
    (void)ud;
    if (dir != HTTP_REQUEST && dir != HTTP_RESPONSE)
        abort();
    size_t x = 0;
    for (size_t i = 0; i < len; i++)
        x += d[i];
    sink = x;
    struct txstate *s = state_of(tx);
    s->body[dir] += len;
}

static void on_done(void *ud, struct http_tx *tx)
{
    (void)ud;
    touch_tx(tx);
    struct txstate *s = state_of(tx);
    if (s->body[HTTP_REQUEST] != tx->req_body_decoded ||
        s->body[HTTP_RESPONSE] != tx->resp_body_decoded)
        abort();
    /* a decoded (inflated) body stops at the cap */
    if ((tx->flags & (HTTP_TX_BODY_GZIP | HTTP_TX_BODY_DEFLATE)) &&
        !(tx->flags & HTTP_TX_DECODE_FAILED) &&
        (s->body[HTTP_REQUEST] > MAX_DECODED || s->body[HTTP_RESPONSE] > MAX_DECODED))
        abort();
    s->magic = 0;
    free(s);
    tx->user = NULL;
    open_tx--;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_config cfg;
    http_config_default(&cfg);
    cfg.max_header_bytes = 2048;
    cfg.max_uri = 256;
    cfg.max_headers = 16;
    cfg.max_decoded = MAX_DECODED;
    cfg.max_ratio = 100;
    cfg.max_pipeline = 4;
    struct http_stats st;
    memset(&st, 0, sizeof(st));
    struct http_callbacks cb = {on_request, on_response, on_body, on_done};
    open_tx = 0;
    struct http_parser *p = http_parser_new(&cfg, &st, &cb, NULL);
    if (!p)
        return 0;

    uint64_t ts = 1700000000000000ull;
    int probed[2] = {0, 0};
    size_t off = 0;
    while (off < size) {
        uint8_t ctl = data[off++];
        enum http_dir dir = (ctl & 1) ? HTTP_RESPONSE : HTTP_REQUEST;
        int op = (ctl >> 1) & 3;
        ts += 1000;
        if (op == 2) {
            http_end(p, dir, ts);
            continue;
        }
        if (size - off < 2)
            break;
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (op == 1) {
            http_gap(p, dir, len);
            continue;
        }
        if (len > size - off)
            len = size - off;
        /* exact-size copy: a read past len is an ASan report */
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy)
            break;
        memcpy(copy, data + off, len);
        off += len;
        if (!probed[dir]) {
            int r = http_probe(copy, len);
            if (r < -1 || r > 1)
                abort();
            probed[dir] = 1;
        }
        http_feed(p, dir, copy, len, ts);
        free(copy);
    }
    http_end(p, HTTP_REQUEST, ts);
    http_end(p, HTTP_RESPONSE, ts);
    http_parser_free(p);
    if (open_tx != 0)
        abort(); /* a transaction never got its done callback */
    return 0;
}
