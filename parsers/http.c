/* http.c - incremental HTTP/1.0 and 1.1 parser (RFC 9110, RFC 9112).
 *
 * Owns, per flow, two struct half (one per direction) and the queue of open
 * transactions. Bytes enter by http_feed() in stream order and are consumed
 * by a byte-state machine (nginx style): the state lives in struct half, so
 * parsing resumes at any byte of the next piece and "need more" is simply
 * the end of the loop. Bodies are never buffered: body bytes are handed to
 * the body callback directly, or through the decompressor (decompress.c).
 * The only copy is of the head being parsed, capped at max_header_bytes, and
 * it is copied into the transaction when the head ends. Runs of ordinary
 * target, name and value bytes are taken in one step (counted, copied and
 * scanned together), with exactly the effect of the byte states.
 *
 *   request:  method SP target SP HTTP/1.x CRLF *(field CRLF) CRLF [body]
 *   response: HTTP/1.x SP 3DIGIT [SP reason] CRLF *(field CRLF) CRLF [body]
 *
 * Pairing: a transaction is created at its request line; when its head ends
 * it joins the waiting queue, and each final response takes the oldest
 * waiting one (1xx other than 101 take none). A transaction is done when
 * both of its sides are finished. Errors and gaps put a direction into
 * resync: it skips to the next line start that begins a request line (any
 * token SP target SP HTTP/1.x) or a status line (HTTP/1.x SP 3DIGIT), tried
 * tentatively, so a failed candidate is not another parse error. */
#include "parsers/http.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parsers/charset.h"
#include "parsers/decompress.h"

enum hstate {
    S_START, /* between messages: stray CR/LF skipped */
    /* head states: every byte counts against max_header_bytes */
    S_METHOD,
    S_URI_SP,
    S_URI,
    S_REQ_VER,
    S_REQ_VER_END,
    S_REQ_LF,
    S_RESP_VER,
    S_RESP_VER_SP,
    S_STATUS,
    S_REASON,
    S_STATUS_LF,
    S_HDR_START, /* a header line starts (or the empty line ending the head) */
    S_HDR_NAME,
    S_HDR_VAL_WS,
    S_HDR_VAL,
    S_HDR_LF,
    S_HDR_FOLD_WS,
    S_HEAD_LF,
    /* bodies */
    S_BODY_LEN,
    S_BODY_CLOSE,
    S_CHUNK_SIZE,
    S_CHUNK_SIZE_WS,
    S_CHUNK_EXT,
    S_CHUNK_SIZE_LF,
    S_CHUNK_DATA,
    S_CHUNK_DATA_CR,
    S_CHUNK_DATA_LF,
    S_TRAILER_START,
    S_TRAILER_LINE,
    S_TRAILER_LF,
    /* no framing */
    S_RESYNC_SCAN,   /* skipping to the next LF */
    S_RESYNC_LSTART, /* at a line start: a candidate request or status line? */
    S_UPGRADED,
    S_ENDED,
};

enum body_mode { BODY_NONE, BODY_LEN, BODY_CHUNKED, BODY_CLOSE };

#define NAME_SCR 32
#define VAL_SCR 256
#define MAX_CHUNK_SIZE (UINT64_C(1) << 59) /* before the next digit: no overflow */
#define MAX_CONTENT_LENGTH (UINT64_C(1) << 62)

struct tx_node {
    struct http_tx tx;           /* first: callbacks get &node->tx */
    struct tx_node *prev, *next; /* every live transaction of the flow */
    struct tx_node *wnext;       /* waiting queue */
    bool req_cb, resp_cb;        /* request()/response() called */
    bool req_done, resp_done;
    size_t mem;                  /* bytes of target and heads, charged to stats->held_bytes */
};

struct half {
    struct http_parser *p;
    enum http_dir dir;
    enum hstate state;
    bool tentative; /* a candidate line during resync: failure is silent */
    bool storing;   /* head bytes still copied (under the caps) */
    bool discard;   /* interim 1xx response: parsed, nothing kept */
    bool head_capped, uri_capped, count_capped;
    bool hdr_pending; /* a header line ended; the next byte may fold it */
    bool te_present, te_chunked, te_bad, have_cl, enc_unknown;
    uint8_t charset; /* enum charset_kind of the message's Content-Type */
    uint8_t vpos, ndigits, method_len, n_ce, n_te;
    uint8_t ce[DECOMP_MAX_LAYERS], te[DECOMP_MAX_LAYERS];
    char method[24];
    char proto[12];
    int status;
    uint64_t head_bytes, uri_len;
    uint8_t *buf; /* the head being parsed: uri, then "name\0value\0"... */
    uint32_t buf_len, buf_cap, committed, n_hdrs;
    uint32_t name_off, val_off, uri_off;
    uint64_t nlen, ntrim, vlen, vtrim; /* logical lengths; trim = up to last non-blank */
    /* bounded copies of the current field, read for framing even past the cap */
    char nscr[NAME_SCR];
    char vscr[VAL_SCR];
    uint64_t content_length, remaining, chunk_size, ext_bytes;
    uint64_t ts, msg_ts;
    uint32_t mflags; /* flags of the message before its tx exists */
    struct tx_node *tx;
    struct decomp *dec;
    enum decomp_status dec_status;
    uint32_t dec_reserved; /* bytes of stats->decode_held this body's hold reserved */
};

struct http_parser {
    struct http_config cfg;
    struct http_stats *stats;
    struct http_stats own_stats;
    struct http_callbacks cb;
    void *ud;
    struct half half[2];
    struct tx_node *all_head, *all_tail;
    struct tx_node *wait_head, *wait_tail;
    uint32_t n_wait;
    uint64_t next_index;
    uint64_t orphans; /* responses owed to transactions evicted by the pipeline cap */
};

static const char *const known_methods[] = {
    "GET",     "POST",   "PUT",      "DELETE",    "HEAD",       "OPTIONS", "PATCH",
    "CONNECT", "TRACE",  "PROPFIND", "PROPPATCH", "MKCOL",      "COPY",    "MOVE",
    "LOCK",    "UNLOCK", "REPORT",   "SEARCH",    "MKCALENDAR", "PURGE",
};

void http_config_default(struct http_config *cfg)
{
    cfg->max_header_bytes = 64 * 1024;
    cfg->max_uri = 8 * 1024;
    cfg->max_headers = 100;
    cfg->max_decoded = UINT64_C(64) * 1024 * 1024;
    cfg->max_ratio = 1000;
    cfg->max_pipeline = 64;
    cfg->max_held_bytes = 64ull << 20;
    cfg->gzip_whole_max = 256 * 1024;
    cfg->gzip_stream_only = false;
}

/* RFC 9110 5.6.2 tchar */
static bool is_tchar(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_blank(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool is_head_state(enum hstate s)
{
    return s >= S_METHOD && s <= S_HEAD_LF;
}

/* ---- transactions ---- */

static struct tx_node *tx_new(struct http_parser *p)
{
    struct tx_node *n = calloc(1, sizeof(*n));
    if (!n) return NULL;
    n->tx.index = p->next_index++;
    n->prev = p->all_tail;
    if (p->all_tail)
        p->all_tail->next = n;
    else
        p->all_head = n;
    p->all_tail = n;
    return n;
}

static void tx_free(struct http_parser *p, struct tx_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        p->all_head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        p->all_tail = n->prev;
    free(n->tx.uri);
    free(n->tx.req_headers);
    free(n->tx.resp_headers);
    p->stats->held_bytes -= n->mem;
    free(n);
}

static void charge(struct http_parser *p, struct tx_node *n, size_t bytes)
{
    n->mem += bytes;
    p->stats->held_bytes += bytes;
}

/* The only place a transaction ends: both sides finished. */
static void tx_maybe_done(struct http_parser *p, struct tx_node *n)
{
    if (!n->req_done || !n->resp_done) return;
    p->stats->transactions++;
    if (p->cb.done) p->cb.done(p->ud, &n->tx);
    tx_free(p, n);
}

static void no_response(struct http_parser *p, struct tx_node *n)
{
    n->tx.flags |= HTTP_TX_NO_RESPONSE;
    p->stats->no_response++;
    n->resp_done = true;
    tx_maybe_done(p, n);
}

static struct tx_node *wait_pop(struct http_parser *p)
{
    struct tx_node *n = p->wait_head;
    if (n) {
        p->wait_head = n->wnext;
        if (!p->wait_head) p->wait_tail = NULL;
        n->wnext = NULL;
        p->n_wait--;
    }
    return n;
}

static void wait_push(struct http_parser *p, struct tx_node *n)
{
    enum hstate rs = p->half[HTTP_RESPONSE].state;
    if (rs == S_ENDED || rs == S_UPGRADED) {
        no_response(p, n); /* the response can no longer come */
        return;
    }
    if (p->wait_tail)
        p->wait_tail->wnext = n;
    else
        p->wait_head = n;
    p->wait_tail = n;
    p->n_wait++;
}

static void wait_drop_all(struct http_parser *p)
{
    struct tx_node *n;
    while ((n = wait_pop(p)))
        no_response(p, n);
}

/* A response with no request to pair with (unsolicited, after a lost request,
 * or owed to an evicted one) still gets a transaction so its body is seen:
 * method "" and uri "", request() called first like any other. */
static struct tx_node *tx_synthetic(struct http_parser *p)
{
    struct tx_node *n = tx_new(p);
    if (!n) return NULL;
    n->tx.uri = calloc(1, 1);
    if (!n->tx.uri) {
        tx_free(p, n);
        return NULL;
    }
    n->req_cb = n->req_done = true;
    if (p->cb.request) p->cb.request(p->ud, &n->tx);
    return n;
}

static struct tx_node *resp_take(struct http_parser *p)
{
    if (p->orphans) {
        p->orphans--;
        return tx_synthetic(p);
    }
    struct tx_node *n = wait_pop(p);
    return n ? n : tx_synthetic(p);
}

/* ---- head storage ---- */

static void flag(struct half *h, uint32_t f)
{
    h->mflags |= f;
    if (h->tx) h->tx->tx.flags |= f;
}

static void buf_put(struct half *h, uint8_t c)
{
    if (!h->storing) return;
    if (h->buf_len >= h->buf_cap) {
        /* stored bytes never exceed the head bytes counted, so the cap on
         * the head bounds the buffer; the slack is for safety only */
        uint32_t limit = h->p->cfg.max_header_bytes + 16;
        uint32_t ncap = h->buf_cap ? h->buf_cap * 2 : 1024;
        if (ncap > limit) ncap = limit;
        uint8_t *nb = ncap > h->buf_cap ? realloc(h->buf, ncap) : NULL;
        if (!nb) {
            h->storing = false;
            flag(h, HTTP_TX_TRUNCATED);
            return;
        }
        h->buf = nb;
        h->buf_cap = ncap;
    }
    h->buf[h->buf_len++] = c;
}

static void val_put(struct half *h, uint8_t c)
{
    if (c == 0) c = ' '; /* RFC 9110 5.5: NUL in a field value may be replaced by SP */
    if (h->vlen < VAL_SCR) h->vscr[h->vlen] = (char)c;
    h->vlen++;
    if (!is_blank(c)) h->vtrim = h->vlen;
    buf_put(h, c);
}

/* Several head bytes at once, as buf_put() one by one would store them. */
static void buf_put_run(struct half *h, const uint8_t *s, size_t n)
{
    if (!h->storing) return;
    if (n <= (size_t)(h->buf_cap - h->buf_len)) {
        memcpy(h->buf + h->buf_len, s, n);
        h->buf_len += (uint32_t)n;
        return;
    }
    for (size_t k = 0; k < n; k++)
        buf_put(h, s[k]);
}

/* How many of the n head bytes at s[0..n) after the first one head_count()
 * may count without reaching the cap: a run stops short of it, so the byte
 * that hits the cap goes through the byte loop. */
static size_t head_run_limit(const struct http_parser *p, const struct half *h, size_t n)
{
    if (h->head_capped) return n;
    uint64_t room = p->cfg.max_header_bytes - h->head_bytes; /* head_bytes <= cap here */
    return n - 1 > room ? (size_t)room + 1 : n;
}

/* Name or value bytes r[0..avail) (a name: no ':' nor control among them;
 * a value: no CR, LF nor NUL): takes as many as head_run_limit() allows, as
 * name or val_put() and head_count() one by one would (the bounded scratch
 * copy, the logical and trimmed lengths, the stored head, the head bytes
 * after the first, which the caller counts). Returns how many. */
static size_t field_put_run(const struct http_parser *p, struct half *h, char *scr,
                            size_t scr_cap, uint64_t *flen, uint64_t *ftrim, const uint8_t *r,
                            size_t avail)
{
    size_t n = head_run_limit(p, h, avail);
    h->head_bytes += n - 1;
    if (*flen < scr_cap) {
        size_t k = scr_cap - (size_t)*flen;
        memcpy(scr + *flen, r, k < n ? k : n);
    }
    for (size_t k = n; k-- > 0;)
        if (!is_blank(r[k])) {
            *ftrim = *flen + k + 1;
            break;
        }
    *flen += n;
    buf_put_run(h, r, n);
    return n;
}

/* obs-fold: the value so far (trimmed) and the continuation join with one SP */
static void fold_join(struct half *h)
{
    h->vlen = h->vtrim;
    if (h->storing) h->buf_len = h->val_off + (uint32_t)h->vtrim;
    if (h->vtrim) val_put(h, ' ');
}

static void head_count(struct http_parser *p, struct half *h)
{
    if (++h->head_bytes <= p->cfg.max_header_bytes || h->head_capped) return;
    h->head_capped = true;
    h->storing = false;
    if (h->discard) return;
    flag(h, HTTP_TX_TRUNCATED);
    if (!h->tentative) p->stats->header_cap_hit++;
}

static void hdr_store(struct http_parser *p, struct half *h)
{
    if (!h->storing) return;
    if (h->n_hdrs >= p->cfg.max_headers) {
        if (!h->count_capped && !h->discard) {
            h->count_capped = true;
            p->stats->headers_count_cap_hit++;
            flag(h, HTTP_TX_TRUNCATED);
        }
        h->buf_len = h->committed;
        return;
    }
    h->buf_len = h->val_off + (uint32_t)h->vtrim;
    buf_put(h, 0);
    if (!h->storing) return;
    h->n_hdrs++;
    h->committed = h->buf_len;
}

static bool name_is(const struct half *h, const char *name)
{
    size_t n = strlen(name);
    return h->ntrim == n && strncasecmp(h->nscr, name, n) == 0;
}

/* Content-Length: 1*DIGIT, or a list of identical values (RFC 9112 6.3 #5). */
static int parse_cl(struct half *h, const char *v, size_t vl)
{
    size_t i = 0;
    bool any = false;
    while (i <= vl) {
        size_t s = i;
        while (i < vl && v[i] != ',')
            i++;
        size_t e = i;
        while (s < e && is_blank((uint8_t)v[s]))
            s++;
        while (e > s && is_blank((uint8_t)v[e - 1]))
            e--;
        if (s == e) return -1;
        uint64_t x = 0;
        for (size_t k = s; k < e; k++) {
            if (v[k] < '0' || v[k] > '9') return -1;
            x = x * 10 + (uint64_t)(v[k] - '0');
            if (x > MAX_CONTENT_LENGTH) return -1;
        }
        if (h->have_cl && x != h->content_length) return -1;
        h->have_cl = true;
        h->content_length = x;
        any = true;
        i++; /* past the comma */
    }
    return any ? 0 : -1;
}

/* A list of codings; te says Transfer-Encoding (chunked allowed, last). */
static void parse_codings(struct half *h, const char *v, size_t vl, bool te)
{
    size_t i = 0;
    while (i < vl) {
        size_t s = i;
        while (i < vl && v[i] != ',')
            i++;
        size_t e = i++;
        while (s < e && is_blank((uint8_t)v[s]))
            s++;
        for (size_t k = s; k < e; k++)
            if (v[k] == ';') { /* parameters do not change the coding */
                e = k;
                break;
            }
        while (e > s && is_blank((uint8_t)v[e - 1]))
            e--;
        size_t n = e - s;
        if (n == 0) continue;
        const char *t = v + s;
        uint8_t code = 0;
        if (te && h->te_chunked) h->te_bad = true; /* something after chunked */
        if (te && n == 7 && strncasecmp(t, "chunked", 7) == 0) {
            h->te_chunked = true;
            continue;
        }
        if (n == 8 && strncasecmp(t, "identity", 8) == 0) continue;
        if ((n == 4 && strncasecmp(t, "gzip", 4) == 0) ||
            (n == 6 && strncasecmp(t, "x-gzip", 6) == 0))
            code = DECOMP_GZIP;
        else if (n == 7 && strncasecmp(t, "deflate", 7) == 0)
            code = DECOMP_DEFLATE;
        else if (n == 2 && strncasecmp(t, "br", 2) == 0)
            code = DECOMP_BR;
        else if (n == 4 && strncasecmp(t, "zstd", 4) == 0)
            code = DECOMP_ZSTD;
        if (!code) {
            h->enc_unknown = true;
        } else if (te) {
            if (h->n_te < DECOMP_MAX_LAYERS)
                h->te[h->n_te++] = code;
            else
                h->enc_unknown = true;
        } else {
            if (h->n_ce < DECOMP_MAX_LAYERS)
                h->ce[h->n_ce++] = code;
            else
                h->enc_unknown = true;
        }
    }
}

/* The fields that frame the body, read from the bounded scratch copies so
 * they work even past the head cap. Returns -1 on a framing error. */
static int hdr_framing(struct half *h)
{
    if (h->ntrim > NAME_SCR || h->discard) return 0;
    bool vlong = h->vtrim > VAL_SCR;
    size_t vl = vlong ? VAL_SCR : (size_t)h->vtrim;
    if (name_is(h, "content-length")) return vlong ? -1 : parse_cl(h, h->vscr, vl);
    if (name_is(h, "transfer-encoding")) {
        h->te_present = true;
        if (vlong)
            h->te_bad = true;
        else
            parse_codings(h, h->vscr, vl, true);
    } else if (name_is(h, "content-encoding")) {
        if (vlong)
            h->enc_unknown = true;
        else
            parse_codings(h, h->vscr, vl, false);
    } else if (!vlong && name_is(h, "content-type")) {
        h->charset = (uint8_t)charset_of(h->vscr, vl);
    }
    return 0;
}

static int hdr_finish(struct http_parser *p, struct half *h)
{
    h->hdr_pending = false;
    hdr_store(p, h);
    return hdr_framing(h);
}

static struct http_header *headers_build(struct half *h, size_t *count, size_t *bytes)
{
    *count = 0;
    if (!h->n_hdrs) return NULL;
    size_t arr = h->n_hdrs * sizeof(struct http_header);
    struct http_header *hs = malloc(arr + h->committed);
    if (!hs) return NULL;
    *bytes = arr + h->committed;
    char *s = (char *)hs + arr;
    memcpy(s, h->buf, h->committed);
    for (uint32_t i = 0; i < h->n_hdrs; i++) {
        hs[i].name = s;
        s += strlen(s) + 1;
        hs[i].value = s;
        s += strlen(s) + 1;
    }
    *count = h->n_hdrs;
    return hs;
}

static void msg_begin(struct half *h)
{
    h->tentative = false;
    h->storing = true;
    h->discard = h->head_capped = h->uri_capped = h->count_capped = false;
    h->hdr_pending = h->te_present = h->te_chunked = h->te_bad = false;
    h->have_cl = h->enc_unknown = false;
    h->charset = CHARSET_NONE; /* no Content-Type, or one without a charset */
    h->vpos = h->ndigits = h->method_len = h->n_ce = h->n_te = 0;
    h->method[0] = h->proto[0] = 0;
    h->status = 0;
    h->head_bytes = h->uri_len = 0;
    h->buf_len = h->committed = h->n_hdrs = 0;
    h->content_length = 0;
    h->mflags = 0;
    h->msg_ts = h->ts;
}

/* An idle flow holds no head buffer: one allocation per head is cheaper
 * than a kilobyte kept by each of a million quiet flows. */
static void head_release(struct half *h)
{
    h->buf_len = h->committed = h->n_hdrs = 0;
    free(h->buf);
    h->buf = NULL;
    h->buf_cap = 0;
}

/* ---- message ends ---- */

static void fire_request(struct http_parser *p, struct half *h)
{
    struct tx_node *n = h->tx;
    if (!n || n->req_cb) return;
    if (h->hdr_pending) {
        h->hdr_pending = false;
        hdr_store(p, h);
    }
    size_t bytes = 0;
    n->tx.req_headers = headers_build(h, &n->tx.n_req_headers, &bytes);
    charge(p, n, bytes);
    n->tx.flags |= h->mflags;
    n->tx.charset[HTTP_REQUEST] = h->charset;
    n->req_cb = true;
    p->stats->requests++;
    if (p->cb.request) p->cb.request(p->ud, &n->tx);
    wait_push(p, n);
    /* what waiting requests keep answers to one budget for the worker:
     * past it, this flow's oldest waiting requests are given up */
    while (p->stats->held_bytes > p->cfg.max_held_bytes && p->n_wait > 1) {
        struct tx_node *old = wait_pop(p);
        if (!old) break;
        p->stats->held_cap_hit++;
        p->orphans++; /* its response, if it comes, is not the next one's */
        no_response(p, old);
    }
}

static void fire_response(struct http_parser *p, struct half *h)
{
    struct tx_node *n = h->tx;
    if (!n || n->resp_cb) return;
    if (h->hdr_pending) {
        h->hdr_pending = false;
        hdr_store(p, h);
    }
    size_t bytes = 0;
    n->tx.resp_headers = headers_build(h, &n->tx.n_resp_headers, &bytes);
    charge(p, n, bytes);
    n->tx.status = h->status;
    memcpy(n->tx.protocol_resp, h->proto, sizeof(n->tx.protocol_resp));
    n->tx.flags |= h->mflags;
    n->tx.charset[HTTP_RESPONSE] = h->charset;
    n->resp_cb = true;
    p->stats->responses++;
    if (p->cb.response) p->cb.response(p->ud, &n->tx);
}

static void dec_note(struct http_parser *p, struct half *h, enum decomp_status st);

/* A body's reservation for whole-body mode goes back once the decoder no
 * longer holds it (it ended, or handed over to streaming). */
static void dec_unreserve(struct http_parser *p, struct half *h)
{
    if (h->dec_reserved && !decomp_holding(h->dec)) {
        p->stats->decode_held -= h->dec_reserved;
        h->dec_reserved = 0;
    }
}

/* The body's decoder ends: a held body is inflated now (its output reaches
 * the transaction before done()), and its reservation is given back. */
static void dec_end(struct http_parser *p, struct half *h)
{
    if (!h->dec) return;
    dec_note(p, h, decomp_finish(h->dec));
    p->stats->decode_whole += decomp_was_whole(h->dec);
    dec_unreserve(p, h);
    decomp_free(h->dec);
    h->dec = NULL;
}

static void msg_done(struct http_parser *p, struct half *h)
{
    dec_end(p, h);
    head_release(h);
    struct tx_node *n = h->tx;
    h->tx = NULL;
    h->tentative = false;
    h->state = S_START;
    if (!n) return;
    if (h->dir == HTTP_REQUEST)
        n->req_done = true;
    else
        n->resp_done = true;
    tx_maybe_done(p, n);
}

/* Ends the message in progress, whatever its stage: the head callback is
 * made with what was parsed, so every transaction sees request() (and
 * response() once its status line was seen) before done(). */
static void half_abort(struct http_parser *p, struct half *h, uint32_t flags)
{
    if (h->tx) {
        h->tx->tx.flags |= flags;
        if (h->dir == HTTP_REQUEST)
            fire_request(p, h);
        else
            fire_response(p, h);
    }
    msg_done(p, h);
}

/* Hostile or broken input at the current byte; the caller hands that byte
 * to S_RESYNC_SCAN next. */
static void half_error(struct http_parser *p, struct half *h)
{
    if (h->tentative) {
        /* the candidate line was not one: its bytes were skipped, except
         * the current one, which the scan counts */
        p->stats->resync_bytes += h->head_bytes ? h->head_bytes - 1 : 0;
        h->tentative = false;
        head_release(h);
        h->state = S_RESYNC_SCAN;
        return;
    }
    p->stats->parse_errors++;
    p->stats->resyncs++;
    half_abort(p, h, HTTP_TX_TRUNCATED);
    h->state = S_RESYNC_SCAN;
}

static void go_upgraded(struct http_parser *p)
{
    struct half *rq = &p->half[HTTP_REQUEST], *rs = &p->half[HTTP_RESPONSE];
    if (rq->state != S_ENDED) {
        if (rq->tentative) p->stats->resync_bytes += rq->head_bytes;
        half_abort(p, rq, 0);
        rq->state = S_UPGRADED;
    }
    rs->state = S_UPGRADED;
    wait_drop_all(p);
}

/* ---- bodies ---- */

static void body_out(void *ud, const uint8_t *data, size_t len)
{
    struct half *h = ud;
    struct http_parser *p = h->p;
    if (!h->tx || !len) return;
    if (h->dir == HTTP_REQUEST)
        h->tx->tx.req_body_decoded += len;
    else
        h->tx->tx.resp_body_decoded += len;
    if (p->cb.body) p->cb.body(p->ud, &h->tx->tx, h->dir, data, len);
}

static void dec_note(struct http_parser *p, struct half *h, enum decomp_status st)
{
    if (st == h->dec_status) return;
    h->dec_status = st;
    if (st == DECOMP_FAILED) {
        p->stats->decode_failed++;
        flag(h, HTTP_TX_DECODE_FAILED);
    } else if (st == DECOMP_CAP) {
        p->stats->decode_cap_hit++;
        flag(h, HTTP_TX_TRUNCATED);
    } else if (st == DECOMP_RATIO) {
        p->stats->ratio_cap_hit++;
        flag(h, HTTP_TX_TRUNCATED);
    }
}

static void body_data(struct http_parser *p, struct half *h, const uint8_t *data, size_t len)
{
    if (!h->tx || !len) return;
    if (h->dir == HTTP_REQUEST)
        h->tx->tx.req_body_len += len;
    else
        h->tx->tx.resp_body_len += len;
    if (h->dec) {
        dec_note(p, h, decomp_feed(h->dec, data, len));
        dec_unreserve(p, h);
    } else {
        body_out(h, data, len);
    }
}

static void dec_abandon(struct http_parser *p, struct half *h)
{
    if (h->dec) {
        decomp_abandon(h->dec);
        dec_note(p, h, decomp_get_status(h->dec));
        dec_unreserve(p, h);
    }
}

/* expect: the body's wire length when the head gave it, else 0 */
static void dec_start(struct http_parser *p, struct half *h, uint64_t expect)
{
    size_t n = (size_t)h->n_ce + h->n_te;
    if (!h->tx || h->enc_unknown || n == 0) return; /* identity or a coding we cannot undo: raw */
    if (n > DECOMP_MAX_LAYERS) return;
    uint8_t order[DECOMP_MAX_LAYERS];
    size_t k = 0;
    /* applied: content codings in order, then transfer codings; undone in reverse */
    for (size_t i = h->n_te; i-- > 0;)
        order[k++] = h->te[i];
    for (size_t i = h->n_ce; i-- > 0;)
        order[k++] = h->ce[i];
    bool seen[DECOMP_ZSTD + 1] = {false};
    for (size_t i = 0; i < n; i++)
        seen[order[i]] = true;
    if (seen[DECOMP_GZIP]) {
        flag(h, HTTP_TX_BODY_GZIP);
        p->stats->decode_gzip++;
    }
    if (seen[DECOMP_DEFLATE]) {
        flag(h, HTTP_TX_BODY_DEFLATE);
        p->stats->decode_deflate++;
    }
    if (seen[DECOMP_BR]) {
        flag(h, HTTP_TX_BODY_BR);
        p->stats->decode_br++;
    }
    if (seen[DECOMP_ZSTD]) {
        flag(h, HTTP_TX_BODY_ZSTD);
        p->stats->decode_zstd++;
    }
    h->dec_status = DECOMP_OK;
    h->dec = decomp_new(order, n, p->cfg.max_decoded, p->cfg.max_ratio, body_out, h);
    /* Brotli's and zstd's windows: a quarter of max_held_bytes for all the
     * parsers of a worker, as held gzip bodies have */
    if (h->dec && (seen[DECOMP_BR] || seen[DECOMP_ZSTD]))
        (void)decomp_set_budget(h->dec, &p->stats->decode_mem, p->cfg.max_held_bytes / 4,
                                &p->stats->decode_mem_cap_hit);
    if (!h->dec) {
        p->stats->decode_failed++;
        flag(h, HTTP_TX_DECODE_FAILED);
    } else if (!p->cfg.gzip_stream_only && /* decomp_hold takes a lone gzip layer only */
               p->stats->decode_held + p->cfg.gzip_whole_max <= p->cfg.max_held_bytes / 4 &&
               decomp_hold(h->dec, p->cfg.gzip_whole_max,
                           expect <= p->cfg.gzip_whole_max ? (size_t)expect : 0) == 0) {
        h->dec_reserved = p->cfg.gzip_whole_max;
        p->stats->decode_held += h->dec_reserved;
    }
}

static void body_start(struct http_parser *p, struct half *h, enum body_mode mode)
{
    head_release(h);
    if (mode == BODY_NONE || (mode == BODY_LEN && h->content_length == 0)) {
        msg_done(p, h);
        return;
    }
    dec_start(p, h, mode == BODY_LEN ? h->content_length : 0);
    switch (mode) {
    case BODY_LEN:
        h->remaining = h->content_length;
        h->state = S_BODY_LEN;
        break;
    case BODY_CHUNKED:
        flag(h, HTTP_TX_BODY_CHUNKED);
        p->stats->chunked++;
        h->chunk_size = 0;
        h->ndigits = 0;
        h->state = S_CHUNK_SIZE;
        break;
    default:
        h->state = S_BODY_CLOSE;
        break;
    }
}

/* ---- line and head ends ---- */

static void pending_caps(struct http_parser *p, struct half *h)
{
    /* caps met during a candidate line count only once it proved real */
    if (h->head_capped) p->stats->header_cap_hit++;
    if (h->uri_capped) p->stats->uri_cap_hit++;
    h->tentative = false;
}

static void req_line_done(struct http_parser *p, struct half *h)
{
    if (h->tentative) pending_caps(p, h);
    if (p->n_wait >= p->cfg.max_pipeline) {
        p->stats->pipeline_cap_hit++;
        struct tx_node *old = wait_pop(p);
        if (old) {
            p->orphans++; /* its response, if it comes, is not this one's */
            no_response(p, old);
        }
    }
    struct tx_node *n = tx_new(p);
    if (n) {
        uint32_t ulen = h->buf && h->buf_len > h->uri_off ? h->buf_len - h->uri_off : 0;
        n->tx.uri = malloc((size_t)ulen + 1);
        if (!n->tx.uri) {
            tx_free(p, n);
            n = NULL;
        } else {
            if (ulen) memcpy(n->tx.uri, h->buf + h->uri_off, ulen);
            n->tx.uri[ulen] = 0;
            charge(p, n, (size_t)ulen + 1);
            memcpy(n->tx.method, h->method, sizeof(n->tx.method));
            memcpy(n->tx.protocol, h->proto, sizeof(n->tx.protocol));
            n->tx.req_ts_us = h->msg_ts;
            n->tx.flags |= h->mflags;
        }
    }
    h->tx = n;
    h->buf_len = h->committed = 0;
    h->hdr_pending = false;
    h->state = S_HDR_START;
}

static void status_line_done(struct http_parser *p, struct half *h)
{
    if (h->tentative) pending_caps(p, h);
    if (h->status < 200 && h->status != 101) {
        /* interim: the request keeps waiting for its final response */
        h->discard = true;
        h->storing = false;
    } else {
        h->tx = resp_take(p);
        if (h->tx) {
            h->tx->tx.resp_ts_us = h->msg_ts;
            h->tx->tx.flags |= h->mflags;
        }
    }
    h->buf_len = h->committed = 0;
    h->hdr_pending = false;
    h->state = S_HDR_START;
}

/* Returns -1 on a framing error (after the LF ending the head). */
static int head_done(struct http_parser *p, struct half *h)
{
    if (h->dir == HTTP_REQUEST) {
        enum body_mode mode = BODY_NONE;
        if (h->te_present) {
            /* RFC 9112 6.1: Transfer-Encoding wins over Content-Length, and a
             * request whose last coding is not chunked cannot be framed */
            if (!h->te_chunked || h->te_bad) return -1;
            mode = BODY_CHUNKED;
        } else if (h->have_cl) {
            mode = BODY_LEN;
        }
        fire_request(p, h);
        body_start(p, h, mode);
        return 0;
    }
    if (h->discard) {
        head_release(h);
        h->state = S_START;
        return 0;
    }
    const char *method = h->tx ? h->tx->tx.method : "";
    int st = h->status;
    bool upgrade = st == 101 || (st >= 200 && st < 300 && strcmp(method, "CONNECT") == 0);
    if (upgrade) flag(h, HTTP_TX_UPGRADED);
    fire_response(p, h);
    if (upgrade) {
        p->stats->upgraded++;
        msg_done(p, h);
        go_upgraded(p);
        return 0;
    }
    enum body_mode mode;
    if (strcmp(method, "HEAD") == 0 || st < 200 || st == 204 || st == 304)
        mode = BODY_NONE;
    else if (h->te_present)
        mode = h->te_chunked && !h->te_bad ? BODY_CHUNKED : BODY_CLOSE;
    else if (h->have_cl)
        mode = BODY_LEN;
    else
        mode = BODY_CLOSE;
    body_start(p, h, mode);
    return 0;
}

/* "HTTP/1.d": returns 1 when complete, 0 for more, -1 if not HTTP/1.x */
static int ver_byte(struct half *h, uint8_t c)
{
    static const char pat[] = "HTTP/1.";
    if (h->vpos < 7) {
        if (c != (uint8_t)pat[h->vpos]) return -1;
    } else if (c < '0' || c > '9') {
        return -1;
    }
    h->proto[h->vpos++] = (char)c;
    if (h->vpos < 8) return 0;
    h->proto[8] = 0;
    return 1;
}

/* ---- the byte loop ---- */

void http_feed(struct http_parser *p, enum http_dir dir, const uint8_t *data, size_t len,
               uint64_t ts_us)
{
    if (!p || (dir != HTTP_REQUEST && dir != HTTP_RESPONSE) || !data) return;
    struct half *h = &p->half[dir];
    struct http_stats *st = p->stats;
    size_t i = 0, counted = SIZE_MAX;
    h->ts = ts_us;
    while (i < len) {
        if (is_head_state(h->state) && counted != i) {
            counted = i;
            head_count(p, h);
        }
        uint8_t c = data[i];
        switch (h->state) {
        case S_START:
            if (c == '\r' || c == '\n') {
                i++;
                break;
            }
            msg_begin(h);
            if (dir == HTTP_REQUEST ? !is_tchar(c) : c != 'H') goto error;
            h->state = dir == HTTP_REQUEST ? S_METHOD : S_RESP_VER;
            break;

        case S_METHOD:
            if (is_tchar(c)) {
                if (h->method_len >= sizeof(h->method) - 1) goto error;
                h->method[h->method_len++] = (char)c;
                i++;
            } else if (c == ' ') {
                h->method[h->method_len] = 0;
                h->state = S_URI_SP;
                i++;
            } else {
                goto error;
            }
            break;
        case S_URI_SP:
            if (c == ' ') {
                i++;
                break;
            }
            if (c <= 0x20 || c == 0x7f) goto error;
            h->uri_off = h->buf_len;
            h->state = S_URI;
            break;
        case S_URI:
            if (c == ' ') {
                h->vpos = 0;
                h->state = S_REQ_VER;
            } else if (c < 0x20 || c == 0x7f) {
                goto error; /* CR/LF: an HTTP/0.9 request line */
            } else if (h->uri_len < p->cfg.max_uri) {
                /* a run of target bytes under the cap at once */
                size_t e = i + 1;
                while (e < len && data[e] > 0x20 && data[e] != 0x7f)
                    e++;
                size_t n = head_run_limit(p, h, e - i);
                if (n > p->cfg.max_uri - h->uri_len) n = (size_t)(p->cfg.max_uri - h->uri_len);
                h->head_bytes += n - 1;
                buf_put_run(h, data + i, n);
                h->uri_len += n;
                i += n;
                counted = i - 1;
                break;
            } else {
                if (!h->uri_capped) {
                    h->uri_capped = true;
                    flag(h, HTTP_TX_TRUNCATED);
                    if (!h->tentative) st->uri_cap_hit++;
                }
                h->uri_len++;
            }
            i++;
            break;
        case S_REQ_VER: {
            if (c == ' ' && h->vpos == 0) {
                i++;
                break;
            }
            int r = ver_byte(h, c);
            if (r < 0) goto error;
            i++;
            if (r > 0) h->state = S_REQ_VER_END;
            break;
        }
        case S_REQ_VER_END:
            if (is_blank(c)) {
                i++;
            } else if (c == '\r') {
                h->state = S_REQ_LF;
                i++;
            } else if (c == '\n') {
                i++;
                req_line_done(p, h);
            } else {
                goto error;
            }
            break;
        case S_REQ_LF:
            if (c != '\n') goto error;
            i++;
            req_line_done(p, h);
            break;

        case S_RESP_VER: {
            int r = ver_byte(h, c);
            if (r < 0) goto error;
            i++;
            if (r > 0) h->state = S_RESP_VER_SP;
            break;
        }
        case S_RESP_VER_SP:
            if (c != ' ') goto error;
            h->state = S_STATUS;
            h->status = 0;
            h->ndigits = 0;
            i++;
            break;
        case S_STATUS:
            if (c >= '0' && c <= '9') {
                if (h->ndigits == 3) goto error;
                h->status = h->status * 10 + (c - '0');
                if (++h->ndigits == 3 && h->status < 100) goto error;
                i++;
            } else if (c == ' ' && h->ndigits == 0) {
                i++;
            } else if (h->ndigits != 3) {
                goto error;
            } else if (c == ' ') {
                h->state = S_REASON;
                i++;
            } else if (c == '\r') {
                h->state = S_STATUS_LF;
                i++;
            } else if (c == '\n') {
                i++;
                status_line_done(p, h);
            } else {
                goto error;
            }
            break;
        case S_REASON:
            if (c == '\r') {
                h->state = S_STATUS_LF;
            } else if (c == '\n') {
                i++;
                status_line_done(p, h);
                break;
            }
            i++;
            break;
        case S_STATUS_LF:
            if (c != '\n') goto error;
            i++;
            status_line_done(p, h);
            break;

        case S_HDR_START:
            if (h->hdr_pending) {
                if (is_blank(c)) {
                    h->state = S_HDR_FOLD_WS;
                    i++;
                    break;
                }
                if (hdr_finish(p, h) < 0) goto error;
            }
            if (c == '\r') {
                h->state = S_HEAD_LF;
                i++;
                break;
            }
            if (c == '\n') {
                i++;
                goto head_end;
            }
            if (c == ':' || c < 0x20 || c == 0x7f || is_blank(c)) goto error;
            h->name_off = h->buf_len;
            h->nlen = h->ntrim = h->vlen = h->vtrim = 0;
            h->state = S_HDR_NAME;
            break;
        case S_HDR_NAME:
            if (c == ':') {
                if (!h->ntrim) goto error;
                if (h->storing) h->buf_len = h->name_off + (uint32_t)h->ntrim;
                buf_put(h, 0);
                h->val_off = h->buf_len;
                h->state = S_HDR_VAL_WS;
            } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
                goto error; /* includes a line without a colon */
            } else {
                /* a run of name bytes at once, as if taken one by one */
                size_t e = i + 1;
                while (e < len && data[e] != ':' && (data[e] >= 0x20 || data[e] == '\t') &&
                       data[e] != 0x7f)
                    e++;
                i += field_put_run(p, h, h->nscr, NAME_SCR, &h->nlen, &h->ntrim, data + i, e - i);
                counted = i - 1;
                break;
            }
            i++;
            break;
        case S_HDR_VAL_WS:
        case S_HDR_FOLD_WS:
            if (is_blank(c)) {
                i++;
            } else if (c == '\r') {
                h->state = S_HDR_LF;
                i++;
            } else if (c == '\n') {
                i++;
                h->hdr_pending = true;
                h->state = S_HDR_START;
            } else {
                if (h->state == S_HDR_FOLD_WS) fold_join(h);
                h->state = S_HDR_VAL;
            }
            break;
        case S_HDR_VAL:
            if (c == '\r') {
                h->state = S_HDR_LF;
            } else if (c == '\n') {
                h->hdr_pending = true;
                h->state = S_HDR_START;
            } else if (c == 0) {
                val_put(h, c);
            } else {
                /* a run of value bytes: counted, scanned and copied at once,
                 * as val_put() and head_count() byte by byte would */
                size_t e = i + 1;
                while (e < len && data[e] != '\r' && data[e] != '\n' && data[e] != 0)
                    e++;
                i += field_put_run(p, h, h->vscr, VAL_SCR, &h->vlen, &h->vtrim, data + i, e - i);
                counted = i - 1;
                break;
            }
            i++;
            break;
        case S_HDR_LF:
            if (c != '\n') goto error;
            i++;
            h->hdr_pending = true;
            h->state = S_HDR_START;
            break;
        case S_HEAD_LF:
            if (c != '\n') goto error;
            i++;
            goto head_end;

        case S_BODY_LEN: {
            size_t n = len - i;
            if (n > h->remaining) n = (size_t)h->remaining;
            h->remaining -= n;
            body_data(p, h, data + i, n);
            i += n;
            if (!h->remaining) msg_done(p, h);
            break;
        }
        case S_BODY_CLOSE:
            body_data(p, h, data + i, len - i);
            i = len;
            break;

        case S_CHUNK_SIZE: {
            int d = hexval(c);
            if (d >= 0) {
                if (h->chunk_size >= MAX_CHUNK_SIZE) goto error;
                h->chunk_size = h->chunk_size * 16 + (uint64_t)d;
                h->ndigits = 1;
                i++;
                break;
            }
            if (!h->ndigits) goto error;
            if (is_blank(c)) {
                h->state = S_CHUNK_SIZE_WS;
            } else if (c == ';') {
                h->ext_bytes = 0;
                h->state = S_CHUNK_EXT;
            } else if (c == '\r') {
                h->state = S_CHUNK_SIZE_LF;
            } else if (c == '\n') {
                i++;
                goto chunk_size_end;
            } else {
                goto error;
            }
            i++;
            break;
        }
        case S_CHUNK_SIZE_WS:
            if (c == ';') {
                h->ext_bytes = 0;
                h->state = S_CHUNK_EXT;
            } else if (c == '\r') {
                h->state = S_CHUNK_SIZE_LF;
            } else if (c == '\n') {
                i++;
                goto chunk_size_end;
            } else if (!is_blank(c)) {
                goto error;
            }
            i++;
            break;
        case S_CHUNK_EXT:
            if (c == '\r') {
                h->state = S_CHUNK_SIZE_LF;
            } else if (c == '\n') {
                i++;
                goto chunk_size_end;
            } else if (++h->ext_bytes > p->cfg.max_header_bytes) {
                goto error;
            }
            i++;
            break;
        case S_CHUNK_SIZE_LF:
            if (c != '\n') goto error;
            i++;
            goto chunk_size_end;
        case S_CHUNK_DATA: {
            size_t n = len - i;
            if (n > h->remaining) n = (size_t)h->remaining;
            h->remaining -= n;
            body_data(p, h, data + i, n);
            i += n;
            if (!h->remaining) h->state = S_CHUNK_DATA_CR;
            break;
        }
        case S_CHUNK_DATA_CR:
            if (c == '\r') {
                h->state = S_CHUNK_DATA_LF;
            } else if (c == '\n') {
                h->chunk_size = 0;
                h->ndigits = 0;
                h->state = S_CHUNK_SIZE;
            } else {
                goto error;
            }
            i++;
            break;
        case S_CHUNK_DATA_LF:
            if (c != '\n') goto error;
            h->chunk_size = 0;
            h->ndigits = 0;
            h->state = S_CHUNK_SIZE;
            i++;
            break;
        case S_TRAILER_START:
            /* trailer fields are skipped, not stored: nothing frames by them */
            if (c == '\r') {
                h->state = S_TRAILER_LF;
                i++;
            } else if (c == '\n') {
                i++;
                msg_done(p, h);
            } else {
                h->state = S_TRAILER_LINE;
            }
            break;
        case S_TRAILER_LINE: {
            const uint8_t *lf = memchr(data + i, '\n', len - i);
            if (!lf) {
                i = len;
                break;
            }
            i = (size_t)(lf - data) + 1;
            h->state = S_TRAILER_START;
            break;
        }
        case S_TRAILER_LF:
            if (c != '\n') goto error;
            i++;
            msg_done(p, h);
            break;

        case S_RESYNC_SCAN: {
            const uint8_t *lf = memchr(data + i, '\n', len - i);
            size_t end = lf ? (size_t)(lf - data) + 1 : len;
            st->resync_bytes += end - i;
            i = end;
            if (lf) h->state = S_RESYNC_LSTART;
            break;
        }
        case S_RESYNC_LSTART:
            if (c == '\r' || c == '\n') {
                st->resync_bytes++;
                i++;
                break;
            }
            if (dir == HTTP_REQUEST ? is_tchar(c) : c == 'H') {
                msg_begin(h);
                h->tentative = true;
                h->state = dir == HTTP_REQUEST ? S_METHOD : S_RESP_VER;
            } else {
                h->state = S_RESYNC_SCAN;
            }
            break;

        case S_UPGRADED:
            st->upgraded_bytes += len - i;
            return;
        case S_ENDED:
            return;
        }
        continue;

    head_end:
        if (head_done(p, h) < 0) {
            half_error(p, h);
            h->state = S_RESYNC_LSTART; /* the LF was consumed: a line starts */
        }
        continue;
    chunk_size_end:
        if (h->chunk_size == 0) {
            h->state = S_TRAILER_START;
        } else {
            h->remaining = h->chunk_size;
            h->state = S_CHUNK_DATA;
        }
        h->chunk_size = 0;
        h->ndigits = 0;
        continue;
    error:
        half_error(p, h); /* the byte is looked at again by the scan */
    }
}

void http_gap(struct http_parser *p, enum http_dir dir, uint64_t len)
{
    if (!p || (dir != HTTP_REQUEST && dir != HTTP_RESPONSE) || !len) return;
    struct half *h = &p->half[dir];
    switch (h->state) {
    case S_UPGRADED:
    case S_ENDED:
        return;
    case S_BODY_LEN:
    case S_CHUNK_DATA:
        if (len > h->remaining) break;
        /* the framing survives: the body goes on without those bytes, but a
         * decoder cannot bridge a hole */
        h->remaining -= len;
        flag(h, HTTP_TX_GAP);
        dec_abandon(p, h);
        if (!h->remaining) {
            if (h->state == S_BODY_LEN)
                msg_done(p, h);
            else
                h->state = S_CHUNK_DATA_CR;
        }
        return;
    case S_BODY_CLOSE:
        flag(h, HTTP_TX_GAP);
        dec_abandon(p, h);
        return;
    case S_RESYNC_SCAN:
    case S_RESYNC_LSTART:
        h->state = S_RESYNC_LSTART;
        return;
    default:
        break;
    }
    if (h->tentative) {
        p->stats->resync_bytes += h->head_bytes;
        h->tentative = false;
        head_release(h);
        h->state = S_RESYNC_LSTART;
        return;
    }
    /* the gap may have swallowed whole messages; the byte after it is
     * treated as a line start */
    p->stats->resyncs++;
    half_abort(p, h, HTTP_TX_GAP);
    h->state = S_RESYNC_LSTART;
}

void http_end(struct http_parser *p, enum http_dir dir, uint64_t ts_us)
{
    if (!p || (dir != HTTP_REQUEST && dir != HTTP_RESPONSE)) return;
    struct half *h = &p->half[dir];
    h->ts = ts_us;
    if (h->state == S_ENDED) return;
    if (h->state == S_BODY_CLOSE) {
        msg_done(p, h);
    } else if (h->state != S_UPGRADED) {
        if (h->tentative) {
            p->stats->resync_bytes += h->head_bytes;
            h->tentative = false;
        }
        if (h->tx)
            half_abort(p, h, HTTP_TX_TRUNCATED);
        else
            msg_done(p, h);
    }
    h->state = S_ENDED;
    if (dir == HTTP_RESPONSE) wait_drop_all(p);
}

struct http_parser *http_parser_new(const struct http_config *cfg, struct http_stats *stats,
                                    const struct http_callbacks *cb, void *ud)
{
    struct http_parser *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    struct http_config def;
    http_config_default(&def);
    p->cfg = cfg ? *cfg : def;
    /* a zero field means the default, so callers can set only what they need */
    if (!p->cfg.max_header_bytes) p->cfg.max_header_bytes = def.max_header_bytes;
    if (!p->cfg.max_uri) p->cfg.max_uri = def.max_uri;
    if (!p->cfg.max_headers) p->cfg.max_headers = def.max_headers;
    if (!p->cfg.max_decoded) p->cfg.max_decoded = def.max_decoded;
    if (!p->cfg.max_ratio) p->cfg.max_ratio = def.max_ratio;
    if (!p->cfg.max_pipeline) p->cfg.max_pipeline = def.max_pipeline;
    if (!p->cfg.max_held_bytes) p->cfg.max_held_bytes = def.max_held_bytes;
    if (!p->cfg.gzip_whole_max) p->cfg.gzip_whole_max = def.gzip_whole_max;
    if (p->cfg.max_header_bytes > UINT32_MAX / 4) p->cfg.max_header_bytes = UINT32_MAX / 4;
    p->stats = stats ? stats : &p->own_stats;
    if (cb) p->cb = *cb;
    p->ud = ud;
    for (int d = 0; d < 2; d++) {
        p->half[d].p = p;
        p->half[d].dir = (enum http_dir)d;
        p->half[d].state = S_START;
    }
    return p;
}

void http_parser_free(struct http_parser *p)
{
    if (!p) return;
    http_end(p, HTTP_REQUEST, p->half[HTTP_REQUEST].ts);
    http_end(p, HTTP_RESPONSE, p->half[HTTP_RESPONSE].ts);
    /* both ends finish every side; this only guards the invariant */
    while (p->all_head) {
        struct tx_node *n = p->all_head;
        n->req_done = true;
        if (!n->resp_done)
            no_response(p, n);
        else
            tx_maybe_done(p, n);
    }
    for (int d = 0; d < 2; d++) {
        /* http_end ended every message, so no decoder is left; should one
         * be, its transaction is gone: drop it without decoding */
        p->stats->decode_held -= p->half[d].dec_reserved;
        decomp_free(p->half[d].dec);
        free(p->half[d].buf);
    }
    free(p);
}

const char *http_tx_header(const struct http_tx *tx, enum http_dir dir, const char *name)
{
    if (!tx || !name) return NULL;
    const struct http_header *hs = dir == HTTP_REQUEST ? tx->req_headers : tx->resp_headers;
    size_t n = dir == HTTP_REQUEST ? tx->n_req_headers : tx->n_resp_headers;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(hs[i].name, name) == 0) return hs[i].value;
    return NULL;
}

int http_probe(const uint8_t *data, size_t len)
{
    static const char resp[] = "HTTP/1.";
    if (!data || len == 0) return -1;
    int more = 0;
    size_t n = len < 7 ? len : 7;
    if (memcmp(data, resp, n) == 0) {
        if (len >= 7) return 1;
        more = 1;
    }
    for (size_t m = 0; m < sizeof(known_methods) / sizeof(known_methods[0]); m++) {
        size_t ml = strlen(known_methods[m]);
        size_t k = len < ml ? len : ml;
        if (memcmp(data, known_methods[m], k) != 0) continue;
        if (len <= ml) {
            more = 1;
            continue;
        }
        if (data[ml] == ' ') return 1;
    }
    return more ? -1 : 0;
}
