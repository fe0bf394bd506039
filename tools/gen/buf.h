/* buf.h - a growable byte buffer for building packets' payloads, HTTP
 * messages and JSON. Buffers are reused between transactions (buf_reset
 * keeps the memory), so the steady state allocates nothing. Out of memory
 * aborts: this is an offline tool and a half-written capture is useless. */
#ifndef LH_GEN_BUF_H
#define LH_GEN_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf_t;

/* Makes room for add more bytes; aborts on allocation failure. */
void buf_grow(buf_t *b, size_t add);
/* Frees the memory; accepts a zeroed buffer. */
void buf_free(buf_t *b);
/* Appends printf-formatted text. */
void buf_fmt(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the decimal form of v. */
void buf_u64(buf_t *b, uint64_t v);
/* Appends v as exactly width digits (leading zeros). */
void buf_dig(buf_t *b, uint64_t v, int width);

static inline void buf_reset(buf_t *b)
{
    b->len = 0;
}

static inline void buf_put(buf_t *b, const void *d, size_t n)
{
    if (!n) return;
    if (b->cap - b->len < n) buf_grow(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static inline void buf_str(buf_t *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

static inline void buf_ch(buf_t *b, char c)
{
    if (b->cap == b->len) buf_grow(b, 1);
    b->p[b->len++] = (uint8_t)c;
}

#endif
