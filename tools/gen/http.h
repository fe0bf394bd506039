/* http.h - HTTP/1.1 messages as bytes: requests with caller-given header
 * lines, responses with optional gzip/deflate (zlib) and chunked transfer
 * coding, and the base64/base64url helpers identity needs.
 *
 * http_new() returns a codec context (two reusable zlib streams and a
 * scratch buffer) freed by http_free(). Out of memory aborts. */
#ifndef LH_GEN_HTTP_H
#define LH_GEN_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "rng.h"

enum { HTTP_ENC_NONE, HTTP_ENC_GZIP, HTTP_ENC_DEFLATE };

typedef struct http_ctx http_ctx;

typedef struct {
    int status;
    const char *ctype;
    int enc, chunked;
    const char *extra; /* header lines, each ending "\r\n", or NULL */
    uint64_t date;     /* us */
    const char *server;
} http_resp;

http_ctx *http_new(int level);
void http_free(http_ctx *h);

/* Appends a request. headers: lines ending "\r\n" (may be NULL). With a
 * body, Content-Type and Content-Length are added. */
void http_request(buf_t *out, const char *method, const char *target, const char *host,
                  const char *headers, const char *ctype, const uint8_t *body, size_t blen);
/* Appends a response for body, encoded as r says; chunk sizes from rng. */
void http_response(http_ctx *h, buf_t *out, const http_resp *r, const uint8_t *body, size_t blen,
                   rng_t *rng);
/* base64 (url: base64url without padding) of n bytes, appended. */
void http_b64(buf_t *out, const uint8_t *p, size_t n, int url);
/* RFC 7231 IMF-fixdate of t (us) into out (32 bytes). */
void http_date(uint64_t t, char *out);

#endif
