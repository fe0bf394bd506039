/* buf.c - growable byte buffer (see buf.h): doubling growth, reuse by reset. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void buf_grow(buf_t *b, size_t add)
{
    size_t need = b->len + add, cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap == b->cap) return;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "lh-gen: out of memory (%zu bytes)\n", cap);
        abort();
    }
    b->p = p;
    b->cap = cap;
}

void buf_free(buf_t *b)
{
    if (!b) return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void buf_fmt(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    buf_grow(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_u64(buf_t *b, uint64_t v)
{
    char tmp[24];
    int i = 24;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_put(b, tmp + i, (size_t)(24 - i));
}

void buf_dig(buf_t *b, uint64_t v, int width)
{
    char tmp[24];
    for (int i = width - 1; i >= 0; i--) {
        tmp[i] = (char)('0' + v % 10);
        v /= 10;
    }
    buf_put(b, tmp, (size_t)width);
}
