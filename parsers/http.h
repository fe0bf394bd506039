/* http.h - incremental HTTP/1.x parser over the two reassembled streams of a flow.
 *
 * Bytes enter per direction by http_feed() in stream order, split anywhere
 * (the parser is a byte-state machine that resumes at any byte, as nginx's).
 * Transactions leave by callbacks: request (line and headers parsed), body
 * (de-chunked and decoded body bytes of either direction), and done (response
 * complete, or the flow ended). Responses are paired with requests in order
 * (pipelining). Gaps make the parser resynchronise on the next request or
 * status line. Content-Encoding gzip, x-gzip and deflate (zlib or raw) are
 * decoded with zlib (parsers/decompress.h) under an output cap and a ratio
 * cap. Every buffer has a cap; hitting it is counted in struct http_stats.
 *
 * The struct http_tx passed to callbacks is owned by the parser and valid
 * until the done callback returns. request() is called exactly once per tx
 * and first, done() exactly once and last; a response with no request to
 * pair with gets a tx of its own with method "" and uri "". Callbacks must
 * not call back into the same parser. See docs/http.md. */
#ifndef LH_HTTP_H
#define LH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_dir { HTTP_REQUEST = 0, HTTP_RESPONSE = 1 }; /* = flow_dir */

struct http_header {
    char *name;  /* as sent (case kept); compare with strcasecmp */
    char *value; /* folded lines joined by one space, trimmed */
};

#define HTTP_TX_BODY_CHUNKED 0x01u
#define HTTP_TX_BODY_GZIP 0x02u
#define HTTP_TX_BODY_DEFLATE 0x04u
#define HTTP_TX_DECODE_FAILED 0x08u /* body could not be decoded; raw bytes delivered */
#define HTTP_TX_TRUNCATED 0x10u     /* a cap cut the body or headers */
#define HTTP_TX_GAP 0x20u           /* a gap fell inside this transaction */
#define HTTP_TX_NO_RESPONSE 0x40u   /* flow ended before the response */
#define HTTP_TX_UPGRADED 0x80u      /* CONNECT or Upgrade: no parsing after this */
#define HTTP_TX_BODY_BR 0x100u
#define HTTP_TX_BODY_ZSTD 0x200u
#define HTTP_TX_BODY_ZIP 0x400u     /* set by the caller (sensor/worker.c): a ZIP archive body */
#define HTTP_TX_BODY_GB18030 0x800u /* set by the caller: a GBK/GB18030 body read as UTF-8 */

struct http_tx {
    uint64_t index;       /* 0-based in the flow */
    uint64_t req_ts_us, resp_ts_us;
    char method[24];
    char *uri;            /* request target as sent (capped, see http_config) */
    char protocol[12];    /* "HTTP/1.1" */
    struct http_header *req_headers;
    size_t n_req_headers;
    int status;           /* 0 until the response line is seen */
    char protocol_resp[12];
    struct http_header *resp_headers;
    size_t n_resp_headers;
    uint64_t req_body_len, resp_body_len;         /* bytes on the wire (after de-chunking) */
    uint64_t req_body_decoded, resp_body_decoded; /* bytes delivered to the body callback */
    uint32_t flags;       /* HTTP_TX_* */
    uint8_t charset[2];   /* per direction, enum charset_kind of its Content-Type */
    void *user;           /* the caller's per-transaction state */
};

/* First header named name (case-insensitive) in the given direction, or NULL. */
const char *http_tx_header(const struct http_tx *tx, enum http_dir dir, const char *name);

struct http_callbacks {
    void (*request)(void *ud, struct http_tx *tx);
    /* also called for the response headers, when status is set */
    void (*response)(void *ud, struct http_tx *tx);
    void (*body)(void *ud, struct http_tx *tx, enum http_dir dir, const uint8_t *data, size_t len);
    void (*done)(void *ud, struct http_tx *tx);
};

/* A zero field means its default. */
struct http_config {
    uint32_t max_header_bytes;   /* request or response head, default 64 KiB */
    uint32_t max_uri;            /* default 8 KiB */
    uint32_t max_headers;        /* per message, default 100 */
    uint64_t max_decoded;        /* decoded body bytes per message, default 64 MiB */
    uint32_t max_ratio;          /* decoded/encoded, default 1000 */
    uint32_t max_pipeline;       /* requests waiting for responses, default 64 */
    uint64_t max_held_bytes;     /* heads and targets kept by all the parsers sharing one
                                    struct http_stats (a worker), default 64 MiB; past it a
                                    flow's oldest waiting requests are given up */
    uint32_t gzip_whole_max;     /* a body whose only coding is gzip is held, up to this many
                                    wire bytes, and inflated at once when it ends (libdeflate:
                                    ~2.4x zlib's speed), default 256 KiB; bodies held by all the
                                    parsers on one struct http_stats reserve at most a quarter
                                    of max_held_bytes, and past either a body is streamed */
    bool gzip_stream_only;       /* never hold: every body is streamed through zlib */
};

void http_config_default(struct http_config *cfg);

struct http_stats {
    uint64_t requests, responses, transactions;
    uint64_t parse_errors, resyncs, resync_bytes;
    uint64_t header_cap_hit, uri_cap_hit, headers_count_cap_hit;
    uint64_t pipeline_cap_hit;
    uint64_t decode_gzip, decode_deflate, decode_failed;
    uint64_t decode_cap_hit, ratio_cap_hit;
    uint64_t chunked, upgraded, no_response;
    uint64_t held_bytes;   /* gauge: heads and targets kept now (all parsers on these stats) */
    uint64_t held_cap_hit; /* waiting requests given up because max_held_bytes was reached */
    uint64_t upgraded_bytes; /* bytes seen after CONNECT/Upgrade, not parsed */
    uint64_t decode_whole; /* gzip bodies inflated at once (whole-body mode) */
    uint64_t decode_held;  /* gauge: bytes reserved for gzip bodies being held */
    uint64_t decode_br, decode_zstd;
    uint64_t decode_mem;   /* gauge: bytes Brotli and zstd decoders hold now */
    uint64_t decode_mem_cap_hit; /* br/zstd bodies delivered raw: decode_mem was at its cap */
};

struct http_parser;

/* stats (per worker) may be shared by many parsers. NULL on ENOMEM. */
struct http_parser *http_parser_new(const struct http_config *cfg, struct http_stats *stats,
                                    const struct http_callbacks *cb, void *ud);
/* Ends open transactions (done callbacks) and frees. Accepts NULL. */
void http_parser_free(struct http_parser *p);

void http_feed(struct http_parser *p, enum http_dir dir, const uint8_t *data, size_t len,
               uint64_t ts_us);
void http_gap(struct http_parser *p, enum http_dir dir, uint64_t len);
/* The direction ended (FIN/RST/flow end): a body delimited by close ends. */
void http_end(struct http_parser *p, enum http_dir dir, uint64_t ts_us);

/* Does this look like the start of an HTTP request or response? 1 yes, 0 no,
 * -1 need more bytes. For flows on unusual ports nDPI has not named. */
int http_probe(const uint8_t *data, size_t len);

#endif
