/* http.c - HTTP/1.1 request and response bytes (see http.h).
 *
 * A response body enters as plain bytes and leaves framed: compressed
 * first (Content-Encoding), then chunked (Transfer-Encoding), the order
 * RFC 9112 prescribes, so a decoder de-chunks then inflates. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct http_ctx {
    z_stream gz, df;
    buf_t z;
};

http_ctx *http_new(int level)
{
    http_ctx *h = calloc(1, sizeof *h);
    if (!h) abort();
    if (deflateInit2(&h->gz, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK ||
        deflateInit2(&h->df, level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        fprintf(stderr, "lh-gen: zlib init failed\n");
        abort();
    }
    return h;
}

void http_free(http_ctx *h)
{
    if (!h) return;
    deflateEnd(&h->gz);
    deflateEnd(&h->df);
    buf_free(&h->z);
    free(h);
}

void http_date(uint64_t t, char *out)
{
    static const char *const wd[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t s = (int64_t)(t / 1000000), days = s / 86400, sec = s % 86400;
    int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int y = (int)(yoe + era * 400 + (m <= 2));
    snprintf(out, 32, "%s, %02u %s %04u %02u:%02u:%02u GMT", wd[days % 7], (unsigned)d % 32u,
             mon[(m - 1) % 12], (unsigned)y % 10000u, (unsigned)(sec / 3600) % 24u,
             (unsigned)(sec / 60 % 60), (unsigned)(sec % 60));
}

void http_request(buf_t *out, const char *method, const char *target, const char *host,
                  const char *headers, const char *ctype, const uint8_t *body, size_t blen)
{
    buf_str(out, method);
    buf_ch(out, ' ');
    buf_str(out, target);
    buf_str(out, " HTTP/1.1\r\nHost: ");
    buf_str(out, host);
    buf_str(out, "\r\n");
    if (headers) buf_str(out, headers);
    if (body) {
        buf_str(out, "Content-Type: ");
        buf_str(out, ctype);
        buf_str(out, "\r\nContent-Length: ");
        buf_u64(out, blen);
        buf_str(out, "\r\n\r\n");
        buf_put(out, body, blen);
    } else {
        buf_str(out, "\r\n");
    }
}

static void body_compress(http_ctx *h, z_stream *zs, const uint8_t *p, size_t n)
{
    deflateReset(zs);
    buf_reset(&h->z);
    buf_grow(&h->z, deflateBound(zs, (uLong)n) + 64);
    zs->next_in = (Bytef *)(uintptr_t)p;
    zs->avail_in = (uInt)n;
    zs->next_out = h->z.p;
    zs->avail_out = (uInt)h->z.cap;
    if (deflate(zs, Z_FINISH) != Z_STREAM_END) {
        fprintf(stderr, "lh-gen: deflate failed\n");
        abort();
    }
    h->z.len = zs->total_out;
}

void http_response(http_ctx *h, buf_t *out, const http_resp *r, const uint8_t *body, size_t blen,
                   rng_t *rng)
{
    static const char *const reason[] = {"OK", "Not Found", "Unauthorized"};
    const char *rs = r->status == 200 ? reason[0] : r->status == 404 ? reason[1] : reason[2];
    char date[32];
    http_date(r->date, date);
    buf_fmt(out, "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\nContent-Type: %s\r\n", r->status, rs,
            r->server ? r->server : "nginx", date, r->ctype);
    if (r->enc == HTTP_ENC_GZIP) {
        body_compress(h, &h->gz, body, blen);
        body = h->z.p;
        blen = h->z.len;
        buf_str(out, "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
    } else if (r->enc == HTTP_ENC_DEFLATE) {
        body_compress(h, &h->df, body, blen);
        body = h->z.p;
        blen = h->z.len;
        buf_str(out, "Content-Encoding: deflate\r\nVary: Accept-Encoding\r\n");
    }
    if (r->extra) buf_str(out, r->extra);
    buf_str(out, "Connection: keep-alive\r\n");
    if (!r->chunked) {
        buf_str(out, "Content-Length: ");
        buf_u64(out, blen);
        buf_str(out, "\r\n\r\n");
        buf_put(out, body, blen);
        return;
    }
    buf_str(out, "Transfer-Encoding: chunked\r\n\r\n");
    size_t off = 0;
    while (off < blen) {
        /* servers flush at buffer sizes; vary them so chunk headers fall
           anywhere relative to TCP segments */
        size_t n = 256 + rng_below(rng, 8000);
        if (n > blen - off) n = blen - off;
        buf_fmt(out, "%zx\r\n", n);
        buf_put(out, body + off, n);
        buf_str(out, "\r\n");
        off += n;
    }
    buf_str(out, "0\r\n\r\n");
}

void http_b64(buf_t *out, const uint8_t *p, size_t n, int url)
{
    const char *a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        char q[4] = {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], a[v & 63]};
        buf_put(out, q, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        buf_ch(out, a[v >> 18]);
        buf_ch(out, a[(v >> 12) & 63]);
        if (i + 1 < n)
            buf_ch(out, a[(v >> 6) & 63]);
        else if (!url)
            buf_ch(out, '=');
        if (!url) buf_ch(out, '=');
    }
}
